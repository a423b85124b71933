package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/containerd/errdefs"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/scheduler"
)

// newContainerCommand is `berth container`: docker's container commands on
// berth's engine, for any container of --root (compose's or not).
func (c *cli) newContainerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		c.newContainerLsCommand(),
		c.newContainerInspectCommand(),
		c.newContainerLogsCommand(),
		c.newContainerRmCommand(),
		c.newContainerStartCommand(),
		c.newContainerStopCommand(),
		c.newContainerRestartCommand(),
		c.newContainerKillCommand(),
		c.newContainerPauseCommand("pause", "Pause all processes within one or more containers"),
		c.newContainerPauseCommand("unpause", "Unpause all processes within one or more containers"),
		c.newContainerWaitCommand(),
		c.newContainerTopCommand(),
		c.newContainerExecCommand(),
		c.newContainerPruneCommand(),
	)
	return cmd
}

type containerLsOptions struct {
	all     bool
	quiet   bool
	noTrunc bool
	filters []string
	format  string
}

func (c *cli) newContainerLsCommand() *cobra.Command {
	var o containerLsOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"ps", "list"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runContainerLs(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, `Filter output based on conditions provided ("label=key[=value]", "name=…", "status=…", "id=…")`)
	f.StringVar(&o.format, "format", "", "Format output using a Go template, or \"json\"")
	return cmd
}

func (c *cli) runContainerLs(ctx context.Context, o containerLsOptions) error {
	eng, err := c.engine(ctx)
	if err != nil {
		return err
	}
	labels := map[string]string{}
	var names, statuses, ids []string
	for _, f := range o.filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("bad filter %q: use key=value: %w", f, errdefs.ErrInvalidArgument)
		}
		switch k {
		case "label":
			lk, lv, _ := strings.Cut(v, "=")
			labels[lk] = lv
		case "name":
			names = append(names, v)
		case "status":
			statuses = append(statuses, v)
		case "id":
			ids = append(ids, v)
		default:
			return fmt.Errorf("filter %q is not supported (label, name, status, id): %w", k, errdefs.ErrInvalidArgument)
		}
	}
	list, err := eng.List(ctx, engine.ListOptions{All: o.all || len(statuses) > 0, Labels: labels})
	if err != nil {
		return err
	}
	var shown []*engine.Container
	for _, ct := range list {
		if matchAny(names, func(n string) bool { return strings.Contains(ct.Name, n) }) &&
			matchAny(statuses, func(s string) bool { return string(ct.State.Status) == s }) &&
			matchAny(ids, func(id string) bool { return strings.HasPrefix(ct.ID, id) }) {
			shown = append(shown, ct)
		}
	}
	// Newest first, as docker ps.
	sort.SliceStable(shown, func(i, j int) bool { return shown[i].Created.After(shown[j].Created) })
	if o.quiet {
		for _, ct := range shown {
			fmt.Fprintln(c.stdout, shortID(ct.ID, o.noTrunc))
		}
		return nil
	}
	if o.format != "" {
		return formatEach(c.stdout, o.format, len(shown), func(i int) any { return psRow(shown[i], o.noTrunc) })
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
	for _, ct := range shown {
		r := psRow(ct, o.noTrunc)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names)
	}
	return w.Flush()
}

func matchAny(want []string, f func(string) bool) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if f(w) {
			return true
		}
	}
	return false
}

// psLine is one `container ls` line, with docker's --format field names.
type psLine struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, State, Ports, Names, Labels string
}

func psRow(ct *engine.Container, noTrunc bool) psLine {
	cmd := strings.Join(append([]string{ct.Path}, ct.Args...), " ")
	if !noTrunc {
		cmd = truncate(cmd, 20)
	}
	cmd = `"` + cmd + `"`
	var labels []string
	for k, v := range ct.Spec.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	return psLine{
		ID: shortID(ct.ID, noTrunc), Image: ct.Spec.Image, Command: cmd,
		CreatedAt:  ct.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: units.HumanDuration(time.Since(ct.Created)) + " ago",
		Status:     scheduler.StatusText(ct.State, time.Now()), State: string(ct.State.Status),
		Ports: portsText(ct.Ports), Names: ct.Name, Labels: strings.Join(labels, ","),
	}
}

func shortID(id string, noTrunc bool) string {
	if noTrunc || len(id) < 12 {
		return id
	}
	return id[:12]
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func portsText(ports []engine.PortBinding) string {
	var out []string
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", ip, p.HostPort, p.ContainerPort, proto))
	}
	return strings.Join(out, ", ")
}

// eachContainer runs fn for each name, printing each name on success as
// docker does; it reports every failure and fails if any did.
func (c *cli) eachContainer(ctx context.Context, names []string, fn func(ctx context.Context, eng *engine.Engine, name string) error) error {
	eng, err := c.engine(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if err := fn(ctx, eng, n); err != nil {
			fmt.Fprintln(c.stderr, "Error response from berth:", err)
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(c.stdout, n)
	}
	if len(errs) > 0 {
		return &exitError{code: 1, err: nil}
	}
	return nil
}
