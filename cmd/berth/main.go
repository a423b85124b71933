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
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__init":
			runInit() // never returns
		case "__monitor":
			runMonitor() // never returns
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
