package scheduler

import (
	"fmt"
	"time"
)

// State is where a resource's progress line stands.
type State int

// The progress states, as docker compose's (Working shows a spinner, the
// others a mark).
const (
	Working State = iota
	Done
	Warning
	Error
)

// String returns the state's name as it appears in --progress json.
func (s State) String() string {
	switch s {
	case Working:
		return "working"
	case Done:
		return "done"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return "unknown"
}

// Event is one progress update for one resource. Successive events with
// the same Resource update the same line of the live view.
type Event struct {
	// Resource names the object: "Network app_default", "Volume app_data",
	// "Container app-db-1", "Image postgres:16". Empty for a message that
	// belongs to no resource (a warning).
	Resource string
	// Parent is the resource this one belongs to (a layer of an image).
	Parent string
	// State says whether the work is under way, done, or failed.
	State State
	// Status is the short word docker compose shows: "Creating", "Created",
	// "Starting", "Started", "Waiting", "Healthy", "Stopping", "Stopped",
	// "Removing", "Removed", "Pulling", "Pulled", "Running", "Recreate",
	// "Recreated", "Exited", "Error".
	Status string
	// Text is an optional detail: an error message, a cause, why a stop
	// ended with SIGKILL.
	Text string
	// Current and Total are the progress of a transfer, in bytes (0 when
	// not a transfer).
	Current, Total int64
	// Time is when the event happened (set by Emit helpers when zero).
	Time time.Time
}

// Events receives progress events. Implementations must be safe for
// concurrent use: the scheduler emits from many goroutines.
type Events interface {
	Emit(Event)
}

// discardEvents is the Events used when Options.Events is nil.
type discardEvents struct{}

func (discardEvents) Emit(Event) {}

// emitter adds helpers to an Events sink.
type emitter struct{ Events }

func (e emitter) emit(resource string, st State, status, text string) {
	e.Emit(Event{Resource: resource, State: st, Status: status, Text: text, Time: time.Now()})
}

func (e emitter) working(resource, status string) { e.emit(resource, Working, status, "") }
func (e emitter) done(resource, status string)    { e.emit(resource, Done, status, "") }
func (e emitter) doneText(resource, status, text string) {
	e.emit(resource, Done, status, text)
}
func (e emitter) warn(resource, text string) { e.emit(resource, Warning, "Warning", text) }
func (e emitter) fail(resource string, err error) {
	e.emit(resource, Error, "Error", err.Error())
}

// Resource names, as docker compose prints them.
func containerRes(name string) string { return "Container " + name }
func networkRes(name string) string   { return "Network " + name }
func volumeRes(name string) string    { return "Volume " + name }
func imageRes(ref string) string      { return "Image " + ref }

// LogConsumer receives the output of containers (attached `up`, `logs`)
// and status lines about them ("app-web-1 exited with code 0"). It must be
// safe for concurrent use.
type LogConsumer interface {
	// Log is one line of a container's output, without its newline.
	// Stream is "stdout" or "stderr".
	Log(container, service, stream string, t time.Time, line []byte)
	// Status is a message about a container, printed with its prefix.
	Status(container, service, msg string)
	// Register announces a container before its first line, so that
	// prefixes can be padded to the widest name.
	Register(container, service string)
}

// kindError is an error of an errdefs kind whose message does not end in
// the kind's name, for messages shown to users as they are.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func kindErrorf(kind error, format string, a ...any) error {
	return &kindError{msg: fmt.Sprintf(format, a...), kind: kind}
}
