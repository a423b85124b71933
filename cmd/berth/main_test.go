package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/berthdev/berth/engine/monitor"
)

// TestMain runs the re-exec entry points when the engine starts monitors
// and container inits from this test binary (/proc/self/exe), as main does
// for the berth binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__init":
			runInit()
		case "__monitor":
			runMonitor()
		}
	}
	if os.Getenv(monitor.ReexecEnv) != "" {
		fmt.Fprintln(os.Stderr, "re-executed test binary did not dispatch", os.Args)
		os.Exit(3)
	}
	os.Exit(m.Run())
}
