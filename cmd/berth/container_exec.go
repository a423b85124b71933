package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/engine"
)

func (c *cli) newContainerLogsCommand() *cobra.Command {
	var (
		follow, timestamps bool
		tail, since, until string
	)
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			o := engine.LogsOptions{Follow: follow, Tail: -1}
			if tail != "all" && tail != "" {
				n, err := strconv.Atoi(tail)
				if err != nil {
					return fmt.Errorf("--tail %q: not a number: %w", tail, err)
				}
				o.Tail = n
			}
			now := time.Now()
			var err error
			if o.Since, err = parseSinceUntil(since, now); err != nil {
				return err
			}
			if o.Until, err = parseSinceUntil(until, now); err != nil {
				return err
			}
			eng, err := c.engine(ctx)
			if err != nil {
				return err
			}
			return eng.Logs(ctx, args[0], o, func(e engine.LogEntry) error {
				w := c.stdout
				if e.Stream == "stderr" {
					w = c.stderr
				}
				line := e.Line
				if !e.Partial {
					line = append(line, '\n')
				}
				if timestamps {
					fmt.Fprint(w, e.Time.UTC().Format(time.RFC3339Nano)+" ")
				}
				_, err := w.Write(line)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "Follow log output")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
	f.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	f.StringVar(&since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.StringVar(&until, "until", "", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	return cmd
}

type containerExecOptions struct {
	interactive, tty, detach, privileged bool
	env                                  []string
	user, workdir                        string
}

func (c *cli) newContainerExecCommand() *cobra.Command {
	var o containerExecOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runContainerExec(cmd.Context(), o, args[0], args[1:])
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: run command in the background")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the command")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.StringVarP(&o.user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

func (c *cli) runContainerExec(ctx context.Context, o containerExecOptions, name string, argv []string) error {
	eng, err := c.engine(ctx)
	if err != nil {
		return err
	}
	eo := engine.ExecOptions{Cmd: argv, Env: o.env, User: o.user, WorkingDir: o.workdir, Tty: o.tty,
		Interactive: o.interactive, Privileged: o.privileged, Detach: o.detach,
		Stdin: c.stdin, Stdout: c.stdout, Stderr: c.stderr}
	if o.tty {
		restore, resize := rawTerminal(c.stdin, c.stdout)
		defer restore()
		eo.Resize = resize
	}
	code, err := eng.Exec(ctx, name, eo)
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}
