package main

import (
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

// newCommitCommand is docker compose's `commit`: a new image of a service
// container's image and the changes it made.
func (c *cli) newCommitCommand() *cobra.Command {
	var o scheduler.CommitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] SERVICE [REPOSITORY[:TAG]]",
		Short: "Create a new image from a service container's changes",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			o.Service = args[0]
			if len(args) == 2 {
				o.Ref = args[1]
			}
			o.DryRun = c.opts.DryRun
			name, b, err := c.projectBackend(ctx, "Committing")
			if err != nil {
				return err
			}
			defer b.Close()
			_, err = b.Commit(ctx, name, o)
			return err
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.IntVar(&o.Index, "index", 0, "index of the container if service has multiple replicas.")
	f.BoolVarP(&o.Pause, "pause", "p", true, "Pause container during commit")
	f.StringVarP(&o.Message, "message", "m", "", "Commit message")
	f.StringVarP(&o.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringArrayVarP(&o.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	return cmd
}
