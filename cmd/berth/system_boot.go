package main

import (
	"github.com/spf13/cobra"
)

// newSystemBootCommand is `berth system boot`: what docker's daemon does
// for restart policies when it starts with the machine. berth has no
// daemon, so a boot unit runs this once (examples/systemd/berth-boot.service).
func (c *cli) newSystemBootCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "boot",
		Short: "Start the containers a reboot stopped whose restart policy is always or unless-stopped (run once at boot)",
		Long: `Start the containers that ran before the machine restarted and whose restart
policy brings them back: "always", and "unless-stopped" unless they were stopped
by a user. "on-failure" and "no" containers stay stopped, as with docker. Each
project's containers start in depends_on order.

berth has no daemon: run this once at boot, for example with the systemd unit
in examples/systemd/berth-boot.service. Running it again starts nothing a user
stopped since the boot.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			eng, err := c.engine(ctx)
			if err != nil {
				return err
			}
			cs, err := eng.BootStarts(ctx)
			if err != nil || len(cs) == 0 {
				return err
			}
			b, err := c.backend(ctx, "Starting")
			if err != nil {
				return err
			}
			defer b.Close()
			return b.Boot(ctx, cs)
		},
	}
}
