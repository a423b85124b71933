package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/engine"
)

func (c *cli) newEventsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "events [OPTIONS] [SERVICE...]",
		Short: "Receive real time events from containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, name, err := c.projectOrName(cmd.Context(), nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			b, err := c.backend(cmd.Context(), "Running")
			if err != nil {
				return err
			}
			b.Close()
			return b.Events(cmd.Context(), name, args, func(e engine.Event) error {
				service := e.Attributes["com.docker.compose.service"]
				if asJSON {
					out, err := json.Marshal(map[string]any{
						"time": e.Time, "type": "container", "action": e.Action, "id": e.ID,
						"service": service, "attributes": e.Attributes,
					})
					if err != nil {
						return err
					}
					_, err = fmt.Fprintln(c.stdout, string(out))
					return err
				}
				attrs := make([]string, 0, len(e.Attributes))
				for k, v := range e.Attributes {
					attrs = append(attrs, k+"="+v)
				}
				sort.Strings(attrs)
				_, err := fmt.Fprintf(c.stdout, "%s container %s %s (%s)\n", e.Time.Format("2006-01-02 15:04:05.000000"),
					e.Action, e.ID, strings.Join(attrs, ", "))
				return err
			})
		},
		ValidArgsFunction: c.completeServices,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "Output events as a stream of json objects")
	return cmd
}
