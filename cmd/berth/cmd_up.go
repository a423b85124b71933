package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/scheduler"
)

// upOptions are up's flags, as docker compose's.
type upOptions struct {
	detach, build, noBuild, forceRecreate, noRecreate, alwaysRecreateDeps   bool
	noDeps, noStart, wait, abortOnExit, abortOnFailure, removeOrphans       bool
	quietPull, yes, noColor, noLogPrefix, timestamps, renewAnon, attachDeps bool
	pull, exitCodeFrom                                                      string
	waitTimeout, timeout                                                    int
	attach, noAttach, scale                                                 []string
}

func (c *cli) newUpCommand() *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:   "up [OPTIONS] [SERVICE...]",
		Short: "Create and start containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runUp(cmd, o, args)
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: Run containers in the background")
	f.BoolVar(&o.build, "build", false, "Build images before starting containers")
	f.BoolVar(&o.noBuild, "no-build", false, "Don't build an image, even if it's policy")
	f.StringVar(&o.pull, "pull", "policy", `Pull image before running ("always"|"missing"|"never")`)
	f.BoolVar(&o.forceRecreate, "force-recreate", false, "Recreate containers even if their configuration and image haven't changed")
	f.BoolVar(&o.noRecreate, "no-recreate", false, "If containers already exist, don't recreate them. Incompatible with --force-recreate.")
	f.BoolVar(&o.alwaysRecreateDeps, "always-recreate-deps", false, "Recreate dependent containers. Incompatible with --no-recreate.")
	f.BoolVar(&o.noDeps, "no-deps", false, "Don't start linked services")
	f.BoolVar(&o.noStart, "no-start", false, "Don't start the services after creating them")
	f.BoolVar(&o.wait, "wait", false, "Wait for services to be running|healthy. Implies detached mode.")
	f.IntVar(&o.waitTimeout, "wait-timeout", 0, "Maximum duration in seconds to wait for the project to be running|healthy")
	f.BoolVar(&o.abortOnExit, "abort-on-container-exit", false, "Stops all containers if any container was stopped. Incompatible with -d")
	f.BoolVar(&o.abortOnFailure, "abort-on-container-failure", false, "Stops all containers if any container exited with failure. Incompatible with -d")
	f.StringVar(&o.exitCodeFrom, "exit-code-from", "", "Return the exit code of the selected service container. Implies --abort-on-container-exit")
	f.StringArrayVar(&o.attach, "attach", nil, "Restrict attaching to the specified services. Incompatible with --attach-dependencies.")
	f.StringArrayVar(&o.noAttach, "no-attach", nil, "Do not attach (stream logs) to the specified services")
	f.BoolVar(&o.attachDeps, "attach-dependencies", false, "Automatically attach to log output of dependent services")
	f.StringArrayVar(&o.scale, "scale", nil, "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.")
	f.BoolVar(&o.removeOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	f.IntVarP(&o.timeout, "timeout", "t", 0, "Use this timeout in seconds for container shutdown when attached or when containers are already running")
	f.BoolVar(&o.quietPull, "quiet-pull", false, "Pull without printing progress information")
	f.BoolVarP(&o.yes, "yes", "y", false, `Assume "yes" as answer to all prompts and run non-interactively`)
	f.BoolVar(&o.noColor, "no-color", false, "Produce monochrome output")
	f.BoolVar(&o.noLogPrefix, "no-log-prefix", false, "Don't print prefix in logs")
	f.BoolVar(&o.timestamps, "timestamps", false, "Show timestamps")
	f.BoolVarP(&o.renewAnon, "renew-anon-volumes", "V", false, "Recreate anonymous volumes instead of retrieving data from the previous containers")
	return cmd
}

