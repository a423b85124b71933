package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// version is berth's version, "v" + semver; release builds set it with
// -ldflags "-X main.version=vX.Y.Z". Read-only at run time.
var version = "v0.1.0"

// versionOptions are `berth version`'s flags, as docker compose's.
type versionOptions struct {
	format string
	short  bool
}

func (c *cli) newVersionCommand() *cobra.Command {
	var o versionOptions
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the berth version information",
		Args:  noArgs,
		// Like docker compose: the version needs no project, whatever
		// COMPOSE_FILE says, and no valid global flags.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runVersion(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "", "Format the output. Values: [pretty | json]. (Default: pretty)")
	f.BoolVar(&o.short, "short", false, "Shows only berth's version number")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"pretty", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// runVersion prints "berth version v0.1.0", the bare number with --short,
// or {"version":"v0.1.0"} with --format json.
func (c *cli) runVersion(o versionOptions) error {
	switch {
	case o.short:
		fmt.Fprintln(c.stdout, strings.TrimPrefix(version, "v"))
	case o.format == "json":
		fmt.Fprintf(c.stdout, "{\"version\":%q}\n", version)
	case o.format == "" || o.format == "pretty":
		fmt.Fprintln(c.stdout, "berth version", version)
	default:
		return invalidArgument("format value %q could not be parsed: use pretty or json", o.format)
	}
	return nil
}
