package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/berthdev/berth/engine/state"
)

// Arg is the argument that makes the berth binary run Main.
const Arg = "__monitor"

// ReexecEnv is set in a monitor's environment (to Arg).
const ReexecEnv = "BERTH_REEXEC"

// readyFD is the descriptor of the ready pipe the monitor inherits.
const readyFD = 3

// SpawnOptions start a monitor.
type SpawnOptions struct {
	Paths state.Paths
	ID    string
	// Name is shown in ps ("berth-monitor <name>").
	Name string
	// Self is the binary to re-exec; "" means /proc/self/exe.
	Self string
	// Env is the monitor's environment; nil means none but BERTH_ROOT.
	Env []string
}

// readyMsg is the one status line a monitor writes on its ready pipe.
type readyMsg struct {
	OK    bool   `json:"ok,omitempty"`
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"`
	Code  int    `json:"code,omitempty"`
}

// StartError is a monitor's report that the container could not start.
// ExitCode is what docker records (127 executable not found, 126 not
// executable, else 128).
type StartError struct {
	Msg  string
	Code int
	kind error
}

func (e *StartError) Error() string { return e.Msg }

// Unwrap gives the errdefs kind.
func (e *StartError) Unwrap() error { return e.kind }

// Spawn starts `berth __monitor <id>` detached (its own session, stdio on
// /dev/null, cwd /), waits for its one status line and returns: nil once
// the container's process runs, or the start error. The monitor is not
// waited for: it outlives the caller.
//
//	engine (Spawn)                          monitor (Main)
//	  exec /proc/self/exe __monitor ID ───►  subreaper, lock monitor.lock,
//	  (Setsid, fd 3 = ready pipe)            read config, create cgroup,
//	                                         runtime.Start (init, network),
//	                                         write state.json
//	  read one line from fd 3 ◄───────────   {"ok":true} or {"error":…}; close fd 3
//	  Process.Release, return                supervise until the end
func Spawn(ctx context.Context, opts SpawnOptions) error {
	self := opts.Self
	if self == "" {
		self = "/proc/self/exe"
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		_ = w.Close()
		return err
	}
	defer devnull.Close()
	env := opts.Env
	if env == nil {
		env = []string{"BERTH_ROOT=" + opts.Paths.Root}
	}
	// Marks the process as a re-exec: a test binary that failed to
	// dispatch Arg must not run the tests (and start monitors) again.
	env = append(env, ReexecEnv+"="+Arg)
	// One P: the monitor is I/O-bound, and a Go process with more spends
	// its start-up spinning threads and GC workers (CPU measured per start).
	env = append(env, "GOMAXPROCS=1")
	name := "berth-monitor"
	if opts.Name != "" {
		name += " " + opts.Name
	}
	cmd := &exec.Cmd{
		Path:        self,
		Args:        []string{name, Arg, opts.ID, opts.Paths.Root, opts.Paths.Run},
		Env:         env,
		Dir:         "/",
		Stdin:       devnull,
		Stdout:      devnull,
		Stderr:      devnull,
		ExtraFiles:  []*os.File{w},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	_ = w.Close()
	if err != nil {
		return fmt.Errorf("container %s: start monitor: %w", opts.ID, err)
	}
	done := make(chan struct{})
	var line []byte
	var rerr error
	go func() {
		defer close(done)
		line, rerr = bufio.NewReader(r).ReadBytes('\n')
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// The monitor goes on and records whatever happens; the caller
		// sees the cancellation.
		go reap(cmd)
		return ctx.Err()
	}
	if rerr != nil && !errors.Is(rerr, io.EOF) || len(line) == 0 {
		// It died before reporting.
		_ = cmd.Wait()
		return fmt.Errorf("container %s: monitor exited before reporting (%v)", opts.ID, cmd.ProcessState)
	}
	// Not Release: a long-lived caller (tests, a scheduler starting many
	// containers) reaps the monitor when it ends, so no zombie stays; a
	// CLI that exits first hands it to init, which reaps it.
	go reap(cmd)
	var m readyMsg
	if err := json.Unmarshal(line, &m); err != nil {
		return fmt.Errorf("container %s: monitor: bad status %q", opts.ID, line)
	}
	if m.OK {
		return nil
	}
	return &StartError{Msg: m.Error, Code: m.Code, kind: kindError(m.Kind, m.Error)}
}

func reap(cmd *exec.Cmd) { _ = cmd.Wait() }
