package main

import (
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/mattn/go-shellwords"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/scheduler"
)

type runOptions struct {
	detach, rm, servicePorts, noDeps, noTTY, interactive, useAliases, quietPull, build, removeOrphans bool
	env, publish, volumes, labels, capAdd, capDrop                                                    []string
	user, workdir, entrypoint, name, pull                                                             string
}

func (c *cli) newRunCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] SERVICE [COMMAND] [ARGS...]",
		Short: "Run a one-off command on a service",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runRun(cmd, o, args)
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
	f.BoolVar(&o.rm, "rm", false, "Automatically remove the container when it exits")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.StringArrayVarP(&o.labels, "label", "l", nil, "Add or override a label")
	f.StringVarP(&o.user, "user", "u", "", "Run as specified username or uid")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVar(&o.entrypoint, "entrypoint", "", "Override the entrypoint of the image")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	f.BoolVarP(&o.servicePorts, "service-ports", "P", false, "Run command with all service's ports enabled and mapped to the host")
	f.BoolVar(&o.noDeps, "no-deps", false, "Don't start linked services")
	f.BoolVarP(&o.noTTY, "no-TTY", "T", false, "Disable pseudo-TTY allocation (default: auto-detected)")
	f.BoolVarP(&o.interactive, "interactive", "i", true, "Keep STDIN open even if not attached")
	f.StringVar(&o.name, "name", "", "Assign a name to the container")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "Bind mount a volume")
	f.BoolVar(&o.useAliases, "use-aliases", false, "Use the service's network useAliases in the network(s) the container connects to")
	f.StringArrayVar(&o.capAdd, "cap-add", nil, "Add Linux capabilities")
	f.StringArrayVar(&o.capDrop, "cap-drop", nil, "Drop Linux capabilities")
	f.StringVar(&o.pull, "pull", "policy", `Pull image before running ("always"|"missing"|"never")`)
	f.BoolVar(&o.quietPull, "quiet-pull", false, "Pull without printing progress information")
	f.BoolVar(&o.build, "build", false, "Build image before starting container")
	f.BoolVar(&o.removeOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	return cmd
}

func (c *cli) runRun(cmd *cobra.Command, o runOptions, args []string) error {
	ctx := cmd.Context()
	service := args[0]
	p, err := c.loadProjectFast(ctx, []string{service})
	if err != nil {
		return err
	}
	if _, ok := p.Services[service]; !ok {
		return invalidArgument("no such service: %s", service)
	}
	if o.detach && o.rm {
		// docker compose accepts it: the engine removes the container when it exits.
	}
	pull := o.pull
	if pull == "policy" {
		pull = ""
	}
	tty := !o.noTTY && display.IsTerminal(c.stdout) && isTerminalReader(c.stdin)
	opts := scheduler.RunOptions{
		Service: service, Name: o.name, Detach: o.detach, AutoRemove: o.rm, Tty: tty,
		Interactive: o.interactive && !o.detach, WorkingDir: o.workdir, User: o.user, Env: o.env,
		Publish: o.publish, ServicePorts: o.servicePorts, Volumes: o.volumes, NoDeps: o.noDeps,
		UseAliases: o.useAliases, CapAdd: o.capAdd, CapDrop: o.capDrop, QuietPull: o.quietPull, Pull: pull,
		Stdin: c.stdin, Stdout: c.stdout, Stderr: c.stderr,
	}
	if len(args) > 1 {
		opts.Command = args[1:]
	}
	if cmd.Flags().Changed("entrypoint") {
		ep, err := shellwords.Parse(o.entrypoint)
		if err != nil {
			return invalidArgument("invalid --entrypoint %q: %v", o.entrypoint, err)
		}
		opts.Entrypoint, opts.EntrypointSet = ep, true
		if opts.Entrypoint == nil {
			opts.Entrypoint = []string{}
		}
	}
	if len(o.labels) > 0 {
		opts.Labels = map[string]string{}
		for k, v := range types.NewMappingWithEquals(o.labels) {
			if v != nil {
				opts.Labels[k] = *v
			} else {
				opts.Labels[k] = ""
			}
		}
	}
	if o.build {
		return notImplemented("berth run --build: berth does not build images yet")
	}
	b, err := c.backend(ctx, "Running")
	if err != nil {
		return err
	}
	defer b.Close()
	opts.OnCreated = func(name string) {
		b.display.Close() // the command's own output follows
		if o.detach {
			fmt.Fprintln(c.stdout, name)
		}
	}
	if tty {
		restore, resize := rawTerminal(c.stdin, c.stdout)
		defer restore()
		opts.Resize = resize
	}
	return exitStatus(b.Run(ctx, p, opts))
}

var _ = strings.TrimSpace
