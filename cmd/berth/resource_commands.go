package main

// What docker's resource groups (`network`, `volume`, `image`) have in
// common: the group command, name completion, inspect and rm over a list
// of names, ls's --filter and JSON lines, and prune's prompt and report.
// The commands keep their own flags, help text and messages; these
// helpers only do what every one of them did the same way.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
)

// resourceGroup is a docker-style command group such as `network
// COMMAND`: subs are its subcommands, each of which owns -f (see
// freeShorthandF).
func resourceGroup(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short}
	cmd.AddCommand(subs...)
	for _, sub := range cmd.Commands() {
		freeShorthandF(sub)
	}
	return cmd
}

// freeShorthandF lets a docker-style subcommand own -f (--filter,
// --force, --format) although the compose global flag -f/--file is
// persistent on the root: a hidden local --file shadows the inherited one
// (cobra skips an inherited flag whose name is already defined), so the
// shorthands do not clash. docker's `volume` commands take no compose file.
func freeShorthandF(cmd *cobra.Command) {
	var ignored []string
	cmd.Flags().StringArrayVar(&ignored, "file", nil, "")
	_ = cmd.Flags().MarkHidden("file")
}

// completeNames completes with the name of each item list returns, and
// with nothing when list fails.
func completeNames[T any](list func(ctx context.Context) ([]T, error), name func(T) string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		items, err := list(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, it := range items {
			out = append(out, name(it))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// inspectCommand completes cmd (its Use, Short and ValidArgsFunction set)
// as a docker `inspect`: one name or more, and --format/-f; run gets the
// format and the names.
func inspectCommand(cmd *cobra.Command, run func(ctx context.Context, format string, names []string) error) *cobra.Command {
	var format string
	cmd.Args = requiresMinArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(cmd.Context(), format, args)
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", formatHelpInspect)
	return cmd
}

// inspectEach prints the document get returns for each name as docker's
// inspect does (printInspect), then returns the errors of the names get
// failed on, joined.
func inspectEach[T any](ctx context.Context, w io.Writer, format string, names []string,
	get func(ctx context.Context, name string) (T, error)) error {
	found := []T{}
	var errs []error
	for _, name := range names {
		doc, err := get(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found = append(found, doc)
	}
	if err := printInspect(w, format, found); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// removeCommand completes cmd (its Use, Short, Long and
// ValidArgsFunction set) as a docker `rm`: alias `remove`, one name or
// more, and --force/-f described by forceHelp; run gets force and the
// names.
func removeCommand(cmd *cobra.Command, forceHelp string, run func(ctx context.Context, force bool, names []string) error) *cobra.Command {
	var force bool
	cmd.Aliases = []string{"remove"}
	cmd.Args = requiresMinArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(cmd.Context(), force, args)
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, forceHelp)
	return cmd
}

// removeEach removes the named resources in turn, printing each name it
// removed, as docker's rm does: find reports a missing one with an
// errdefs not-found error (dropped when force is set), remove removes
// one, and the errors are returned together at the end.
func removeEach(ctx context.Context, w io.Writer, names []string, force bool,
	find, remove func(ctx context.Context, name string) error) error {
	var errs []error
	for _, name := range names {
		if err := find(ctx, name); err != nil {
			if !force || !errdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		if err := remove(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(w, name)
	}
	return errors.Join(errs...)
}

// filterArgs is a parsed --filter list: values of one key are OR'd,
// keys are AND'd, as docker's.
type filterArgs map[string][]string

// parseFilters reads --filter's "key=value" arguments; a key outside
// allowed is an error. "label!=x" is key "label!".
func parseFilters(args []string, allowed ...string) (filterArgs, error) {
	f := filterArgs{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, invalidArgument("bad format of filter (expected name=value)")
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasSuffix(k, "!") { // label!=x
			k = strings.TrimSuffix(k, "!") + "!"
		}
		if !slices.Contains(allowed, k) {
			return nil, invalidArgument("invalid filter '%s'", strings.TrimSuffix(k, "!"))
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// anyOf reports whether fn accepts one of key's values; true when the
// filter has no such key.
func (f filterArgs) anyOf(key string, fn func(string) bool) bool {
	vals, ok := f[key]
	return !ok || slices.ContainsFunc(vals, fn)
}

// matchName is docker's name filter: each value a regular expression, or
// a substring when it is not one.
func (f filterArgs) matchName(name string) bool {
	return f.anyOf("name", func(s string) bool {
		re, err := regexp.Compile(s)
		if err != nil {
			return strings.Contains(name, s)
		}
		return re.MatchString(name)
	})
}

// matchLabels is docker's label and label! filters on labels.
func (f filterArgs) matchLabels(labels map[string]string) bool {
	return f.anyOf("label", func(s string) bool { return labelMatch(labels, s) }) &&
		!slices.ContainsFunc(f["label!"], func(s string) bool { return labelMatch(labels, s) })
}

// labelMatch is docker's label filter: "key" (present) or "key=value".
func labelMatch(labels map[string]string, want string) bool {
	k, v, hasValue := strings.Cut(want, "=")
	have, ok := labels[k]
	return ok && (!hasValue || have == v)
}

// matching returns the items match accepts, in order; it stops at
// match's first error.
func matching[T any](items []T, match func(T) (bool, error)) ([]T, error) {
	var out []T
	for _, it := range items {
		ok, err := match(it)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, it)
		}
	}
	return out, nil
}

// labelMap reads --label arguments: "key=value", or "key" for an empty
// value.
func labelMap(args []string) map[string]string {
	m := map[string]string{}
	for _, l := range args {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// optionMap reads --opt arguments, each "key=value"; hint ends the error
// for one without "=".
func optionMap(args []string, hint string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, invalidArgument("invalid option %q: options are key=value%s", kv, hint)
		}
		m[k] = v
	}
	return m, nil
}

// joinLabels is ls's LABELS column: "k=v,k2=v2", sorted by key.
func joinLabels(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// writeJSONLines is ls's --format json: the fields of each row as one
// JSON object a line.
func writeJSONLines[T any](w io.Writer, rows []T, fields func(T) map[string]string) error {
	for _, r := range rows {
		b, err := json.Marshal(fields(r))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n", b)
	}
	return nil
}

// confirmPrune asks docker's prune question, warning then "Are you sure
// you want to continue? [y/N] ", and reports whether the answer read from
// standard input is y or yes.
func (c *cli) confirmPrune(warning string) bool {
	fmt.Fprintf(c.stdout, "%s\nAre you sure you want to continue? [y/N] ", warning)
	answer, _ := bufio.NewReader(c.stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes"
}

// printDeleted is docker's report of what a prune removed: title
// ("Deleted Networks:"), a line per name and a blank line; nothing when
// nothing was removed.
func printDeleted(w io.Writer, title string, names []string) {
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w, title)
	for _, n := range names {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w)
}
