package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/engine/image"
)

// newImageCommand is `berth image`, docker's `docker image` group.
func (c *cli) newImageCommand() *cobra.Command {
	return resourceGroup("image COMMAND", "Manage images",
		c.newImageLsCommand(),
		c.newImagePullCommand(),
		c.newImagePushCommand(),
		c.newImageRmCommand(),
		c.newImageInspectCommand(),
		c.newImageHistoryCommand(),
		c.newImageTagCommand(),
		c.newImageLoadCommand(),
		c.newImageSaveCommand(),
		c.newImageImportCommand(),
		c.newImagePruneCommand(),
	)
}

// completeImages completes image references (familiar tags).
func (c *cli) completeImages(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	store, err := c.images()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	imgs, err := store.List(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, img := range imgs {
		for _, t := range img.RepoTags {
			if f := image.FamiliarString(t); strings.HasPrefix(f, toComplete) {
				out = append(out, f)
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

type imageLsOptions struct {
	all, quiet, digests, noTrunc bool
	filters                      []string
	format                       string
}

func (c *cli) newImageLsCommand() *cobra.Command {
	var o imageLsOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS] [REPOSITORY[:TAG]]",
		Aliases: []string{"list"},
		Short:   "List images",
		Args:    requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.filters = append(o.filters, "reference="+args[0])
			}
			return c.runImageLs(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all images (default hides intermediate images)")
	f.BoolVar(&o.digests, "digests", false, "Show digests")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", formatHelpList)
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	return cmd
}

func (c *cli) runImageLs(ctx context.Context, o imageLsOptions) error {
	store, err := c.images()
	if err != nil {
		return err
	}
	filter, err := parseImageFilters(o.filters, func(ref string) (*image.Image, error) { return store.Get(ctx, ref) })
	if err != nil {
		return err
	}
	imgs, err := store.List(ctx)
	if err != nil {
		return err
	}
	var rows []imageRow
	for _, r := range imageRows(imgs, o.noTrunc) {
		if filter.keep(r) {
			rows = append(rows, r)
		}
	}
	return writeImageRows(c.stdout, o.format, o.quiet, o.digests, rows)
}

func (c *cli) newImageRmCommand() *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use:               "rm [OPTIONS] IMAGE [IMAGE...]",
		Aliases:           []string{"remove", "rmi"},
		Short:             "Remove one or more images",
		Args:              requiresMinArgs(1),
		ValidArgsFunction: c.completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runImageRm(cmd.Context(), force, args)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

// runImageRm removes each image, printing docker's Untagged/Deleted
// lines; errors are reported together at the end.
func (c *cli) runImageRm(ctx context.Context, force bool, refs []string) error {
	store, err := c.images()
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range refs {
		lines, err := store.Remove(ctx, ref, image.RemoveOptions{Force: force})
		for _, l := range lines {
			fmt.Fprintln(c.stdout, l)
		}
		if err != nil {
			if errdefs.IsNotFound(err) && force {
				continue
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *cli) newImageTagCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short:             "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:              exactArgs(2),
		ValidArgsFunction: c.completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := c.images()
			if err != nil {
				return err
			}
			return store.Tag(cmd.Context(), args[0], args[1])
		},
	}
}

func (c *cli) newImageInspectCommand() *cobra.Command {
	return inspectCommand(&cobra.Command{
		Use:               "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short:             "Display detailed information on one or more images",
		ValidArgsFunction: c.completeImages,
	}, c.runImageInspect)
}

// inspectImage is docker's image inspect document.
func inspectImage(img *image.Image, rawConfig []byte) (map[string]any, error) {
	var cf map[string]any
	if err := json.Unmarshal(rawConfig, &cf); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.ShortID(), err)
	}
	familiar := func(refs []string) []string {
		out := []string{}
		for _, r := range refs {
			out = append(out, image.FamiliarString(r))
		}
		return out
	}
	doc := map[string]any{
		"Id":            img.ID,
		"RepoTags":      familiar(img.RepoTags),
		"RepoDigests":   familiar(img.RepoDigests),
		"Parent":        "",
		"Comment":       img.Comment,
		"Created":       img.Created.UTC().Format(time.RFC3339Nano),
		"DockerVersion": cf["docker_version"],
		"Author":        img.Author,
		"Config":        cf["config"],
		"Architecture":  cf["architecture"],
		"Os":            cf["os"],
		"Size":          img.Size,
		"RootFS":        map[string]any{"Type": "layers", "Layers": img.DiffIDs},
		"Metadata":      map[string]any{"LastTagTime": "0001-01-01T00:00:00Z"},
	}
	if v, ok := cf["variant"]; ok {
		doc["Variant"] = v
	}
	if doc["DockerVersion"] == nil {
		doc["DockerVersion"] = ""
	}
	if doc["Config"] == nil {
		doc["Config"] = map[string]any{}
	}
	if !img.LastPull.IsZero() {
		doc["Metadata"] = map[string]any{"LastTagTime": img.LastPull.UTC().Format(time.RFC3339Nano)}
	}
	return doc, nil
}

// runImageInspect prints the images as docker's JSON array, or each
// through a template; missing images are reported after the others.
func (c *cli) runImageInspect(ctx context.Context, format string, refs []string) error {
	store, err := c.images()
	if err != nil {
		return err
	}
	return inspectEach(ctx, c.stdout, format, refs, func(ctx context.Context, ref string) (map[string]any, error) {
		img, err := store.Get(ctx, ref)
		if err != nil {
			return nil, err
		}
		raw, err := store.RawConfig(ctx, img.ID)
		if err != nil {
			return nil, err
		}
		return inspectImage(img, raw)
	})
}

type imagePruneOptions struct {
	all, force bool
	filters    []string
}

func (c *cli) newImagePruneCommand() *cobra.Command {
	var o imagePruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runImagePrune(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Remove all unused images, not just dangling ones")
	f.StringArrayVar(&o.filters, "filter", nil, "Provide filter values (e.g. \"until=<timestamp>\")")
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

func (c *cli) runImagePrune(ctx context.Context, o imagePruneOptions) error {
	opts := image.PruneOptions{All: o.all, Labels: map[string]string{}}
	for _, v := range o.filters {
		key, val, _ := strings.Cut(v, "=")
		switch key {
		case "until":
			t, err := parseUntil(val)
			if err != nil {
				return err
			}
			opts.Until = t
		case "label":
			k, lv, _ := strings.Cut(val, "=")
			opts.Labels[k] = lv
		case "dangling":
			opts.All = val == "false" || val == "0"
		default:
			return invalidArgument("invalid filter '%s' (until, label, dangling)", key)
		}
	}
	if !o.force {
		warning := "WARNING! This will remove all dangling images."
		if opts.All {
			warning = "WARNING! This will remove all images without at least one container associated to them."
		}
		if !c.confirmPrune(warning) {
			return nil
		}
	}
	store, err := c.images()
	if err != nil {
		return err
	}
	rep, err := store.Prune(ctx, opts)
	printDeleted(c.stdout, "Deleted Images:", rep.Lines)
	fmt.Fprintf(c.stdout, "Total reclaimed space: %s\n", humanSize(float64(rep.Reclaimed)))
	return err
}
