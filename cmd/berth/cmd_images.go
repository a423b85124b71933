package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine/image"
)

// containerImage is one container of a project and its image.
type containerImage struct {
	Container string
	// Ref is the image reference as the service wrote it.
	Ref string
	// ImageID is the image the container was created from.
	ImageID string
}

type imagesOptions struct {
	quiet  bool
	format string
}

// newImagesCommand is compose's `images [SERVICE...]`: the images of the
// project's containers.
func (c *cli) newImagesCommand() *cobra.Command {
	var o imagesOptions
	cmd := &cobra.Command{
		Use:               "images [OPTIONS] [SERVICE...]",
		Short:             "List images used by the created containers",
		ValidArgsFunction: c.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runImages(cmd.Context(), o, args)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "table", "Format the output. Values: [table | json]")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "Only display IDs")
	return cmd
}

// composeProjectName is the project the global flags select (-p, or the loaded
// compose file's).
func (c *cli) composeProjectName(ctx context.Context) (string, error) {
	if c.opts.ProjectName != "" {
		return compose.NormalizeProjectName(c.opts.ProjectName), nil
	}
	opts := c.loadOptions(nil)
	opts.NoResolveEnvironment = true
	opts.NoConsistency = true
	p, err := compose.Load(ctx, opts)
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

func (c *cli) runImages(ctx context.Context, o imagesOptions, services []string) error {
	switch o.format {
	case "table", "json":
	default:
		return invalidArgument("invalid --format %q: use table or json", o.format)
	}
	project, err := c.composeProjectName(ctx)
	if err != nil {
		return err
	}
	ctrs, err := c.projectContainerImages(ctx, project, services)
	if err != nil {
		return err
	}
	store, err := c.images()
	if err != nil {
		return err
	}
	slices.SortFunc(ctrs, func(a, b containerImage) int { return strings.Compare(a.Container, b.Container) })
	type row struct {
		ID            string     `json:"ID"`
		ContainerName string     `json:"ContainerName"`
		Repository    string     `json:"Repository"`
		Tag           string     `json:"Tag"`
		Platform      string     `json:"Platform"`
		Size          int64      `json:"Size"`
		Created       *time.Time `json:"Created,omitempty"`
	}
	var rows []row
	for _, ct := range ctrs {
		r := row{ID: ct.ImageID, ContainerName: ct.Container}
		if n, err := image.NormalizeRef(ct.Ref); err == nil {
			r.Repository, r.Tag = image.SplitFamiliar(n)
		}
		if img, err := store.Get(ctx, ct.ImageID); err == nil {
			r.Platform, r.Size = img.Platform, img.Size
			created := img.Created
			r.Created = &created
		}
		rows = append(rows, r)
	}
	switch {
	case o.quiet:
		var ids []string
		for _, r := range rows {
			ids = append(ids, strings.TrimPrefix(r.ID, "sha256:"))
		}
		for _, id := range slices.Compact(ids) {
			fmt.Fprintln(c.stdout, id)
		}
		return nil
	case o.format == "json":
		if rows == nil {
			rows = []row{}
		}
		b, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s\n", b)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tREPOSITORY\tTAG\tPLATFORM\tIMAGE ID\tSIZE\tCREATED")
	for _, r := range rows {
		repo, tag, created := r.Repository, r.Tag, "N/A"
		if repo == "" {
			repo = "<none>"
		}
		if tag == "" {
			tag = "<none>"
		}
		if r.Created != nil {
			created = humanSince(*r.Created)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ContainerName, repo, tag, r.Platform, image.ShortID(r.ID),
			units.HumanSizeWithPrecision(float64(r.Size), 3), created)
	}
	return tw.Flush()
}
