package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/engine/image"
)

type imageHistoryOptions struct {
	human, noTrunc, quiet bool
	format                string
}

func (c *cli) newImageHistoryCommand() *cobra.Command {
	var o imageHistoryOptions
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runImageHistory(cmd.Context(), args[0], o)
		},
		ValidArgsFunction: c.completeImages,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.StringVar(&o.format, "format", "", formatHelpList)
	return cmd
}

// historyRow is one entry of an image's history, as docker image history
// shows it (its methods are the --format fields).
type historyRow struct {
	id, createdBy, comment string
	created                time.Time
	size                   int64
	human, noTrunc         bool
}

func (r historyRow) ID() string { return r.id }
func (r historyRow) CreatedSince() string {
	if !r.human {
		return r.CreatedAt()
	}
	return humanSince(r.created)
}
func (r historyRow) CreatedAt() string { return r.created.Format(time.RFC3339) }
func (r historyRow) CreatedBy() string {
	by := strings.ReplaceAll(r.createdBy, "\t", " ")
	if !r.noTrunc && len([]rune(by)) > 45 {
		by = string([]rune(by)[:44]) + "…"
	}
	return by
}
func (r historyRow) Size() string {
	if !r.human {
		return strconv.FormatInt(r.size, 10)
	}
	return units.HumanSizeWithPrecision(float64(r.size), 3)
}
func (r historyRow) Comment() string { return r.comment }

type historyHeader struct{}

func (historyHeader) ID() string           { return "IMAGE" }
func (historyHeader) CreatedSince() string { return "CREATED" }
func (historyHeader) CreatedAt() string    { return "CREATED AT" }
func (historyHeader) CreatedBy() string    { return "CREATED BY" }
func (historyHeader) Size() string         { return "SIZE" }
func (historyHeader) Comment() string      { return "COMMENT" }

func (c *cli) runImageHistory(ctx context.Context, ref string, o imageHistoryOptions) error {
	store, err := c.images()
	if err != nil {
		return err
	}
	img, err := store.Get(ctx, ref)
	if err != nil {
		return err
	}
	raw, err := store.RawConfig(ctx, img.ID)
	if err != nil {
		return err
	}
	rows, err := historyRows(img, raw, o)
	if err != nil {
		return err
	}
	if o.quiet {
		for _, r := range rows {
			fmt.Fprintln(c.stdout, r.ID())
		}
		return nil
	}
	format := o.format
	switch format {
	case "json":
		return writeJSONLines(c.stdout, rows, func(r historyRow) map[string]string {
			return map[string]string{"Comment": r.Comment(), "CreatedAt": r.CreatedAt(), "CreatedBy": r.CreatedBy(),
				"CreatedSince": r.CreatedSince(), "ID": r.ID(), "Size": r.Size()}
		})
	case "", "table":
		format = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	}
	items := make([]any, len(rows))
	for i, r := range rows {
		items[i] = r
	}
	return writeTemplate(c.stdout, format, items, historyHeader{})
}

// historyRows reads the config's history, newest first: a layer's size
// goes to the entry that made it (empty_layer entries made none); the
// image's own ID is on the newest entry, "<missing>" on the others, as
// docker shows entries it has no image of.
func historyRows(img *image.Image, rawConfig []byte, o imageHistoryOptions) ([]historyRow, error) {
	var cfg struct {
		History []struct {
			Created    time.Time `json:"created"`
			CreatedBy  string    `json:"created_by"`
			Comment    string    `json:"comment"`
			EmptyLayer bool      `json:"empty_layer"`
		} `json:"history"`
	}
	if err := json.Unmarshal(rawConfig, &cfg); err != nil {
		return nil, fmt.Errorf("image %s: its config: %w", img.ShortID(), err)
	}
	rows := make([]historyRow, 0, len(cfg.History))
	layer := 0
	for _, h := range cfg.History {
		r := historyRow{id: "<missing>", createdBy: h.CreatedBy, comment: h.Comment, created: h.Created, human: o.human, noTrunc: o.noTrunc}
		if !h.EmptyLayer && layer < len(img.Layers) {
			r.size = img.Layers[layer].UnpackedSize
			layer++
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 { // no history recorded: the image itself
		rows = append(rows, historyRow{created: img.Created, size: img.Size, human: o.human, noTrunc: o.noTrunc})
	}
	id := img.ShortID()
	if o.noTrunc {
		id = img.ID
	}
	rows[len(rows)-1].id = id
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, nil
}
