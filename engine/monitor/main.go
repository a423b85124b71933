package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"
	"unsafe"

	"github.com/berthdev/berth/engine/cgroups"
	"github.com/berthdev/berth/engine/events"
	"github.com/berthdev/berth/engine/internal/sibling"
	"github.com/berthdev/berth/engine/netspec"
	"github.com/berthdev/berth/engine/state"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Networker is what the monitor needs of the network package: the same
// methods as engine.Networker, over the same types (engine/netspec), so the
// one adapter in cmd/berth serves both.
type Networker interface {
	Attach(ctx context.Context, req netspec.AttachRequest) (netspec.AttachResult, error)
	Detach(ctx context.Context, containerID string) error
	ServeDNS(ctx context.Context, containerID string, pid int) error
}

// MainOptions are the monitor's inputs.
type MainOptions struct {
	Paths state.Paths
	ID    string
	// Networker attaches bridge networks and serves DNS; nil allows only
	// network modes none and host.
	Networker Networker
	// Logger gets diagnostics; nil writes warnings to monitor.log in the
	// container's directory.
	Logger *slog.Logger
	// Self is the binary the runtime runs as the container's init; ""
	// is berth-init beside the monitor's executable, else /proc/self/exe.
	Self string
}

// ParseArgs reads the arguments Spawn gives a monitor
// (argv: name, "__monitor", id, root, run).
func ParseArgs(args []string) (state.Paths, string, error) {
	if len(args) < 5 || args[1] != Arg {
		return state.Paths{}, "", fmt.Errorf("usage: berth %s ID ROOT RUN: %w", Arg, errdefs.ErrInvalidArgument)
	}
	return state.Paths{Root: args[3], Run: args[4]}, args[2], nil
}

// Main is the monitor (`berth __monitor`): it runs the container, records
// its state, writes its log, applies its restart policy and healthcheck and
// serves the control socket, until the container has stopped for good. It
// never returns.
func Main(opts MainOptions) {
	code := 1
	func() {
		defer func() {
			if r := recover(); r != nil {
				code = 2
				crashNote(opts, r)
			}
		}()
		code = mainRun(opts)
	}()
	os.Exit(code)
}

func crashNote(opts MainOptions, r any) {
	f, err := os.OpenFile(filepath.Join(opts.Paths.Container(opts.ID), MonitorLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		fmt.Fprintf(f, "%s monitor panic: %v\n%s\n", time.Now().Format(time.RFC3339Nano), r, debug.Stack())
		_ = f.Close()
	}
}

// Memory: a monitor lives as long as its container and there is one per
// container, so it keeps its heap small and collects more often than the
// default. No memory limit: the berth binary's package initialisation
// alone can be near any small limit, and the GC would then run without end.
const gcPercent = 50

func mainRun(opts MainOptions) int {
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	setComm("berth-monitor")

	ready := os.NewFile(readyFD, "ready")
	if _, err := ready.Stat(); err != nil {
		ready = nil // started by hand: nobody to report to
	}
	m, err := newMonitor(opts)
	if err != nil {
		report(ready, err)
		return 1
	}
	defer m.close()
	return m.supervise(ready)
}

// setComm sets the thread name ps shows as comm.
func setComm(name string) {
	b := append([]byte(name), 0)
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0)
}

// report writes the one status line on the ready pipe and closes it.
func report(ready *os.File, err error) {
	if ready == nil {
		return
	}
	msg := readyMsg{OK: err == nil}
	if err != nil {
		msg.Error, msg.Kind, msg.Code = err.Error(), errKind(err), 128
		var ce interface{ ExitCode() int }
		if errors.As(err, &ce) {
			msg.Code = ce.ExitCode()
		}
	}
	data, _ := json.Marshal(msg)
	_, _ = ready.Write(append(data, '\n'))
	_ = ready.Close()
}

// monitor is one container's supervisor.
type monitor struct {
	paths state.Paths
	id    string
	dir   string // persistent directory
	run   string // volatile directory
	cfg   Config
	net   Networker
	log   *slog.Logger
	logf  *os.File
	self  string
	ev    *events.Log
	cgm   *cgroups.Manager
	lock  *state.FileLock
	ln    *net.UnixListener
	jlog  *jsonLog
	boot  string

	mu  sync.Mutex
	st  State
	cur *runState // the running container, nil between runs
	// wake interrupts a restart back-off (stop asked for).
	wake chan struct{}
	// done is closed once the container has stopped for good and the
	// final state is written.
	done    chan struct{}
	attachs map[*attachConn]struct{}
	stdin   io.WriteCloser
	// early is the output an interactive container produced before its
	// first attach (keepEarly while it may still come).
	early     []earlyFrame
	earlySize int
	keepEarly bool
	// replies counts control answers still being written, so the monitor
	// does not exit (or remove the container) under a client's feet.
	replies sync.WaitGroup
}

