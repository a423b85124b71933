package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/engine"
)

func (c *cli) newContainerRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more containers",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd.Context(), args, func(ctx context.Context, eng *engine.Engine, n string) error {
				// Remove treats a container that is gone as removed; the
				// CLI says so, as docker does.
				if _, err := eng.Inspect(ctx, n); err != nil {
					return err
				}
				return eng.Remove(ctx, n, engine.RemoveOptions{Force: force})
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	return cmd
}

func (c *cli) newContainerStartCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "start CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd.Context(), args, func(ctx context.Context, eng *engine.Engine, n string) error {
				return eng.Start(ctx, n)
			})
		},
	}
}

type stopFlags struct {
	timeout int
	signal  string
}

func (f *stopFlags) add(cmd *cobra.Command) {
	cmd.Flags().IntVarP(&f.timeout, "timeout", "t", -2, "Seconds to wait before killing the container")
	cmd.Flags().StringVarP(&f.signal, "signal", "s", "", "Signal to send to the container")
}

func (f *stopFlags) options() engine.StopOptions {
	o := engine.StopOptions{Signal: f.signal}
	if f.timeout != -2 {
		d := time.Duration(f.timeout) * time.Second
		o.Timeout = &d
	}
	return o
}

func (c *cli) newContainerStopCommand() *cobra.Command {
	var f stopFlags
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd.Context(), args, func(ctx context.Context, eng *engine.Engine, n string) error {
				res, err := eng.Stop(ctx, n, f.options())
				if err == nil && res.Killed && res.Reason != "" {
					fmt.Fprintf(c.stderr, "%s: killed: %s\n", n, res.Reason)
				}
				return err
			})
		},
	}
	f.add(cmd)
	return cmd
}

func (c *cli) newContainerRestartCommand() *cobra.Command {
	var f stopFlags
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd.Context(), args, func(ctx context.Context, eng *engine.Engine, n string) error {
				if _, err := eng.Stop(ctx, n, f.options()); err != nil {
					return err
				}
				return eng.Start(ctx, n)
			})
		},
	}
	f.add(cmd)
	return cmd
}

func (c *cli) newContainerKillCommand() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd.Context(), args, func(ctx context.Context, eng *engine.Engine, n string) error {
				return eng.Kill(ctx, n, signal)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}

func (c *cli) newContainerPauseCommand(op, short string) *cobra.Command {
	return &cobra.Command{
		Use:   op + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd.Context(), args, func(ctx context.Context, eng *engine.Engine, n string) error {
				if op == "pause" {
					return eng.Pause(ctx, n)
				}
				return eng.Unpause(ctx, n)
			})
		},
	}
}

func (c *cli) newContainerWaitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			eng, err := c.engine(ctx)
			if err != nil {
				return err
			}
			failed := false
			for _, n := range args {
				code, err := eng.Wait(ctx, n)
				if err != nil {
					fmt.Fprintln(c.stderr, "Error response from berth:", err)
					failed = true
					continue
				}
				fmt.Fprintln(c.stdout, code)
			}
			if failed {
				return &exitError{code: 1}
			}
			return nil
		},
	}
}

func (c *cli) newContainerTopCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "Display the running processes of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			eng, err := c.engine(ctx)
			if err != nil {
				return err
			}
			titles, rows, err := eng.Top(ctx, args[0])
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.stdout, 0, 0, 4, ' ', 0)
			fmt.Fprintln(w, strings.Join(titles, "\t"))
			for _, r := range rows {
				fmt.Fprintln(w, strings.Join(r, "\t"))
			}
			return w.Flush()
		},
	}
}

func (c *cli) newContainerPruneCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !force {
				return fmt.Errorf("this removes all stopped containers: confirm with --force: %w", errdefs.ErrInvalidArgument)
			}
			eng, err := c.engine(ctx)
			if err != nil {
				return err
			}
			if err := eng.Sweep(ctx); err != nil {
				fmt.Fprintln(c.stderr, "sweep:", err)
			}
			list, err := eng.List(ctx, engine.ListOptions{All: true})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, "Deleted Containers:")
			for _, ct := range list {
				if ct.State.Running || ct.State.Restarting {
					continue
				}
				if err := eng.Remove(ctx, ct.ID, engine.RemoveOptions{}); err != nil {
					fmt.Fprintln(c.stderr, err)
					continue
				}
				fmt.Fprintln(c.stdout, ct.ID)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

// parseSinceUntil reads docker's --since/--until: RFC 3339, a Unix
// timestamp, or a duration before now ("10m").
func parseSinceUntil(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	sec, frac, _ := strings.Cut(s, ".")
	if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
		ns := int64(0)
		if frac != "" {
			frac = (frac + "000000000")[:9]
			ns, _ = strconv.ParseInt(frac, 10, 64)
		}
		return time.Unix(n, ns), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use RFC 3339, a Unix timestamp or a duration such as 10m: %w", s, errdefs.ErrInvalidArgument)
}
