package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

// Values of --progress and --ansi, as docker compose's.
var (
	progressModes = []string{"auto", "tty", "plain", "json", "quiet"}
	ansiModes     = []string{"never", "always", "auto"}
)

// validateGlobalFlags applies the environment defaults docker compose
// reads (COMPOSE_PROGRESS, COMPOSE_ANSI, COMPOSE_PARALLEL_LIMIT, NO_COLOR)
// when the flag is not given, and rejects invalid or conflicting values
// before the command runs. A subcommand that sets its own
// PersistentPreRunE must call this.
func (c *cli) validateGlobalFlags(cmd *cobra.Command) error {
	flags := cmd.Flags()
	if v, ok := c.getenv("COMPOSE_PROGRESS"); ok && v != "" && !flags.Changed("progress") {
		c.opts.Progress = v
	}
	if v, ok := c.getenv("COMPOSE_ANSI"); ok && v != "" && !flags.Changed("ansi") {
		c.opts.Ansi = v
	}
	if v, ok := c.getenv("NO_COLOR"); ok && v != "" {
		c.opts.NoColor = true
	}
	if v, ok := c.getenv("COMPOSE_PARALLEL_LIMIT"); ok && !flags.Changed("parallel") {
		n, err := strconv.Atoi(v)
		if err != nil {
			return invalidArgument("COMPOSE_PARALLEL_LIMIT must be an integer (found: %q)", v)
		}
		c.opts.Parallel = n
	}
	switch c.opts.Ansi {
	case "never", "always", "auto":
	default:
		return &usageError{cmd: cmd, err: fmt.Errorf("invalid --ansi value %q: use never, always or auto", c.opts.Ansi)}
	}
	switch c.opts.Progress {
	case "", "auto", "json":
	case "none":
		c.opts.Progress = "quiet"
	case "quiet":
	case "tty":
		if c.opts.Ansi == "never" {
			return invalidArgument("can't use --progress tty while ANSI support is disabled")
		}
	case "plain":
		if c.opts.Ansi == "always" {
			return invalidArgument("can't use --progress plain while ANSI support is forced")
		}
	default:
		return &usageError{cmd: cmd, err: fmt.Errorf("unsupported --progress value %q: use auto, tty, plain, json or quiet", c.opts.Progress)}
	}
	return nil
}
