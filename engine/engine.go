package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/berthdev/berth/engine/cgroups"
	"github.com/berthdev/berth/engine/events"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/engine/internal/inotify"
	"github.com/berthdev/berth/engine/internal/sibling"
	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/engine/mount"
	"github.com/berthdev/berth/engine/state"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Images is what the engine needs of the image store (*image.Store).
type Images interface {
	// Get returns errdefs.ErrNotFound, naming the reference, when absent.
	Get(ctx context.Context, ref string) (*image.Image, error)
}

// Snapshotter is what the engine needs of the layer store
// (*rootfs.Snapshotter).
type Snapshotter interface {
	// Prepare makes dir's writable layer and returns the root filesystem
	// mounts over the chain's layers.
	Prepare(ctx context.Context, dir string, chainIDs []string) ([]mount.Mount, error)
	// Cleanup removes what Prepare made under dir.
	Cleanup(ctx context.Context, dir string) error
}

// Options configure an Engine.
type Options struct {
	// Paths is the berth root's layout (required).
	Paths state.Paths
	// Images resolves image references (required for Create).
	Images Images
	// Snapshotter prepares root filesystems (required for Create).
	Snapshotter Snapshotter
	// Cgroups is the cgroup manager; nil means one for /sys/fs/cgroup
	// with parent "berth".
	Cgroups *cgroups.Manager
	// Networker attaches bridge networks; nil allows only network modes
	// none and host (and container:<id>).
	Networker Networker
	// Logger gets diagnostics; nil discards them.
	Logger *slog.Logger
	// Self is the binary run as each container's monitor; "" means
	// berth-monitor beside the running executable, else /proc/self/exe
	// (tests: the test binary, which must dispatch monitor.Arg and
	// runtime.InitArg in TestMain).
	Self string
}

// Engine runs containers on berth's own runtime, one monitor process per
// running container; all state is on disk, so any berth process can act on
// containers another started.
//
// On disk, per container:
//
//	<root>/containers/<id>/config.json   the record Create resolved (synced; written last:
//	                                     a directory without it is being created or a leftover)
//	<root>/containers/<id>/state.json    the last state worth a reboot (status, exit, times)
//	<root>/containers/<id>/<id>-json.log the json-file log (+ .1 … when rotated)
//	<root>/containers/<id>/{upper,work,merged,hosts,hostname,resolv.conf}
//	<root>/names/<name>                  the name index: the id owning the name
//	<run>/containers/<id>/monitor.lock   held by the monitor for its life (liveness)
//	<run>/containers/<id>/state.json     the live state, written only by the monitor
//	<run>/containers/<id>/ctl.sock       the monitor's control socket
//	<run>/containers/<id>/op.lock        serialises create, start and remove
//	<run>/events.log                     the root's event log
//
// Invariants: every file is written atomically (temp, rename); the live
// state has one writer (the monitor, or the engine once the monitor is
// gone and op.lock is held); no lock is held while a container runs.
type Engine struct {
	paths  state.Paths
	images Images
	snaps  Snapshotter
	cg     *cgroups.Manager
	net    Networker
	log    *slog.Logger
	ev     *events.Log
	self   string
	boot   string
	// hub is the one inotify instance of the engine's waits (WaitUntil,
	// Logs follow): instances are few per user.
	hub inotify.Hub
}

// New returns an engine for opts.
func New(opts Options) (*Engine, error) {
	if opts.Paths.Root == "" || opts.Paths.Run == "" {
		return nil, fmt.Errorf("engine: Paths is required: %w", errdefs.ErrInvalidArgument)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cg := opts.Cgroups
	if cg == nil {
		var err error
		if cg, err = cgroups.New(cgroups.Options{Root: "/sys/fs/cgroup", Parent: "berth", Logger: log}); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	for _, d := range []string{filepath.Join(opts.Paths.Root, "containers"), filepath.Join(opts.Paths.Root, "names"), filepath.Join(opts.Paths.Run, "containers")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	self := opts.Self
	if self == "" {
		self = sibling.Find(sibling.Monitor)
	}
	e := &Engine{
		paths: opts.Paths, images: opts.Images, snaps: opts.Snapshotter, cg: cg,
		net: opts.Networker, log: log, ev: events.New(opts.Paths.Run), self: self,
		boot: monitor.BootID(),
	}
	// The image store must not collect what containers use.
	if s, ok := opts.Images.(interface {
		SetInUse(func(context.Context) (map[string]bool, error))
	}); ok {
		s.SetInUse(e.ImagesInUse)
	}
	return e, nil
}

// ImagesInUse returns the ids of the images of all containers (the image
// store's garbage collector keeps them).
func (e *Engine) ImagesInUse(ctx context.Context) (map[string]bool, error) {
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, id := range ids {
		if rec, err := e.load(id); err == nil {
			used[rec.ImageID] = true
		}
	}
	return used, nil
}

// Paths is the engine's on-disk layout.
func (e *Engine) Paths() state.Paths { return e.paths }

// newID returns a random 64-hex container id.
func newID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// isID reports whether s is a full container id.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// opLock serialises start, stop-without-monitor and remove of one
// container across processes. It is never held while waiting for the
// container itself, except for the bounded monitor start.
func (e *Engine) opLock(ctx context.Context, id string) (*state.FileLock, error) {
	return state.Lock(ctx, filepath.Join(e.paths.ContainerRun(id), monitor.OpLockFile))
}

// monitorAlive reports whether container id's monitor holds its lock.
func (e *Engine) monitorAlive(id string) bool {
	return state.IsLocked(filepath.Join(e.paths.ContainerRun(id), monitor.LockFile))
}

// waitMonitorGone blocks until container id's monitor has exited (its lock
// is free). It is a blocking flock, not a poll.
func (e *Engine) waitMonitorGone(ctx context.Context, id string) error {
	f, err := os.OpenFile(filepath.Join(e.paths.ContainerRun(id), monitor.LockFile), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer f.Close()
		err := unix.Flock(int(f.Fd()), unix.LOCK_SH)
		if err == nil {
			_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lockSettled takes container id's op lock and observes it once a monitor
// that is finishing (the container has exited for good) is gone.
func (e *Engine) lockSettled(ctx context.Context, id string) (*state.FileLock, observed, error) {
	lk, err := e.opLock(ctx, id)
	if err != nil {
		return nil, observed{}, err
	}
	o := e.observe(id)
	if o.monitorAlive && !active(o.st.Status) {
		if err := e.waitMonitorGone(ctx, id); err != nil {
			lk.Unlock()
			return nil, observed{}, err
		}
		o = e.observe(id)
	}
	return lk, o, nil
}

// event appends an engine-side event for c.
func (e *Engine) event(c *Container, action string, extra map[string]string) {
	attrs := make(map[string]string, len(c.Spec.Labels)+len(extra)+2)
	for k, v := range c.Spec.Labels {
		attrs[k] = v
	}
	attrs["name"] = c.Name
	attrs["image"] = c.Spec.Image
	for k, v := range extra {
		attrs[k] = v
	}
	if err := e.ev.Append(events.Event{Action: action, ID: c.ID, Attributes: attrs}); err != nil {
		e.log.Warn("event", "action", action, "err", err)
	}
}

// Events streams container events from since (zero: only new ones) until
// ctx is done.
func (e *Engine) Events(ctx context.Context, since time.Time) (<-chan Event, error) {
	return e.ev.Follow(ctx, since)
}
