package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

func (c *cli) newPortCommand() *cobra.Command {
	var protocol string
	var index int
	cmd := &cobra.Command{
		Use:   "port [OPTIONS] SERVICE PRIVATE_PORT",
		Short: "Print the public port for a port binding",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			port, err := strconv.Atoi(args[1])
			if err != nil || port <= 0 || port > 65535 {
				return invalidArgument("invalid port %q", args[1])
			}
			name, err := c.projectName(cmd.Context())
			if err != nil {
				return err
			}
			b, err := c.backend(cmd.Context(), "Running")
			if err != nil {
				return err
			}
			defer b.Close()
			addr, err := b.Port(cmd.Context(), name, args[0], port, protocol, index)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, addr)
			return nil
		},
		ValidArgsFunction: c.completeServices,
	}
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "tcp or udp")
	cmd.Flags().IntVar(&index, "index", 0, "Index of the container if service has multiple replicas")
	return cmd
}
