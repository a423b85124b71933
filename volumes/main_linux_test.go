package volumes_test

import (
	"os"
	"testing"

	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/engine/runtime"
)

// binDir holds the berth binary the end-to-end tests build ("" if none).
var binDir string

// TestMain dispatches the engine's re-exec entry points (the test binary is
// /proc/self/exe for the monitors and inits the engine tests start).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case runtime.InitArg:
			runtime.Init()
		case monitor.Arg:
			p, id, err := monitor.ParseArgs(os.Args)
			if err != nil {
				os.Exit(2)
			}
			monitor.Main(monitor.MainOptions{Paths: p, ID: id})
		}
	}
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}
