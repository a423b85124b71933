package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/engine"
)

func (c *cli) newStatsCommand() *cobra.Command {
	var noStream, noTrunc, all bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [SERVICE]",
		Short: "Display a live stream of container(s) resource usage statistics",
		Args:  requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			name, b, err := c.projectBackend(ctx, "Running")
			if err != nil {
				return err
			}
			b.Close()
			prev, err := b.Stats(ctx, name, args)
			if err != nil {
				return err
			}
			for first := true; ; first = false {
				wait := time.Second
				if first {
					wait = 300 * time.Millisecond
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait):
				}
				cur, err := b.Stats(ctx, name, args)
				if err != nil {
					return err
				}
				if !noStream {
					fmt.Fprint(c.stdout, "\033[2J\033[H")
				}
				if err := printStats(c.stdout, prev, cur, format, !noTrunc); err != nil {
					return err
				}
				if noStream {
					return nil
				}
				prev = cur
			}
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	f.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	f.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	f.StringVar(&format, "format", "", "Format output using a custom template ('table' or 'json')")
	return cmd
}

type statsLine struct {
	Container string `json:"Container"`
	Name      string `json:"Name"`
	ID        string `json:"ID"`
	CPUPerc   string `json:"CPUPerc"`
	MemUsage  string `json:"MemUsage"`
	MemPerc   string `json:"MemPerc"`
	NetIO     string `json:"NetIO"`
	BlockIO   string `json:"BlockIO"`
	PIDs      string `json:"PIDs"`
}

func printStats(w io.Writer, prev, cur []*engine.Stats, format string, trunc bool) error {
	before := map[string]*engine.Stats{}
	for _, s := range prev {
		before[s.ID] = s
	}
	var lines []statsLine
	for _, s := range cur {
		cpu := 0.0
		if p := before[s.ID]; p != nil && s.SystemUsage > p.SystemUsage && s.CPUUsage >= p.CPUUsage {
			cpu = float64(s.CPUUsage-p.CPUUsage) / float64(s.SystemUsage-p.SystemUsage) * float64(max(s.OnlineCPUs, 1)) * 100
		}
		mem := 0.0
		if s.MemoryLimit > 0 {
			mem = float64(s.MemoryUsage) / float64(s.MemoryLimit) * 100
		}
		id := s.ID
		if trunc && len(id) > 12 {
			id = id[:12]
		}
		lines = append(lines, statsLine{Container: id, Name: s.Name, ID: id,
			CPUPerc: fmt.Sprintf("%.2f%%", cpu), MemUsage: bytesIEC(s.MemoryUsage) + " / " + bytesIEC(s.MemoryLimit),
			MemPerc: fmt.Sprintf("%.2f%%", mem), NetIO: bytesSI(s.NetRx) + " / " + bytesSI(s.NetTx),
			BlockIO: bytesSI(s.BlockRead) + " / " + bytesSI(s.BlockWrite), PIDs: fmt.Sprint(s.PidsCurrent)})
	}
	if format == "json" {
		for _, l := range lines {
			b, _ := json.Marshal(l)
			fmt.Fprintln(w, string(b))
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Name, l.CPUPerc, l.MemUsage, l.MemPerc, l.NetIO, l.BlockIO, l.PIDs)
	}
	return tw.Flush()
}

func bytesIEC(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

func bytesSI(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
