package main

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/scheduler"
)

type execOptions struct {
	detach, noTTY, privileged, interactive bool
	env                                    []string
	user, workdir                          string
	index                                  int
}

func (c *cli) newExecCommand() *cobra.Command {
	var o execOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] SERVICE COMMAND [ARGS...]",
		Short: "Execute a command in a running container",
		Args:  requiresMinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			name, b, err := c.projectBackend(ctx, "Running")
			if err != nil {
				return err
			}
			b.Close() // exec shows no progress
			tty := !o.noTTY && display.IsTerminal(c.stdout) && isTerminalReader(c.stdin)
			opts := scheduler.ExecOptions{Service: args[0], Index: o.index, Command: args[1:], Env: o.env,
				User: o.user, WorkingDir: o.workdir, Tty: tty, Interactive: o.interactive, Privileged: o.privileged,
				Detach: o.detach, Stdout: c.stdout, Stderr: c.stderr}
			if o.interactive && !o.detach {
				opts.Stdin = c.stdin
			}
			if tty {
				restore, resize := rawTerminal(c.stdin, c.stdout)
				defer restore()
				opts.Resize = resize
			}
			return exitStatus(b.Exec(ctx, name, opts))
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: Run command in the background")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.IntVar(&o.index, "index", 0, "Index of the container if service has multiple replicas")
	f.BoolVarP(&o.noTTY, "no-tty", "T", false, "Disable pseudo-TTY allocation. By default 'exec' allocates a TTY.")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the process")
	f.StringVarP(&o.user, "user", "u", "", "Run the command as this user")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Path to workdir directory for this command")
	f.BoolVarP(&o.interactive, "interactive", "i", true, "Keep STDIN open even if not attached")
	return cmd
}

func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// rawTerminal puts stdin in raw mode (when it is a terminal) and reports
// the terminal's size now and on every SIGWINCH; restore undoes both.
func rawTerminal(stdin io.Reader, stdout io.Writer) (restore func(), resize <-chan scheduler.WinSize) {
	in, _ := stdin.(*os.File)
	out, _ := stdout.(*os.File)
	ch := make(chan scheduler.WinSize, 1)
	var old *term.State
	if in != nil && term.IsTerminal(int(in.Fd())) {
		old, _ = term.MakeRaw(int(in.Fd()))
	}
	send := func() {
		if out == nil {
			return
		}
		if w, h, err := term.GetSize(int(out.Fd())); err == nil {
			select {
			case ch <- scheduler.WinSize{Rows: uint16(h), Cols: uint16(w)}:
			default:
			}
		}
	}
	send()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sig:
				send()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
		if old != nil {
			_ = term.Restore(int(in.Fd()), old)
		}
	}, ch
}
