package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/scheduler"
)

// watchOptions are watch's flags, as docker compose's.
type watchOptions struct {
	quiet, prune, noUp bool
}

func (c *cli) newWatchCommand() *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch [SERVICE...]",
		Short: "Watch build context for service and rebuild/refresh containers when files are updated",
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runWatch(cmd.Context(), o, args)
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.BoolVar(&o.quiet, "quiet", false, "hide build output")
	f.BoolVar(&o.prune, "prune", true, "Prune dangling images on rebuild")
	f.BoolVar(&o.noUp, "no-up", false, "Do not build & start services before watching")
	return cmd
}

// runWatch checks the develop.watch rules and takes the project's watch
// lock, brings the services up detached (unless --no-up), then watches
// until Ctrl-C, which ends it with status 130 as docker compose's.
// Unlike docker compose, a project without watch rules is refused before
// anything is started. --prune has no effect: berth does not rebuild.
func (c *cli) runWatch(ctx context.Context, o watchOptions, services []string) error {
	if c.opts.DryRun {
		return invalidArgument("berth watch does not support --dry-run: it would watch without applying anything")
	}
	p, err := c.loadProjectFast(ctx, services)
	if err != nil {
		return err
	}
	// The watch's own restarts print nothing but its lines, as docker
	// compose's: its backend has no progress display.
	quiet := *c
	quiet.opts.Progress = display.ModeQuiet
	wb, err := quiet.backend(ctx, "")
	if err != nil {
		return err
	}
	defer wb.Close()
	w, err := wb.NewWatch(ctx, p, scheduler.WatchOptions{
		Log:    &watchLog{out: c.stdout, err: c.stderr},
		Stdout: c.stdout, Stderr: c.stderr,
	})
	if err != nil {
		return err
	}
	defer w.Close()

	if !o.noUp {
		b, err := c.backend(ctx, "Running")
		if err != nil {
			return err
		}
		err = b.Up(ctx, p, scheduler.UpOptions{Create: scheduler.CreateOptions{
			Services: services, Recreate: scheduler.RecreateDiverged,
			RecreateDependencies: scheduler.RecreateNever, QuietPull: o.quiet,
		}})
		b.Close()
		if ctx.Err() != nil {
			return &exitError{code: 130}
		}
		if err != nil {
			return exitStatus(err)
		}
	}
	err = w.Run(ctx)
	if ctx.Err() != nil {
		return &exitError{code: 130}
	}
	return err
}

// watchLog prints watch's lines: progress on standard output, errors on
// standard error, as docker compose's log consumer does for watch.
type watchLog struct {
	mu       sync.Mutex
	out, err io.Writer
}

func (l *watchLog) Log(msg string) { l.print(l.out, msg) }
func (l *watchLog) Err(msg string) { l.print(l.err, msg) }

func (l *watchLog) print(w io.Writer, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(w, msg)
}
