package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/scheduler"
)

// newExportCommand is docker compose's `export`: a service container's
// file system as a tar archive, on stdout or in a file.
func (c *cli) newExportCommand() *cobra.Command {
	var index int
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] SERVICE",
		Short: "Export a service container's filesystem as a tar archive",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runExport(cmd.Context(), args[0], index, output)
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.IntVar(&index, "index", 0, "index of the container if service has multiple replicas.")
	f.StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func (c *cli) runExport(ctx context.Context, service string, index int, output string) error {
	if output == "" && display.IsTerminal(c.stdout) {
		return invalidArgument("output option is required when exporting to terminal: use -o FILE or redirect the output")
	}
	name, b, err := c.projectBackend(ctx, "Exporting")
	if err != nil {
		return err
	}
	defer b.Close()
	opts := scheduler.ExportOptions{Service: service, Index: index, Out: c.stdout, DryRun: c.opts.DryRun}
	if output == "" || c.opts.DryRun {
		return b.Export(ctx, name, opts)
	}
	// The archive appears whole or not at all, as docker's atomic writer.
	tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing
	opts.Out = tmp
	err = b.Export(ctx, name, opts)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), output)
}
