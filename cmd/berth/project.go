package main

import (
	"context"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/compose"
)

// loadOptions turns the global flags into compose.LoadOptions, as docker
// compose's ProjectOptions do. The process's environment and directory are
// used (Environment and WorkingDir left empty).
func (c *cli) loadOptions(services []string) compose.LoadOptions {
	return compose.LoadOptions{
		Files:            c.opts.Files,
		ProjectName:      c.opts.ProjectName,
		ProjectDirectory: c.opts.ProjectDirectory,
		EnvFiles:         c.opts.EnvFiles,
		Profiles:         c.opts.Profiles,
		Services:         services,
		WorkingDir:       c.workingDir,
		Environment:      c.environ,
	}
}

// loadProject loads the project selected by the global flags (-f, -p,
// --project-directory, --env-file, --profile) the way docker compose does,
// restricted to services and their dependencies when services is not empty
// (services not enabled by a profile are enabled when named). Services'
// env_file are resolved into environment.
func (c *cli) loadProject(ctx context.Context, services []string) (*types.Project, error) {
	return compose.Load(ctx, c.loadOptions(services))
}

// completeServices is a cobra ValidArgsFunction that completes service
// names of the project (every service, whatever its profile), skipping the
// ones already on the command line. Commands taking SERVICE arguments set
// it: `ValidArgsFunction: c.completeServices`.
func (c *cli) completeServices(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	opts := c.loadOptions(nil)
	opts.NoResolveEnvironment = true
	opts.NoConsistency = true
	p, err := loadForCompletion(cmd, opts)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	seen := map[string]bool{}
	for _, a := range args {
		seen[a] = true
	}
	var out []cobra.Completion
	names := make([]string, 0, len(p.Services)+len(p.DisabledServices))
	for name := range p.AllServices() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !seen[name] && strings.HasPrefix(name, toComplete) {
			out = append(out, name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// loadForCompletion loads the project for a completion function; cobra may
// call those without a context.
func loadForCompletion(cmd *cobra.Command, opts compose.LoadOptions) (*types.Project, error) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return compose.Load(ctx, opts)
}
