package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// registerGlobalCompletions completes the values of the global flags:
// --progress and --ansi from their fixed sets, -f with YAML files,
// --project-directory and --root with directories, --profile with the
// project's profiles. Commands complete their SERVICE arguments with
// c.completeServices; cobra's `completion` command writes the shell scripts
// (bash, zsh, fish, powershell).
func (c *cli) registerGlobalCompletions(root *cobra.Command) {
	fixed := func(values []string) cobra.CompletionFunc {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
	dirs := func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	_ = root.RegisterFlagCompletionFunc("progress", fixed(progressModes))
	_ = root.RegisterFlagCompletionFunc("ansi", fixed(ansiModes))
	_ = root.RegisterFlagCompletionFunc("file", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	})
	_ = root.RegisterFlagCompletionFunc("project-directory", dirs)
	_ = root.RegisterFlagCompletionFunc("root", dirs)
	_ = root.RegisterFlagCompletionFunc("project-name", cobra.NoFileCompletions)
	_ = root.RegisterFlagCompletionFunc("parallel", cobra.NoFileCompletions)
	_ = root.RegisterFlagCompletionFunc("profile", c.completeProfiles)
}

// completeProfiles completes the profiles the project's services declare.
func (c *cli) completeProfiles(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	opts := c.loadOptions(nil)
	opts.NoResolveEnvironment = true
	opts.NoConsistency = true
	p, err := loadForCompletion(cmd, opts)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, s := range p.AllServices() {
		for _, pr := range s.Profiles {
			if strings.HasPrefix(pr, toComplete) && !slices.Contains(out, pr) {
				out = append(out, pr)
			}
		}
	}
	slices.Sort(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}
