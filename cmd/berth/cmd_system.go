package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// newSystemCommand is `berth system`, docker's `docker system` group.
// Subcommands are listed here; add new ones (prune, …) to the list.
func (c *cli) newSystemCommand() *cobra.Command {
	return resourceGroup("system COMMAND", "Manage berth",
		c.newSystemDfCommand(),
		c.newSystemBootCommand(),
	)
}

// dfRow is one line of `system df`.
type dfRow struct {
	Type        string
	Total       int
	Active      int
	Size        int64
	Reclaimable int64
}

// Template fields, as docker's.
func (r dfRow) TotalCount() string { return fmt.Sprint(r.Total) }
func (r dfRow) Sizes() string      { return units.HumanSize(float64(r.Size)) }
func (r dfRow) ReclaimableText() string {
	s := units.HumanSize(float64(r.Reclaimable))
	if r.Size > 0 {
		s += fmt.Sprintf(" (%d%%)", r.Reclaimable*100/r.Size)
	}
	return s
}

// dfTemplateRow is what `system df --format` templates see.
type dfTemplateRow struct {
	Type, TotalCount, Active, Size, Reclaimable string
}

type systemDfOptions struct {
	format  string
	verbose bool
}

func (c *cli) newSystemDfCommand() *cobra.Command {
	var o systemDfOptions
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show berth disk usage",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runSystemDf(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "", formatHelpList)
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "Show detailed information on space usage")
	return cmd
}

// runSystemDf prints images, containers, volumes and build cache use, as
// docker system df.
func (c *cli) runSystemDf(ctx context.Context, o systemDfOptions) error {
	store, err := c.images()
	if err != nil {
		return err
	}
	u, err := store.DiskUsage(ctx)
	if err != nil {
		return err
	}
	rows := []dfRow{{Type: "Images", Total: u.Images, Active: u.Active, Size: u.Size, Reclaimable: u.Reclaimable}}
	ctrs, err := c.containerUsage(ctx)
	if err != nil {
		return err
	}
	rows = append(rows, ctrs)
	vols, err := c.volumeUsage(ctx)
	if err != nil {
		return err
	}
	rows = append(rows, vols, dfRow{Type: "Build Cache"})

	items := make([]any, len(rows))
	for i, r := range rows {
		items[i] = dfTemplateRow{Type: r.Type, TotalCount: r.TotalCount(), Active: fmt.Sprint(r.Active), Size: r.Sizes(), Reclaimable: r.ReclaimableText()}
	}
	switch {
	case o.format == "json":
		for _, it := range items {
			b, err := json.Marshal(it)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "%s\n", b)
		}
		return nil
	case o.format != "" && o.format != "table":
		return writeTemplate(c.stdout, o.format, items, dfTemplateRow{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"})
	}
	if o.verbose {
		return c.writeDfVerbose(ctx)
	}
	tw := tabwriter.NewWriter(c.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", r.Type, r.Total, r.Active, r.Sizes(), r.ReclaimableText())
	}
	return tw.Flush()
}

// writeDfVerbose prints the per-image detail of system df -v.
func (c *cli) writeDfVerbose(ctx context.Context) error {
	store, err := c.images()
	if err != nil {
		return err
	}
	imgs, err := store.List(ctx)
	if err != nil {
		return err
	}
	used, err := c.imagesInUse(ctx)
	if err != nil {
		return err
	}
	// A layer shared by several images counts as shared size.
	users := map[string]int{}
	for _, img := range imgs {
		for _, ch := range img.ChainIDs {
			users[ch]++
		}
	}
	fmt.Fprintln(c.stdout, "Images space usage:")
	fmt.Fprintln(c.stdout)
	tw := tabwriter.NewWriter(c.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	for _, r := range imageRows(imgs, false) {
		var shared int64
		for i, ch := range r.img.ChainIDs {
			if users[ch] > 1 && i < len(r.img.Layers) {
				shared += r.img.Layers[i].UnpackedSize
			}
		}
		inUse := 0
		if used[r.img.ID] {
			inUse = 1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.repo, r.tag, r.ID(), r.CreatedSince(), r.Size(),
			units.HumanSizeWithPrecision(float64(shared), 3), units.HumanSizeWithPrecision(float64(r.img.Size-shared), 3), inUse)
	}
	return tw.Flush()
}

// volumeUsage is the Local Volumes row: a volume is active when a
// container uses it (unknown use counts as unused).
func (c *cli) volumeUsage(ctx context.Context) (dfRow, error) {
	row := dfRow{Type: "Local Volumes"}
	m, err := c.volumes()
	if err != nil {
		return row, err
	}
	vols, err := m.List(ctx, nil)
	if err != nil {
		return row, err
	}
	for _, v := range vols {
		row.Total++
		size := dirSize(v.Mountpoint)
		row.Size += size
		if users, err := m.InUse(ctx, v.Name); err == nil && len(users) > 0 {
			row.Active++
		} else {
			row.Reclaimable += size
		}
	}
	return row, nil
}

// dirSize is the apparent size of the regular files under dir (0 when it
// is missing), each hard-linked inode counted once.
func dirSize(dir string) int64 {
	var total int64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if strings.HasSuffix(p, dir) {
				return err
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if ino := inodeOf(fi); ino != 0 {
			if seen[ino] {
				return nil
			}
			seen[ino] = true
		}
		total += fi.Size()
		return nil
	})
	return total
}

// inodeOf is a file's inode number, 0 when unknown.
func inodeOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
