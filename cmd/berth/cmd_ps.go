package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

type psOptions struct {
	all, quiet, services, noTrunc, orphans bool
	status                                 []string
	filter, format                         string
}

func (c *cli) newPsCommand() *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS] [SERVICE...]",
		Short: "List containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runPs(cmd, o, args)
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all stopped containers (including those created by the run command)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display IDs")
	f.BoolVar(&o.services, "services", false, "Display services")
	f.StringArrayVar(&o.status, "status", nil, "Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]")
	f.StringVar(&o.filter, "filter", "", "Filter services by a property (supported filters: status)")
	f.StringVar(&o.format, "format", "table", formatHelpList)
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVar(&o.orphans, "orphans", true, "Include orphaned services (not declared by project)")
	return cmd
}

func (c *cli) runPs(cmd *cobra.Command, o psOptions, services []string) error {
	ctx := cmd.Context()
	if o.filter != "" {
		k, v, ok := strings.Cut(o.filter, "=")
		if !ok || k != "status" {
			return invalidArgument("invalid filter %q: only status=VALUE is supported", o.filter)
		}
		o.status = append(o.status, v)
	}
	for _, s := range o.status {
		switch s {
		case "paused", "restarting", "removing", "running", "dead", "created", "exited":
		default:
			return invalidArgument("invalid filter 'status=%s'", s)
		}
	}
	p, name, err := c.projectOrName(ctx, nil)
	if err != nil {
		return err
	}
	if err := checkServices(p, services); err != nil {
		return err
	}
	b, err := c.backend(ctx, "Running")
	if err != nil {
		return err
	}
	defer b.Close()
	list, err := b.Ps(ctx, name, scheduler.PsOptions{Services: services, All: o.all || len(o.status) > 0})
	if err != nil {
		return err
	}
	var out []scheduler.ContainerSummary
	for _, cs := range list {
		if len(o.status) > 0 && !slices.Contains(o.status, cs.State) {
			continue
		}
		if !o.orphans && p != nil {
			if _, ok := p.Services[cs.Service]; !ok {
				continue
			}
		}
		out = append(out, cs)
	}
	switch {
	case o.quiet:
		for _, cs := range out {
			fmt.Fprintln(c.stdout, cs.ID)
		}
		return nil
	case o.services:
		var seen []string
		for _, cs := range out {
			if !slices.Contains(seen, cs.Service) {
				seen = append(seen, cs.Service)
				fmt.Fprintln(c.stdout, cs.Service)
			}
		}
		return nil
	}
	return printContainers(c.stdout, out, o.format, !o.noTrunc)
}

// printContainers prints ps's output in table, json or template format.
func printContainers(w io.Writer, list []scheduler.ContainerSummary, format string, trunc bool) error {
	switch format {
	case "", "table":
		tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		fmt.Fprintln(tw, "NAME\tIMAGE\tCOMMAND\tSERVICE\tCREATED\tSTATUS\tPORTS")
		for _, cs := range list {
			command := cs.Command
			if unq, err := strconv.Unquote(command); err == nil {
				if trunc {
					unq = ellipsis(unq, 20)
				}
				command = strconv.Quote(unq)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cs.Name, cs.Image, command, cs.Service, cs.RunningFor, cs.Status, cs.Ports)
		}
		return tw.Flush()
	case "json":
		for _, cs := range list {
			b, err := json.Marshal(cs)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, string(b))
		}
		return nil
	}
	table := false
	if t, ok := strings.CutPrefix(format, "table "); ok {
		format, table = t, true
	}
	tmpl, err := template.New("ps").Funcs(template.FuncMap{
		"json": func(v any) string { b, _ := json.Marshal(v); return string(b) },
	}).Parse(format)
	if err != nil {
		return invalidArgument("invalid --format template: %v", err)
	}
	var out io.Writer = w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
	}
	for _, cs := range list {
		if err := tmpl.Execute(out, cs); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// ellipsis truncates s to max runes, the last one "…", as docker does.
func ellipsis(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}
