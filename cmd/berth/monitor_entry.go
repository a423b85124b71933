package main

import (
	"fmt"
	"os"
)

// runMonitor is the per-container monitor entry point (`berth __monitor ID`).
// It is replaced by engine/monitor's Main when the engine lands.
func runMonitor() {
	fmt.Fprintln(os.Stderr, "berth __monitor: not built yet")
	os.Exit(127)
}
