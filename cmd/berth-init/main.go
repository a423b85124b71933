// Command berth-init is a container's init before it execs the user's
// process: the monitor starts it in the container's new namespaces to
// mount the root filesystem, pivot_root, drop privileges and exec. It is
// the same code as `berth __init`, in a binary that links only the runtime,
// so that it starts fast (see engine/internal/sibling).
package main

import (
	"github.com/berthdev/berth/engine/runtime"
	// No collection before the exec: the init's heap dies with it.
	_ "github.com/berthdev/berth/internal/gcstart"
)

func main() {
	runtime.Init() // never returns
}
