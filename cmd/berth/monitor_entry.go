package main

import (
	"fmt"
	"os"

	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/network"
)

// runMonitor is the per-container monitor entry point
// (`berth __monitor ID ROOT RUN`, started by the engine): it supervises the
// container until it has stopped for good, with the network manager of the
// container's root for bridge networks and DNS.
func runMonitor() {
	paths, id, err := monitor.ParseArgs(os.Args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	opts := monitor.MainOptions{Paths: paths, ID: id}
	if m, err := network.New(network.Options{Paths: paths}); err == nil {
		opts.Networker = networker{m: m}
	}
	monitor.Main(opts) // never returns
}