func (c *cli) runUp(cmd *cobra.Command, o upOptions, services []string) error {
	ctx := cmd.Context()
	switch {
	case o.forceRecreate && o.noRecreate:
		return invalidArgument("--force-recreate and --no-recreate are incompatible")
	case o.alwaysRecreateDeps && o.noRecreate:
		return invalidArgument("--always-recreate-deps and --no-recreate are incompatible")
	case o.build && o.noBuild:
		return invalidArgument("--build and --no-build are incompatible")
	case o.exitCodeFrom != "":
		o.abortOnExit = true
	}
	if o.wait {
		o.detach = true
	}
	if o.detach && (o.abortOnExit || o.abortOnFailure) {
		return invalidArgument("--abort-on-container-exit and --detach are incompatible")
	}
	if o.abortOnExit && o.abortOnFailure {
		return invalidArgument("--abort-on-container-exit and --abort-on-container-failure are incompatible")
	}
	if len(o.attach) > 0 && o.attachDeps {
		return invalidArgument("--attach and --attach-dependencies are incompatible")
	}
	pull := o.pull
	switch pull {
	case "policy":
		pull = ""
	case scheduler.PullAlways, scheduler.PullMissing, scheduler.PullNever, "":
	default:
		return invalidArgument("invalid --pull option %q", o.pull)
	}

	b, err := c.backend(ctx, "Running")
	if err != nil {
		return err
	}
	defer b.Close()
	if !c.opts.DryRun {
		b.Prepare(ctx) // the sweep overlaps loading the project
	}
	p, err := c.loadProjectFast(ctx, services)
	if err != nil {
		return err
	}
	if o.noDeps && len(services) > 0 {
		if p, err = p.WithSelectedServices(services, types.IgnoreDependencies); err != nil {
			return err
		}
	}
	if err := applyScale(p, o.scale); err != nil {
		return err
	}
	if o.exitCodeFrom != "" {
		if _, ok := p.Services[o.exitCodeFrom]; !ok {
			return invalidArgument("no such service: %s", o.exitCodeFrom)
		}
	}

	recreate, deps := scheduler.RecreateDiverged, scheduler.RecreateDiverged
	switch {
	case o.forceRecreate:
		recreate = scheduler.RecreateForce
	case o.noRecreate:
		recreate, deps = scheduler.RecreateNever, scheduler.RecreateNever
	}
	if o.alwaysRecreateDeps {
		deps = scheduler.RecreateForce
	}
	timeout := timeoutFlag(cmd.Flags().Changed("timeout"), o.timeout)
	opts := scheduler.UpOptions{
		Create: scheduler.CreateOptions{
			Services: services, Recreate: recreate, RecreateDependencies: deps,
			RemoveOrphans: o.removeOrphans, Pull: pull, QuietPull: o.quietPull,
			Build: o.build, NoBuild: o.noBuild, Timeout: timeout, DryRun: c.opts.DryRun,
			RenewAnonVolumes: o.renewAnon, AssumeYes: o.yes, Confirm: c.confirmer(b.display),
		},
		Start: scheduler.StartOptions{
			NoStart: o.noStart, Wait: o.wait, WaitTimeout: time.Duration(o.waitTimeout) * time.Second,
			ExitCodeFrom: o.exitCodeFrom, Timeout: timeout, NoAttach: o.noAttach,
		},
	}
	if _, ok := c.getenv("COMPOSE_IGNORE_ORPHANS"); ok {
		v, _ := c.getenv("COMPOSE_IGNORE_ORPHANS")
		opts.Create.IgnoreOrphans, _ = strconv.ParseBool(v)
	}
	switch {
	case o.abortOnExit:
		opts.Start.OnExit = scheduler.CascadeStop
	case o.abortOnFailure:
		opts.Start.OnExit = scheduler.CascadeFail
	}

	if !o.detach && !o.noStart && !c.opts.DryRun {
		attachTo := o.attach
		if len(attachTo) == 0 && len(services) > 0 && !o.attachDeps {
			attachTo = services
		}
		opts.Start.AttachTo = attachTo
		printer := display.NewLogPrinter(c.stdout, c.stdout, display.LogOptions{
			Color:      !o.noColor && !c.opts.NoColor && display.UseColor(c.stdout, c.opts.Ansi),
			Prefix:     !o.noLogPrefix,
			Timestamps: o.timestamps,
			Project:    p.Name,
		})
		opts.Start.Attach = printer
		opts.Start.OnAttach = func(names []string) {
			b.display.Close()
			fmt.Fprintf(c.stdout, "Attaching to %s\n", strings.Join(names, ", "))
		}
		kill := make(chan struct{})
		opts.Start.Kill = kill
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		go func() {
			n := 0
			for range sigs {
				if n++; n == 2 {
					close(kill)
					return
				}
			}
		}()
		opts.Start.OnStopping = func() {
			fmt.Fprintln(c.stdout, "Gracefully Stopping... press Ctrl+C again to force")
		}
	}
	return exitStatus(b.Up(ctx, p, opts))
}

// applyScale applies --scale SERVICE=N to the project.
func applyScale(p *types.Project, scales []string) error {
	for _, s := range scales {
		name, num, ok := strings.Cut(s, "=")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 0 {
			return invalidArgument("invalid --scale value %q: use SERVICE=NUM", s)
		}
		if err := setReplicas(p, name, n); err != nil {
			return err
		}
	}
	return nil
}

// setReplicas sets a service's replica count, as its `scale` and its
// `deploy.replicas`.
func setReplicas(p *types.Project, name string, n int) error {
	svc, ok := p.Services[name]
	if !ok {
		return invalidArgument("no such service: %s", name)
	}
	svc.Scale = &n
	if svc.Deploy != nil {
		d := *svc.Deploy
		d.Replicas = &n
		svc.Deploy = &d
	}
	p.Services[name] = svc
	return nil
}
