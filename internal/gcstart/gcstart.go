// Package gcstart keeps the garbage collector off while a berth binary
// starts, unless GOGC is set.
//
// Package initialisers allocate a few MB that live for the whole run
// (compose-go's JSON schemas alone ~1.7 MB), and the collector's first cycle
// came in the middle of them: 19 ms of CPU and 5 ms of wall time of every
// berth command on a 2-core VM. Go initialises packages in import-path
// order as soon as their imports are ready, so this one, importing only
// the runtime's and os, runs before the heavy ones; main calls Done.
package gcstart

import (
	"os"
	"runtime/debug"
)

func init() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(-1)
	}
}

// Done turns the collector back on at percent (GOGC's meaning), unless
// GOGC is set.
func Done(percent int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}
