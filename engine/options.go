package engine

import (
	"io"
	"time"

	"github.com/berthdev/berth/engine/events"
)

// StopOptions tune Stop.
type StopOptions struct {
	// Timeout is the grace period before SIGKILL; nil means the
	// container's (stop_grace_period, default 10 s); negative waits forever.
	Timeout *time.Duration
	// Signal replaces the container's stop signal when set.
	Signal string
	// NoWaitCleanup returns as soon as the container has stopped for good,
	// while its monitor still tears down (cgroup, network endpoints): for
	// a caller that removes the container next (Remove waits for it) and
	// has other containers to stop meanwhile.
	NoWaitCleanup bool
}

// StopResult says how a container stopped.
type StopResult struct {
	// Killed is true when the container was killed with SIGKILL rather
	// than stopped by its stop signal.
	Killed bool
	// Reason says why it was killed, e.g. "PID 1 has no handler for
	// SIGTERM" (killed at once: the signal could not arrive) or "did not
	// exit within 10s of SIGTERM".
	Reason string
	// ExitCode is the container's exit code.
	ExitCode int
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force kills a running container first (else ErrConflict).
	Force bool
}

// ListOptions filter List.
type ListOptions struct {
	// All includes stopped containers (docker ps -a).
	All bool
	// Labels keeps containers that have every label; an empty value
	// matches any value of the key.
	Labels map[string]string
}

// WinSize is a terminal size.
type WinSize struct{ Rows, Cols uint16 }

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	Cmd []string
	// Env is KEY=VALUE applied over the container's environment.
	Env []string
	// User and WorkingDir replace the container's when set.
	User       string
	WorkingDir string
	// Tty gives the process a terminal (exec -t); Interactive connects
	// Stdin (exec -i).
	Tty         bool
	Interactive bool
	// Privileged gives the process all capabilities and no seccomp filter.
	Privileged bool
	// Detach starts the process and returns 0 at once (exec -d).
	Detach bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Resize delivers terminal size changes (exec -t); the first value,
	// when already there, is the initial size.
	Resize <-chan WinSize
}

// LogsOptions select log entries.
type LogsOptions struct {
	// Follow keeps reading new entries until the container has stopped
	// for good (or ctx is done).
	Follow bool
	// Tail is how many of the last entries to start with; -1 all, 0 none.
	Tail int
	// Since and Until bound the entries' times (zero: unbounded).
	Since, Until time.Time
}

// LogEntry is one line of a container's output.
type LogEntry struct {
	Time time.Time
	// Stream is "stdout" or "stderr".
	Stream string
	// Line is the text without its trailing newline.
	Line []byte
	// Partial is true when the line was cut (more than 16 KiB without a
	// newline); the next entry continues it.
	Partial bool
}

// Stats are a container's resource figures at one moment.
type Stats struct {
	Read time.Time `json:"read"`
	ID   string    `json:"id"`
	Name string    `json:"name"`
	// CPUUsage is the total CPU time used, in nanoseconds; SystemUsage the
	// host's total (for docker's percentage) and OnlineCPUs its count.
	CPUUsage    uint64 `json:"cpu_usage"`
	SystemUsage uint64 `json:"system_usage"`
	OnlineCPUs  int    `json:"online_cpus"`
	// MemoryUsage excludes the inactive file cache, as docker shows it.
	MemoryUsage uint64 `json:"memory_usage"`
	MemoryLimit uint64 `json:"memory_limit"`
	PidsCurrent uint64 `json:"pids_current"`
	PidsLimit   uint64 `json:"pids_limit,omitempty"`
	OOMKills    uint64 `json:"oom_kills,omitempty"`
	// NetRx and NetTx are bytes over the container's interfaces.
	NetRx uint64 `json:"net_rx"`
	NetTx uint64 `json:"net_tx"`
	// BlockRead and BlockWrite are bytes of block I/O (0 when unknown).
	BlockRead  uint64 `json:"block_read"`
	BlockWrite uint64 `json:"block_write"`
}

// Event is a container event (create, start, die, stop, kill, pause,
// unpause, oom, destroy, "health_status: healthy", …) with the container's
// labels in Attributes (declared in engine/events).
type Event = events.Event
