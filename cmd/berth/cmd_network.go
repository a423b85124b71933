package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
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
	cmd := &cobra.Command{
		Use:   "network COMMAND",
		Short: "Manage networks",
	}
	cmd.AddCommand(
		c.newNetworkCreateCommand(),
		c.newNetworkInspectCommand(),
		c.newNetworkLsCommand(),
		c.newNetworkPruneCommand(),
		c.newNetworkRmCommand(),
	)
	for _, sub := range cmd.Commands() {
		freeShorthandF(sub)
	}
	return cmd
}

func (c *cli) completeNetworkNames(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	m, err := c.networks()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	nets, err := m.List(cmd.Context(), nil)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, n := range nets {
		out = append(out, n.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// noSuchNetwork is docker's message for a missing network.
func noSuchNetwork(name string) error {
	return &kindError{msg: "network " + name + " not found", kind: errdefs.ErrNotFound}
}

type networkCreateOptions struct {
	driver, subnet, gateway, ipRange string
	internal, ipv6                   bool
	labels, opts                     []string
}

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

func (c *cli) runNetworkCreate(ctx context.Context, name string, o networkCreateOptions) error {
	spec := network.Spec{Name: name, Driver: o.driver, Internal: o.internal, EnableIPv6: o.ipv6,
		Labels: map[string]string{}, Options: map[string]string{}}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		spec.Labels[k] = v
	}
	for _, kv := range o.opts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return invalidArgument("invalid option %q: options are key=value", kv)
		}
		spec.Options[k] = v
	}
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

type inspectIPAM struct {
	Driver  string              `json:"Driver"`
	Options map[string]string   `json:"Options"`
	Config  []map[string]string `json:"Config"`
}

type inspectEndpoint struct {
	Name        string `json:"Name"`
	EndpointID  string `json:"EndpointID"`
	MacAddress  string `json:"MacAddress"`
	IPv4Address string `json:"IPv4Address"`
	IPv6Address string `json:"IPv6Address"`
}

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

func (c *cli) newNetworkInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short:             "Display detailed information on one or more networks",
		Args:              requiresMinArgs(1),
		ValidArgsFunction: c.completeNetworkNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runNetworkInspect(cmd.Context(), format, args)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", formatHelpInspect)
	return cmd
}

func (c *cli) runNetworkInspect(ctx context.Context, format string, names []string) error {
	m, err := c.networks()
	if err != nil {
		return err
	}
	found := []inspectNetwork{}
	var errs []error
	for _, name := range names {
		n, err := m.Inspect(ctx, name)
		if err != nil {
			if errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err) {
				err = noSuchNetwork(name)
			}
			errs = append(errs, err)
			continue
		}
		found = append(found, toInspectNetwork(n))
	}
	if err := printInspect(c.stdout, format, found); err != nil {
		return err
	}
	return errors.Join(errs...)
}

