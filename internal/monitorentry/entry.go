// Package monitorentry dispatches `berth __monitor` (a container's monitor)
// from a package initializer, before the rest of the binary initialises.
//
// A monitor lives as long as its container, one per container, and is
// started on every container start: it must start fast and stay small. Go
// initialises packages in import-path order as soon as their imports are
// ready, so this package runs once the monitor, the network package and
// their few dependencies are ready, and before compose-go, the image store,
// cobra and theirs (JSON schemas, reference regexps: ~2.7 MB of heap and
// 10-30 ms measured). berth's main package imports it for its side effect;
// main's own dispatch of `__monitor` is the fallback.
package monitorentry

import (
	"fmt"
	"os"

	"github.com/berthdev/berth/engine/monitor"
	// The collector stays off until the container runs: the monitor
	// turns it on (at its own, lower, percentage) once the start is over.
	_ "github.com/berthdev/berth/internal/gcstart"
	"github.com/berthdev/berth/internal/netadapter"
	"github.com/berthdev/berth/network"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == monitor.Arg {
		Run() // never returns
	}
}

// Run is the monitor's entry point: it reads the container from its
// arguments (as monitor.Spawn gives them) and supervises it, with the
// network manager of the container's root for bridge networks and DNS.
// It never returns.
func Run() {
	paths, id, err := monitor.ParseArgs(os.Args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	opts := monitor.MainOptions{Paths: paths, ID: id}
	if m, err := network.New(network.Options{Paths: paths}); err == nil {
		opts.Networker = netadapter.Networker{M: m}
	}
	monitor.Main(opts)
}
