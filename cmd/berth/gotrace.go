package main

import (
	"os"
	"runtime/trace"
)

// startGoTrace writes a Go execution trace of this run to the file named by
// BERTH_GOTRACE, for finding where a command's time goes (`go tool trace`).
// It returns the function that ends the trace.
func startGoTrace() func() {
	path := os.Getenv("BERTH_GOTRACE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	if err := trace.Start(f); err != nil {
		_ = f.Close()
		return func() {}
	}
	return func() {
		trace.Stop()
		_ = f.Close()
	}
}
