package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
)

// usageError is a mistake on the command line (unknown flag or command,
// wrong arguments). It is printed like docker's CLI does, with the usage
// line, and exits 1:
//
//	unknown flag: --bogus
//	See 'berth config --help'.
//
//	Usage:  berth config [OPTIONS] [SERVICE...]
//
//	Parse, resolve and render compose file in canonical format
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func (e *usageError) print(w io.Writer) {
	fmt.Fprintf(w, "%s\nSee '%s --help'.\n\nUsage:  %s\n\n%s\n", e.err, e.cmd.CommandPath(), e.cmd.UseLine(), e.cmd.Short)
}

// unknownCommand is the error for `berth nosuch` and `berth volume nosuch`,
// with cobra's suggestions.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("'%s' is not a %s command", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return &usageError{cmd: cmd, err: fmt.Errorf("%s", msg)}
}

// decorate gives every command docker's CLI conventions: no "[flags]" in
// the usage line, argument errors reported as usage errors, and command
// groups (image, volume, …) that show their help when called alone and
// reject unknown subcommands.
func decorate(cmd *cobra.Command) {
	cmd.DisableFlagsInUseLine = true
	if cmd.HasSubCommands() && cmd.Run == nil && cmd.RunE == nil {
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownCommand(cmd, args[0])
		}
	} else if check := cmd.Args; check != nil {
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		decorate(sub)
	}
}

// Argument checks with docker's CLI messages, for commands to use as
// cobra.Command.Args.

// noArgs accepts no argument: `"berth version" accepts no arguments.`
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return fmt.Errorf("%q accepts no arguments", cmd.CommandPath())
}

// requiresMinArgs accepts at least min arguments.
func requiresMinArgs(min int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min {
			return nil
		}
		return fmt.Errorf("%q requires at least %d %s", cmd.CommandPath(), min, plural("argument", min))
	}
}

// requiresMaxArgs accepts at most max arguments.
func requiresMaxArgs(max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= max {
			return nil
		}
		return fmt.Errorf("%q requires at most %d %s", cmd.CommandPath(), max, plural("argument", max))
	}
}

// exactArgs accepts exactly n arguments.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return fmt.Errorf("%q requires exactly %d %s", cmd.CommandPath(), n, plural("argument", n))
	}
}

// rangeArgs accepts between min and max arguments.
func rangeArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && len(args) <= max {
			return nil
		}
		return fmt.Errorf("%q requires at least %d and at most %d %s", cmd.CommandPath(), min, max, plural("argument", max))
	}
}

func plural(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// kindError is an error of an errdefs kind whose message does not end in
// the kind's name (": invalid argument"), for messages printed to users.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// invalidArgument is an errdefs.ErrInvalidArgument with a clean message.
func invalidArgument(format string, a ...any) error {
	return &kindError{msg: fmt.Sprintf(format, a...), kind: errdefs.ErrInvalidArgument}
}

// notImplemented is an errdefs.ErrNotImplemented with a clean message.
func notImplemented(format string, a ...any) error {
	return &kindError{msg: fmt.Sprintf(format, a...), kind: errdefs.ErrNotImplemented}
}
