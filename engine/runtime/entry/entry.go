// Package entry dispatches `berth __init` (the container init) from a
// package initializer, before the rest of the binary initialises.
//
// Go initialises packages in import-path order as soon as their imports are
// ready, so this package runs right after engine/runtime and its few
// dependencies, and before compose-go, the image store, cobra and their
// dependencies (JSON schemas, reference regexps: 10-20 ms measured on a
// loaded 2-core VM). Every container start pays the init's startup, so
// berth's main package imports this for its side effect; main's own
// dispatch of `__init` is the fallback if it is ever dropped.
package entry

import (
	"os"

	"github.com/berthdev/berth/engine/runtime"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == runtime.InitArg {
		runtime.Init() // never returns
	}
}
