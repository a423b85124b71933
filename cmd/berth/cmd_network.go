package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/network"
)

// newNetworkCommand is `berth network`, docker's `docker network` group over
// berth's bridge networks.
func (c *cli) newNetworkCommand() *cobra.Command {
	return resourceGroup("network COMMAND", "Manage networks",
		c.newNetworkCreateCommand(),
		c.newNetworkInspectCommand(),
		c.newNetworkLsCommand(),
		c.newNetworkPruneCommand(),
		c.newNetworkRmCommand(),
	)
}

// completeNetworkNames completes network names.
func (c *cli) completeNetworkNames() cobra.CompletionFunc {
	return completeNames(c.listNetworks, func(n *network.Network) string { return n.Name })
}

// listNetworks lists all the networks.
func (c *cli) listNetworks(ctx context.Context) ([]*network.Network, error) {
	m, err := c.networks()
	if err != nil {
		return nil, err
	}
	return m.List(ctx, nil)
}

// findNetwork is the network name (or ID), with docker's message when
// there is none.
func findNetwork(ctx context.Context, m *network.Manager, name string) (*network.Network, error) {
	n, err := m.Inspect(ctx, name)
	if errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err) {
		return nil, &kindError{msg: "network " + name + " not found", kind: errdefs.ErrNotFound}
	}
	return n, err
}

// networkCreateOptions are `network create`'s flags.
type networkCreateOptions struct {
	driver, subnet, gateway, ipRange string
	internal, ipv6                   bool
	labels, opts                     []string
}

// newNetworkCreateCommand is `network create`.
func (c *cli) newNetworkCreateCommand() *cobra.Command {
	var o networkCreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return invalidArgument("\"network create\" requires exactly 1 argument")
			}
			return c.runNetworkCreate(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.driver, "driver", "d", "bridge", "Driver to manage the Network")
	f.StringVar(&o.subnet, "subnet", "", "Subnet in CIDR format that represents a network segment")
	f.StringVar(&o.gateway, "gateway", "", "IPv4 or IPv6 Gateway for the master subnet")
	f.StringVar(&o.ipRange, "ip-range", "", "Allocate container ip from a sub-range")
	f.BoolVar(&o.internal, "internal", false, "Restrict external access to the network")
	f.BoolVar(&o.ipv6, "ipv6", false, "Enable or disable IPv6 networking")
	f.StringArrayVar(&o.labels, "label", nil, "Set metadata on a network")
	f.StringArrayVarP(&o.opts, "opt", "o", nil, "Set driver specific options")
	return cmd
}

// runNetworkCreate creates the network name and prints its ID; a name
// already taken is an error.
func (c *cli) runNetworkCreate(ctx context.Context, name string, o networkCreateOptions) error {
	opts, err := optionMap(o.opts, "")
	if err != nil {
		return err
	}
	spec := network.Spec{Name: name, Driver: o.driver, Internal: o.internal, EnableIPv6: o.ipv6,
		Labels: labelMap(o.labels), Options: opts}
	if o.subnet != "" || o.gateway != "" || o.ipRange != "" {
		spec.IPAM = []network.IPAMConfig{{Subnet: o.subnet, Gateway: o.gateway, IPRange: o.ipRange}}
	}
	m, err := c.networks()
	if err != nil {
		return err
	}
	if _, err := m.Inspect(ctx, name); err == nil {
		return &kindError{msg: "network with name " + name + " already exists", kind: errdefs.ErrAlreadyExists}
	}
	n, err := m.Create(ctx, spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, n.ID)
	return nil
}

