// Command berth is a daemonless, Compose-first orchestrator for local
// development stacks, with its own container engine.
//
// main dispatches the hidden re-exec entry points (`__init`, `__monitor`)
// before cobra sees the arguments; they never return.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/berthdev/berth/internal/gcstart"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__init":
			runInit() // never returns
		case "__monitor":
			runMonitor() // never returns (sets its own GC once started)
		}
	}
	// A command's heap is a few MB: with a goal of 4 × the live heap (16
	// MB at least) most finish without a collection, and long-running
	// ones (attached up, logs -f) collect at 4 × what they keep.
	gcstart.Done(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	endTrace := startGoTrace()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	endTrace()
	stop()
	os.Exit(code)
}