type networkLsOptions struct {
	filters []string
	format  string
	quiet   bool
	noTrunc bool
}

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
func networkMatch(f volumeFilter, n *network.Network) (bool, error) {
	anyOf := func(key string, fn func(string) bool) bool {
		vals, ok := f[key]
		if !ok {
			return true
		}
		return slices.ContainsFunc(vals, fn)
	}
	ok := anyOf("name", func(s string) bool {
		re, err := regexp.Compile(s)
		if err != nil {
			return strings.Contains(n.Name, s)
		}
		return re.MatchString(n.Name)
	}) && anyOf("id", func(s string) bool { return strings.HasPrefix(n.ID, s) }) &&
		anyOf("driver", func(s string) bool { return s == n.Driver }) &&
		anyOf("scope", func(s string) bool { return s == "local" }) &&
		anyOf("type", func(s string) bool { return s == "custom" }) &&
		anyOf("label", func(s string) bool { return labelMatch(n.Labels, s) })
	if !ok {
		return false, nil
	}
	for _, s := range f["label!"] {
		if labelMatch(n.Labels, s) {
			return false, nil
		}
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

func (c *cli) runNetworkLs(ctx context.Context, o networkLsOptions) error {
	f, err := parseVolumeFilters(o.filters, "dangling", "driver", "id", "label", "label!", "name", "scope", "type")
	if err != nil {
		return err
	}
	m, err := c.networks()
	if err != nil {
		return err
	}
	all, err := m.List(ctx, nil)
	if err != nil {
		return err
	}
	var rows []networkRow
	for _, n := range all {
		ok, err := networkMatch(f, n)
		if err != nil {
			return err
		}
		if ok {
			rows = append(rows, networkRow{n: n, trunc: !o.noTrunc})
		}
	}
	format := o.format
	switch {
	case format == "json":
		for _, r := range rows {
			b, err := json.Marshal(map[string]string{"CreatedAt": r.CreatedAt(), "Driver": r.Driver(), "ID": r.ID(),
				"IPv6": r.IPv6(), "Internal": r.Internal(), "Labels": r.Labels(), "Name": r.Name(), "Scope": r.Scope()})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "%s\n", b)
		}
		return nil
	case o.quiet && (format == "" || format == "table"):
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
	w := tabwriter.NewWriter(c.stdout, 10, 1, 3, ' ', 0)
	if table {
		if err := tmpl.Execute(w, networkHeader{}); err != nil {
			return invalidArgument("template: %v", err)
		}
		fmt.Fprintln(w)
	}
	for _, r := range rows {
		if err := tmpl.Execute(w, r); err != nil {
			return invalidArgument("template: %v", err)
		}
		fmt.Fprintln(w)
	}
	return w.Flush()
}

// networkRow is a network as `network ls --format` templates see it.
type networkRow struct {
	n     *network.Network
	trunc bool
}

func (r networkRow) ID() string {
	if r.trunc && len(r.n.ID) > 12 {
		return r.n.ID[:12]
	}
	return r.n.ID
}
func (r networkRow) Name() string          { return r.n.Name }
func (r networkRow) Driver() string        { return r.n.Driver }
func (r networkRow) Scope() string         { return "local" }
func (r networkRow) IPv6() string          { return strconv.FormatBool(r.n.EnableIPv6) }
func (r networkRow) Internal() string      { return strconv.FormatBool(r.n.Internal) }
func (r networkRow) Label(k string) string { return r.n.Labels[k] }
func (r networkRow) CreatedAt() string {
	return r.n.Created.Local().Format("2006-01-02 15:04:05.999999999 -0700 MST")
}
func (r networkRow) Labels() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.n.Labels)) {
		parts = append(parts, k+"="+r.n.Labels[k])
	}
	return strings.Join(parts, ",")
}

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

func (c *cli) newNetworkRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               "rm NETWORK [NETWORK...]",
		Aliases:           []string{"remove"},
		Short:             "Remove one or more networks",
		Args:              requiresMinArgs(1),
		ValidArgsFunction: c.completeNetworkNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runNetworkRm(cmd.Context(), force, args)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

// runNetworkRm removes each network, printing its name; the errors are
// reported together at the end, as docker's.
func (c *cli) runNetworkRm(ctx context.Context, force bool, names []string) error {
	m, err := c.networks()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if _, err := m.Inspect(ctx, name); err != nil {
			if errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err) {
				if !force {
					errs = append(errs, noSuchNetwork(name))
				}
				continue
			}
			errs = append(errs, err)
			continue
		}
		if err := m.Remove(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("error while removing network: %w", err))
			continue
		}
		fmt.Fprintln(c.stdout, name)
	}
	return errors.Join(errs...)
}

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
	f, err := parseVolumeFilters(filters, "label", "label!", "until")
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
	if !force {
		fmt.Fprint(c.stdout, "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ")
		answer, _ := bufio.NewReader(c.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return nil
		}
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
	if len(removed) > 0 {
		fmt.Fprintln(c.stdout, "Deleted Networks:")
		for _, n := range removed {
			fmt.Fprintln(c.stdout, n)
		}
		fmt.Fprintln(c.stdout)
	}
	return errors.Join(errs...)
}
