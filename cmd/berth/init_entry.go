package main

import (
	"fmt"
	"os"
)

// runInit is the container init entry point (`berth __init`). It is replaced
// by engine/runtime's Init when the engine lands.
func runInit() {
	fmt.Fprintln(os.Stderr, "berth __init: not built yet")
	os.Exit(127)
}