// inspectNetwork is `network inspect`'s JSON, docker's shape and key order.
type inspectNetwork struct {
	Name       string                     `json:"Name"`
	ID         string                     `json:"Id"`
	Created    string                     `json:"Created"`
	Scope      string                     `json:"Scope"`
	Driver     string                     `json:"Driver"`
	EnableIPv6 bool                       `json:"EnableIPv6"`
	IPAM       inspectIPAM                `json:"IPAM"`
	Internal   bool                       `json:"Internal"`
	Attachable bool                       `json:"Attachable"`
	Ingress    bool                       `json:"Ingress"`
	ConfigFrom map[string]string          `json:"ConfigFrom"`
	ConfigOnly bool                       `json:"ConfigOnly"`
	Containers map[string]inspectEndpoint `json:"Containers"`
	Options    map[string]string          `json:"Options"`
	Labels     map[string]string          `json:"Labels"`
}

// inspectIPAM is inspectNetwork's IPAM.
type inspectIPAM struct {
	Driver  string              `json:"Driver"`
	Options map[string]string   `json:"Options"`
	Config  []map[string]string `json:"Config"`
}

// inspectEndpoint is a container in inspectNetwork's Containers.
type inspectEndpoint struct {
	Name        string `json:"Name"`
	EndpointID  string `json:"EndpointID"`
	MacAddress  string `json:"MacAddress"`
	IPv4Address string `json:"IPv4Address"`
	IPv6Address string `json:"IPv6Address"`
}

// toInspectNetwork is n as `network inspect` prints it.
func toInspectNetwork(n *network.Network) inspectNetwork {
	in := inspectNetwork{
		Name: n.Name, ID: n.ID, Created: n.Created.Local().Format(time.RFC3339Nano), Scope: "local", Driver: n.Driver,
		EnableIPv6: n.EnableIPv6, Internal: n.Internal, Attachable: false,
		IPAM:       inspectIPAM{Driver: "default"},
		ConfigFrom: map[string]string{"Network": ""},
		Containers: map[string]inspectEndpoint{},
		Options:    map[string]string{"com.docker.network.bridge.name": n.Bridge},
		Labels:     map[string]string{},
	}
	maps.Copy(in.Options, n.Options)
	maps.Copy(in.Labels, n.Labels)
	cfg := map[string]string{"Subnet": n.Subnet, "Gateway": n.Gateway}
	if n.IPRange != "" {
		cfg["IPRange"] = n.IPRange
	}
	in.IPAM.Config = append(in.IPAM.Config, cfg)
	if n.IPv6Subnet != "" {
		in.IPAM.Config = append(in.IPAM.Config, map[string]string{"Subnet": n.IPv6Subnet, "Gateway": n.IPv6Gateway})
	}
	for _, e := range n.Containers {
		ep := inspectEndpoint{Name: e.ContainerName, EndpointID: e.HostVeth, MacAddress: e.MAC}
		if e.IPv4 != "" {
			ep.IPv4Address = e.IPv4 + "/" + strconv.Itoa(e.PrefixLen)
		}
		if e.IPv6 != "" {
			ep.IPv6Address = e.IPv6 + "/" + strconv.Itoa(e.IPv6PrefixLen)
		}
		in.Containers[e.ContainerID] = ep
	}
	return in
}

// newNetworkInspectCommand is `network inspect`.
func (c *cli) newNetworkInspectCommand() *cobra.Command {
	return inspectCommand(&cobra.Command{
		Use:               "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short:             "Display detailed information on one or more networks",
		ValidArgsFunction: c.completeNetworkNames(),
	}, c.runNetworkInspect)
}

// runNetworkInspect prints the networks as docker's JSON array, or each
// through a template; missing networks are reported after the others.
func (c *cli) runNetworkInspect(ctx context.Context, format string, names []string) error {
	m, err := c.networks()
	if err != nil {
		return err
	}
	return inspectEach(ctx, c.stdout, format, names, func(ctx context.Context, name string) (inspectNetwork, error) {
		n, err := findNetwork(ctx, m, name)
		if err != nil {
			return inspectNetwork{}, err
		}
		return toInspectNetwork(n), nil
	})
}

// networkLsOptions are `network ls`'s flags.
type networkLsOptions struct {
	filters []string
	format  string
	quiet   bool
	noTrunc bool
}

