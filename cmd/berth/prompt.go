package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// confirmer returns the scheduler's Confirm for a command with the
// progress display d: it asks on standard output and reads one line of
// standard input, as docker compose's prompt does — "? question (y/N) " on
// a terminal, the question alone otherwise. "y", "yes" and what
// strconv.ParseBool reads as true mean yes; anything else, and the end of
// the input, mean no. The live progress view ends first, so that it does
// not draw over the question (later progress is printed line by line).
func (c *cli) confirmer(d interface{ Close() }) func(ctx context.Context, question string) (bool, error) {
	return func(ctx context.Context, question string) (bool, error) {
		d.Close()
		if isTerminalReader(c.stdin) {
			fmt.Fprintf(c.stdout, "? %s (y/N) ", question)
		} else {
			fmt.Fprintf(c.stdout, "%s ", question)
		}
		// The read ends with a line or the end of the input; a cancelled
		// command does not wait for it (the process is about to exit).
		answer := make(chan string, 1)
		go func() { answer <- readLine(c.stdin) }()
		select {
		case <-ctx.Done():
			fmt.Fprintln(c.stdout)
			return false, ctx.Err()
		case a := <-answer:
			if !strings.HasSuffix(a, "\n") {
				fmt.Fprintln(c.stdout) // no answer: end the question's line
			}
			return yes(a), nil
		}
	}
}

// readLine reads up to and including the next newline, one byte at a time
// so that nothing after it is consumed (a second question reads the next
// line of a piped answer).
func readLine(r io.Reader) string {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			b.WriteByte(buf[0])
			if buf[0] == '\n' {
				return b.String()
			}
		}
		if err != nil {
			return b.String()
		}
	}
}

// yes reports whether an answer means yes.
func yes(answer string) bool {
	a := strings.ToLower(strings.TrimSpace(answer))
	if a == "y" || a == "yes" {
		return true
	}
	ok, _ := strconv.ParseBool(a)
	return ok
}
