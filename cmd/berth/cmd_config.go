package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/berthdev/berth/compose"
)

// configOptions are `berth config`'s flags, as docker compose's.
type configOptions struct {
	format              string
	output              string
	quiet               bool
	resolveImageDigests bool
	lockImageDigests    bool
	noInterpolate       bool
	noNormalize         bool
	noResolvePath       bool
	noConsistency       bool
	noResolveEnv        bool
	services            bool
	volumes             bool
	networks            bool
	models              bool
	profiles            bool
	images              bool
	hash                string
	variables           bool
	environment         bool
}

func (c *cli) newConfigCommand() *cobra.Command {
	var o configOptions
	cmd := &cobra.Command{
		Use:               "config [OPTIONS] [SERVICE...]",
		Short:             "Parse, resolve and render compose file in canonical format",
		ValidArgsFunction: c.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runConfig(cmd.Context(), o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "", "Format the output. Values: [yaml | json]")
	f.BoolVar(&o.resolveImageDigests, "resolve-image-digests", false, "Pin image tags to digests")
	f.BoolVar(&o.lockImageDigests, "lock-image-digests", false, "Produces an override file with image digests")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only validate the configuration, don't print anything")
	f.BoolVar(&o.noInterpolate, "no-interpolate", false, "Don't interpolate environment variables")
	f.BoolVar(&o.noNormalize, "no-normalize", false, "Don't normalize compose model")
	f.BoolVar(&o.noResolvePath, "no-path-resolution", false, "Don't resolve file paths")
	f.BoolVar(&o.noConsistency, "no-consistency", false, "Don't check model consistency - warning: may produce invalid Compose output")
	f.BoolVar(&o.noResolveEnv, "no-env-resolution", false, "Don't resolve service env files")
	f.BoolVar(&o.services, "services", false, "Print the service names, one per line.")
	f.BoolVar(&o.volumes, "volumes", false, "Print the volume names, one per line.")
	f.BoolVar(&o.networks, "networks", false, "Print the network names, one per line.")
	f.BoolVar(&o.models, "models", false, "Print the model names, one per line.")
	f.BoolVar(&o.profiles, "profiles", false, "Print the profile names, one per line.")
	f.BoolVar(&o.images, "images", false, "Print the image names, one per line.")
	f.StringVar(&o.hash, "hash", "", "Print the service config hash, one per line.")
	f.BoolVar(&o.variables, "variables", false, "Print model variables and default values.")
	f.BoolVar(&o.environment, "environment", false, "Print environment used for interpolation.")
	f.StringVarP(&o.output, "output", "o", "", "Save to file (default to stdout)")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("hash", c.completeServices)
	return cmd
}

// runConfig dispatches like docker compose's config command: the listing
// flags first, in docker compose's order, then the model itself.
func (c *cli) runConfig(ctx context.Context, o configOptions, services []string) error {
	if o.resolveImageDigests || o.lockImageDigests {
		return notImplemented("berth config: --resolve-image-digests and --lock-image-digests are not supported yet (config does not query registries); pin digests in the compose file instead")
	}
	out := c.stdout
	if o.quiet {
		out = io.Discard
	}
	switch {
	case o.services:
		return c.configServices(ctx, o, out)
	case o.volumes, o.networks, o.models:
		return c.configResources(ctx, o, out)
	case o.hash != "":
		return c.configHash(ctx, o, out)
	case o.profiles:
		return c.configProfiles(ctx, o, services, out)
	case o.images:
		return c.configImages(ctx, o, services, out)
	case o.variables:
		return c.configVariables(ctx, o, services, out)
	case o.environment:
		return c.configEnvironment(ctx, o, services, out)
	}
	if o.format == "" {
		o.format = "yaml"
	}
	var content []byte
	var err error
	if o.noInterpolate {
		content, err = c.configModel(ctx, o, services)
	} else {
		content, err = c.configProject(ctx, o, services)
	}
	if err != nil {
		return err
	}
	if !o.noInterpolate {
		// The output must survive another round of interpolation.
		content = bytes.ReplaceAll(content, []byte("$"), []byte("$$"))
	}
	if o.quiet {
		return nil
	}
	if o.output != "" {
		if len(content) == 0 {
			return nil
		}
		path := o.output
		if !filepath.IsAbs(path) && c.workingDir != "" {
			path = filepath.Join(c.workingDir, path)
		}
		return os.WriteFile(path, content, 0o666)
	}
	_, err = out.Write(content)
	return err
}

// configLoadOptions are the load options of the config command's flags.
func (c *cli) configLoadOptions(o configOptions, services []string, resolveEnv bool) compose.LoadOptions {
	lo := c.loadOptions(services)
	lo.NoInterpolate = o.noInterpolate
	lo.NoNormalize = o.noNormalize
	lo.NoResolvePaths = o.noResolvePath
	lo.NoConsistency = o.noConsistency
	lo.NoResolveEnvironment = !resolveEnv
	return lo
}

func (c *cli) configProject(ctx context.Context, o configOptions, services []string) ([]byte, error) {
	p, err := compose.Load(ctx, c.configLoadOptions(o, services, true))
	if err != nil {
		return nil, err
	}
	if !o.noConsistency {
		if err := p.CheckContainerNameUnicity(); err != nil {
			return nil, err
		}
	}
	switch o.format {
	case "json":
		return p.MarshalJSON()
	case "yaml":
		return p.MarshalYAML()
	}
	return nil, invalidArgument("unsupported format %q", o.format)
}

func (c *cli) configModel(ctx context.Context, o configOptions, services []string) ([]byte, error) {
	model, err := compose.LoadModel(ctx, c.configLoadOptions(o, services, true))
	if err != nil {
		return nil, err
	}
	return formatModel(model, o.format)
}

func formatModel(model any, format string) ([]byte, error) {
	switch format {
	case "json":
		return json.MarshalIndent(model, "", "  ")
	case "yaml":
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(model); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	return nil, invalidArgument("unsupported format %q", format)
}

// configServices prints service names, dependencies before dependents.
func (c *cli) configServices(ctx context.Context, o configOptions, out io.Writer) error {
	if o.noInterpolate {
		model, err := compose.LoadModel(ctx, c.configLoadOptions(o, nil, false))
		if err != nil {
			return err
		}
		svcs, _ := model["services"].(map[string]any)
		for _, name := range sortedKeys(svcs) {
			fmt.Fprintln(out, name)
		}
		return nil
	}
	p, err := compose.Load(ctx, c.configLoadOptions(o, nil, false))
	if err != nil {
		return err
	}
	for _, name := range dependencyOrder(p) {
		fmt.Fprintln(out, name)
	}
	return nil
}

// dependencyOrder lists the enabled services, each after the services it
// depends on, otherwise by name (docker compose's order, made stable).
func dependencyOrder(p *types.Project) []string {
	var order []string
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		s, ok := p.Services[name]
		if !ok || seen[name] {
			return
		}
		seen[name] = true
		for _, dep := range sortedKeys(s.DependsOn) {
			visit(dep)
		}
		order = append(order, name)
	}
	for _, name := range sortedKeys(p.Services) {
		visit(name)
	}
	return order
}

// configResources prints volume, network or model names, sorted.
func (c *cli) configResources(ctx context.Context, o configOptions, out io.Writer) error {
	p, err := compose.Load(ctx, c.configLoadOptions(o, nil, false))
	if err != nil {
		return err
	}
	var names []string
	switch {
	case o.volumes:
		names = sortedKeys(p.Volumes)
	case o.networks:
		names = sortedKeys(p.Networks)
	default:
		for _, k := range sortedKeys(p.Models) {
			if m := p.Models[k].Model; m != "" {
				names = append(names, m)
			}
		}
	}
	for _, n := range names {
		fmt.Fprintln(out, n)
	}
	return nil
}

// configHash prints "service hash" lines for --hash "svc,svc" or "*".
func (c *cli) configHash(ctx context.Context, o configOptions, out io.Writer) error {
	var names []string
	if o.hash != "*" {
		names = strings.Split(o.hash, ",")
	}
	p, err := compose.Load(ctx, c.configLoadOptions(o, nil, false))
	if err != nil {
		return err
	}
	if err := compose.ApplyPlatforms(p, true); err != nil {
		return err
	}
	if len(names) == 0 {
		names = p.ServiceNames()
	}
	slices.Sort(names)
	for _, name := range names {
		s, err := p.GetService(name)
		if err != nil {
			return err
		}
		h, err := compose.ServiceHash(s)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %s\n", name, h)
	}
	return nil
}

// configProfiles prints every profile any service declares, sorted.
func (c *cli) configProfiles(ctx context.Context, o configOptions, services []string, out io.Writer) error {
	p, err := compose.Load(ctx, c.configLoadOptions(o, services, false))
	if err != nil {
		return err
	}
	set := map[string]bool{}
	for _, s := range p.AllServices() {
		for _, pr := range s.Profiles {
			set[pr] = true
		}
	}
	for _, pr := range sortedKeys(set) {
		fmt.Fprintln(out, pr)
	}
	return nil
}

// configImages prints each service's image (or the name a build gets).
func (c *cli) configImages(ctx context.Context, o configOptions, services []string, out io.Writer) error {
	p, err := compose.Load(ctx, c.configLoadOptions(o, services, false))
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(p.Services) {
		fmt.Fprintln(out, compose.ImageName(p.Name, p.Services[name]))
	}
	return nil
}

// configVariables prints the variables the model uses, with their defaults.
func (c *cli) configVariables(ctx context.Context, o configOptions, services []string, out io.Writer) error {
	o.noInterpolate = true
	model, err := compose.LoadModel(ctx, c.configLoadOptions(o, services, false))
	if err != nil {
		return err
	}
	vars := template.ExtractVariables(model, template.DefaultPattern)
	switch strings.ToLower(o.format) {
	case "yaml":
		b, err := yaml.Marshal(vars)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	case "json":
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "    ")
		return enc.Encode(vars)
	case "", "table", "pretty":
		w := tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
		fmt.Fprintln(w, "NAME\tREQUIRED\tDEFAULT VALUE\tALTERNATE VALUE")
		for _, name := range sortedKeys(vars) {
			v := vars[name]
			fmt.Fprintf(w, "%s\t%t\t%s\t%s\n", name, v.Required, v.DefaultValue, v.PresenceValue)
		}
		return w.Flush()
	}
	return invalidArgument("format value %q could not be parsed: use table, yaml or json", o.format)
}

// configEnvironment prints the interpolation environment, KEY=VALUE sorted.
func (c *cli) configEnvironment(ctx context.Context, o configOptions, services []string, out io.Writer) error {
	p, err := compose.Load(ctx, c.configLoadOptions(o, services, true))
	if err != nil {
		return err
	}
	for _, v := range p.Environment.Values() {
		fmt.Fprintln(out, v)
	}
	return nil
}

func sortedKeys[V any, M ~map[string]V](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