// newNetworkLsCommand is `network ls`.
func (c *cli) newNetworkLsCommand() *cobra.Command {
	var o networkLsOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runNetworkLs(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Provide filter values (e.g. \"driver=bridge\")")
	f.StringVar(&o.format, "format", "", formatHelpList)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display network IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate the output")
	return cmd
}

// networkMatch applies docker's network filters (values of one key OR'd,
// keys AND'd).
func networkMatch(f filterArgs, n *network.Network) (bool, error) {
	ok := f.matchName(n.Name) &&
		f.anyOf("id", func(s string) bool { return strings.HasPrefix(n.ID, s) }) &&
		f.anyOf("driver", func(s string) bool { return s == n.Driver }) &&
		f.anyOf("scope", func(s string) bool { return s == "local" }) &&
		f.anyOf("type", func(s string) bool { return s == "custom" }) &&
		f.matchLabels(n.Labels)
	if !ok {
		return false, nil
	}
	for _, s := range f["dangling"] {
		want, err := strconv.ParseBool(s)
		if err != nil {
			return false, invalidArgument("invalid filter 'dangling=%s'", s)
		}
		if want != (len(n.Containers) == 0) {
			return false, nil
		}
	}
	return true, nil
}

// runNetworkLs prints the networks that pass the filters: docker's
// table, IDs (-q), JSON lines or a template.
func (c *cli) runNetworkLs(ctx context.Context, o networkLsOptions) error {
	f, err := parseFilters(o.filters, "dangling", "driver", "id", "label", "label!", "name", "scope", "type")
	if err != nil {
		return err
	}
	all, err := c.listNetworks(ctx)
	if err != nil {
		return err
	}
	nets, err := matching(all, func(n *network.Network) (bool, error) { return networkMatch(f, n) })
	if err != nil {
		return err
	}
	rows := make([]networkRow, len(nets))
	for i, n := range nets {
		rows[i] = networkRow{n: n, trunc: !o.noTrunc}
	}
	return writeNetworks(c.stdout, o.format, o.quiet, rows)
}

// writeNetworks prints rows as docker's network formatter does: format
// "table" (or empty), "json" (one object a line), a Go template, or
// "table <template>" (with a header line); quiet prints IDs only (with
// the table or empty format). The columns are aligned in every format.
func writeNetworks(w io.Writer, format string, quiet bool, rows []networkRow) error {
	switch {
	case format == "json":
		return writeJSONLines(w, rows, func(r networkRow) map[string]string {
			return map[string]string{"CreatedAt": r.CreatedAt(), "Driver": r.Driver(), "ID": r.ID(),
				"IPv6": r.IPv6(), "Internal": r.Internal(), "Labels": r.Labels(), "Name": r.Name(), "Scope": r.Scope()}
		})
	case quiet && (format == "" || format == "table"):
		format = "{{.ID}}"
	case format == "" || format == "table":
		format = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
	}
	table := strings.HasPrefix(format, "table ")
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(strings.TrimPrefix(format, "table "))
	tmpl, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return invalidArgument("template parsing error: %v", err)
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	if table {
		if err := tmpl.Execute(tw, networkHeader{}); err != nil {
			return invalidArgument("template: %v", err)
		}
		fmt.Fprintln(tw)
	}
	for _, r := range rows {
		if err := tmpl.Execute(tw, r); err != nil {
			return invalidArgument("template: %v", err)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// networkRow is a network as `network ls --format` templates see it.
type networkRow struct {
	n     *network.Network
	trunc bool
}

// ID is the network's ID, shortened to 12 characters unless --no-trunc.
func (r networkRow) ID() string {
	if r.trunc && len(r.n.ID) > 12 {
		return r.n.ID[:12]
	}
	return r.n.ID
}

// Name is the network's name.
func (r networkRow) Name() string { return r.n.Name }

// Driver is the network's driver.
func (r networkRow) Driver() string { return r.n.Driver }

// Scope is always "local".
func (r networkRow) Scope() string { return "local" }

// IPv6 is whether the network has IPv6, "true" or "false".
func (r networkRow) IPv6() string { return strconv.FormatBool(r.n.EnableIPv6) }

// Internal is whether the network is internal, "true" or "false".
func (r networkRow) Internal() string { return strconv.FormatBool(r.n.Internal) }

// Label is the value of the label k.
func (r networkRow) Label(k string) string { return r.n.Labels[k] }

// CreatedAt is when the network was created, in docker's format.
func (r networkRow) CreatedAt() string {
	return r.n.Created.Local().Format("2006-01-02 15:04:05.999999999 -0700 MST")
}

// Labels is "k=v,k2=v2", sorted by key.
func (r networkRow) Labels() string { return joinLabels(r.n.Labels) }

// networkHeader gives a table template's column titles, as docker's.
type networkHeader struct{}

func (networkHeader) ID() string          { return "NETWORK ID" }
func (networkHeader) Name() string        { return "NAME" }
func (networkHeader) Driver() string      { return "DRIVER" }
func (networkHeader) Scope() string       { return "SCOPE" }
func (networkHeader) IPv6() string        { return "IPV6" }
func (networkHeader) Internal() string    { return "INTERNAL" }
func (networkHeader) Labels() string      { return "LABELS" }
func (networkHeader) Label(string) string { return "LABEL" }
func (networkHeader) CreatedAt() string   { return "CREATED AT" }

// newNetworkRmCommand is `network rm`.
func (c *cli) newNetworkRmCommand() *cobra.Command {
	return removeCommand(&cobra.Command{
		Use:               "rm NETWORK [NETWORK...]",
		Short:             "Remove one or more networks",
		ValidArgsFunction: c.completeNetworkNames(),
	}, "Do not error if the network does not exist", c.runNetworkRm)
}

// runNetworkRm removes each network, printing its name; the errors are
// reported together at the end, as docker's.
func (c *cli) runNetworkRm(ctx context.Context, force bool, names []string) error {
	m, err := c.networks()
	if err != nil {
		return err
	}
	find := func(ctx context.Context, name string) error {
		_, err := findNetwork(ctx, m, name)
		return err
	}
	remove := func(ctx context.Context, name string) error {
		if err := m.Remove(ctx, name); err != nil {
			return fmt.Errorf("error while removing network: %w", err)
		}
		return nil
	}
	return removeEach(ctx, c.stdout, names, force, find, remove)
}

// newNetworkPruneCommand is `network prune`.
func (c *cli) newNetworkPruneCommand() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runNetworkPrune(cmd.Context(), force, filters)
		},
	}
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (e.g. \"until=<timestamp>\")")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

// runNetworkPrune removes the networks no live container uses.
func (c *cli) runNetworkPrune(ctx context.Context, force bool, filters []string) error {
	f, err := parseFilters(filters, "label", "label!", "until")
	if err != nil {
		return err
	}
	var until time.Time
	for _, s := range f["until"] {
		if d, err := time.ParseDuration(s); err == nil {
			until = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			until = t
		} else {
			return invalidArgument("invalid filter 'until=%s'", s)
		}
	}
	delete(f, "until")
	if !force && !c.confirmPrune("WARNING! This will remove all custom networks not used by at least one container.") {
		return nil
	}
	m, err := c.networks()
	if err != nil {
		return err
	}
	all, err := m.List(ctx, nil)
	if err != nil {
		return err
	}
	var removed []string
	var errs []error
	for _, n := range all {
		if ok, _ := networkMatch(f, n); !ok || (!until.IsZero() && !n.Created.Before(until)) {
			continue
		}
		if err := m.Remove(ctx, n.Name); err != nil {
			if !errdefs.IsConflict(err) { // in use: kept, as docker does
				errs = append(errs, err)
			}
			continue
		}
		removed = append(removed, n.Name)
	}
	printDeleted(c.stdout, "Deleted Networks:", removed)
	return errors.Join(errs...)
}
