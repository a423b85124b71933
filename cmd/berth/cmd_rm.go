package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

func (c *cli) newRmCommand() *cobra.Command {
	var force, stop, volumes bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] [SERVICE...]",
		Short: "Removes stopped service containers",
		Long: "Removes stopped service containers\n\nBy default, anonymous volumes attached to containers will not be removed. You\n" +
			"can override this with -v. To list all volumes, use \"berth volume ls\".\n\nAny data which is not in a volume will be lost.",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, name, err := c.projectOrName(ctx, nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			b, err := c.backend(ctx, "Removing")
			if err != nil {
				return err
			}
			defer b.Close()
			opts := scheduler.RemoveOptions{Services: args, Stop: stop, Force: force, Volumes: volumes, DryRun: c.opts.DryRun}
			if !force && !c.opts.DryRun {
				names, err := b.Removable(ctx, name, opts)
				if err != nil {
					return err
				}
				if len(names) == 0 {
					fmt.Fprintln(c.stderr, "No stopped containers")
					return nil
				}
				fmt.Fprintf(c.stdout, "Going to remove %s\n? Are you sure? [y/N] ", strings.Join(names, ", "))
				line, _ := bufio.NewReader(c.stdin).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return nil
				}
			}
			return b.Rm(ctx, name, opts)
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.BoolVarP(&force, "force", "f", false, "Don't ask to confirm removal")
	f.BoolVarP(&stop, "stop", "s", false, "Stop the containers, if required, before removing")
	f.BoolVarP(&volumes, "volumes", "v", false, "Remove any anonymous volumes attached to containers")
	return cmd
}
