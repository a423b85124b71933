package main

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/scheduler"
)

type logsOptions struct {
	follow, timestamps, noColor, noPrefix bool
	tail, since, until                    string
	index                                 int
}

func (c *cli) newLogsCommand() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] [SERVICE...]",
		Short: "View output from containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			opts := scheduler.LogOptions{Services: args, Follow: o.follow, Tail: -1, Timestamps: o.timestamps, Index: o.index}
			if o.tail != "all" && o.tail != "" {
				n, err := strconv.Atoi(o.tail)
				if err != nil || n < 0 {
					return invalidArgument("invalid --tail value %q: a number of lines or \"all\"", o.tail)
				}
				opts.Tail = n
			}
			var err error
			now := time.Now()
			if opts.Since, err = parseTimeFlag(o.since, now); err != nil {
				return invalidArgument("invalid --since value %q: %v", o.since, err)
			}
			if opts.Until, err = parseTimeFlag(o.until, now); err != nil {
				return invalidArgument("invalid --until value %q: %v", o.until, err)
			}
			p, name, err := c.projectOrName(ctx, nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			b, err := c.backend(ctx, "Running")
			if err != nil {
				return err
			}
			defer b.Close()
			printer := display.NewLogPrinter(c.stdout, c.stderr, display.LogOptions{
				Color:      !o.noColor && !c.opts.NoColor && display.UseColor(c.stdout, c.opts.Ansi),
				Prefix:     !o.noPrefix,
				Timestamps: o.timestamps,
				Project:    name,
			})
			return b.Logs(ctx, name, printer, opts)
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "Follow log output")
	f.StringVarP(&o.tail, "tail", "n", "all", "Number of lines to show from the end of the logs for each container")
	f.StringVar(&o.since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.StringVar(&o.until, "until", "", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "Show timestamps")
	f.BoolVar(&o.noColor, "no-color", false, "Produce monochrome output")
	f.BoolVar(&o.noPrefix, "no-log-prefix", false, "Don't print prefix in logs")
	f.IntVar(&o.index, "index", 0, "index of the container if service has multiple replicas")
	return cmd
}

// parseTimeFlag reads --since/--until: RFC 3339 (with or without
// nanoseconds and zone), a date, a Unix timestamp, or a duration before
// now ("42m").
func parseTimeFlag(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	return time.Time{}, errInvalidTime
}

var errInvalidTime = invalidArgument("not a timestamp nor a duration")