func newMonitor(opts MainOptions) (_ *monitor, err error) {
	m := &monitor{
		paths:   opts.Paths,
		id:      opts.ID,
		dir:     opts.Paths.Container(opts.ID),
		run:     opts.Paths.ContainerRun(opts.ID),
		net:     opts.Networker,
		log:     opts.Logger,
		self:    initBinary(opts.Self),
		ev:      events.New(opts.Paths.Run),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		attachs: map[*attachConn]struct{}{},
		boot:    bootID(),
	}
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	if err := os.MkdirAll(m.run, 0o700); err != nil {
		return nil, err
	}
	lk, err := state.TryLock(filepath.Join(m.run, LockFile))
	if err != nil {
		if errors.Is(err, state.ErrLocked) {
			return nil, fmt.Errorf("container %s already has a monitor: %w", opts.ID, errdefs.ErrAlreadyExists)
		}
		return nil, err
	}
	m.lock = lk
	if m.log == nil {
		f, err := os.OpenFile(filepath.Join(m.dir, MonitorLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, err
		}
		m.logf = f
		m.log = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	var rec struct {
		Monitor Config `json:"monitor"`
	}
	if err := state.ReadJSON(filepath.Join(m.dir, ConfigFile), &rec); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %s: %w", opts.ID, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("container %s: read config: %w", opts.ID, err)
	}
	if rec.Monitor.Version != Version {
		return nil, fmt.Errorf("container %s was created by a berth with config v%d, this is v%d: %w", opts.ID, rec.Monitor.Version, Version, errdefs.ErrFailedPrecondition)
	}
	m.cfg = rec.Monitor
	if m.cfg.Network.Mode == "bridge" && m.net == nil {
		return nil, fmt.Errorf("container %s: network mode bridge needs a networker: %w", opts.ID, errdefs.ErrFailedPrecondition)
	}
	// Carry over what the last run left (restart count, last exit).
	var last State
	if err := state.ReadJSON(filepath.Join(m.dir, LastStateFile), &last); err == nil {
		m.st = last
	}
	m.st.Version = Version
	m.st.Stopping = false
	m.st.Health = nil
	m.cgm, err = cgroups.New(cgroups.Options{Root: m.cfg.Cgroup.Root, Parent: m.cfg.Cgroup.Parent, Logger: m.log})
	if err != nil {
		return nil, fmt.Errorf("container %s: cgroups: %w", opts.ID, err)
	}
	_ = os.Remove(filepath.Join(m.run, SocketFile))
	sock, done, err := shortPath(m.run, SocketFile)
	if err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	done()
	if err != nil {
		return nil, fmt.Errorf("container %s: control socket: %w", opts.ID, err)
	}
	ln.SetUnlinkOnClose(false)
	m.ln = ln
	if m.jlog, err = openJSONLog(LogPath(m.paths, m.id), m.cfg.Log); err != nil {
		return nil, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	return m, nil
}

func (m *monitor) close() {
	if m.ln != nil {
		_ = m.ln.Close()
	}
	_ = m.jlog.Close()
	if m.logf != nil {
		_ = m.logf.Close()
	}
	// The lock goes last: once it is free, other berth processes may
	// take the container over.
	_ = m.lock.Unlock()
}

// Persistence levels of saveLocked.
const (
	liveOnly   = iota // the volatile state only
	persist           // and the persistent copy, synced
	persistNow        // and the persistent copy, not yet synced (start path)
)

// saveLocked writes the live state (volatile, not synced) and, as level
// says, the persistent copy. m.mu is held.
func (m *monitor) saveLocked(level int) {
	m.st.Version = Version
	m.st.MonitorPid = os.Getpid()
	m.st.BootID = m.boot
	if err := state.WriteJSON(filepath.Join(m.run, StateFile), &m.st, false); err != nil {
		m.log.Warn("write state", "err", err)
	}
	if level != liveOnly {
		last := m.st
		last.Health = nil
		if err := state.WriteJSON(filepath.Join(m.dir, LastStateFile), &last, level == persist); err != nil {
			m.log.Warn("write persistent state", "err", err)
		}
	}
}

// event appends a container event with the container's labels.
func (m *monitor) event(action string, extra map[string]string) {
	attrs := make(map[string]string, len(m.cfg.Labels)+len(extra)+2)
	for k, v := range m.cfg.Labels {
		attrs[k] = v
	}
	attrs["name"] = m.cfg.Name
	attrs["image"] = m.cfg.Image
	for k, v := range extra {
		attrs[k] = v
	}
	if err := m.ev.Append(events.Event{Action: action, ID: m.id, Attributes: attrs}); err != nil {
		m.log.Warn("event", "action", action, "err", err)
	}
}

// initBinary is the init the runtime runs: self when set, else berth-init
// beside the monitor ("" when there is none: the runtime re-execs the
// monitor's own binary).
func initBinary(self string) string {
	if self != "" {
		return self
	}
	return sibling.Find(sibling.Init)
}
