package engine

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strconv"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/engine/mount"
	"github.com/berthdev/berth/engine/runtime"
)

// WithFilesystem calls fn with root, a host path under which container
// idOrName's files are seen as its processes see them: the root filesystem
// with its volumes, binds and /etc/hosts-style files (for berth cp).
//
// A running or paused container's root is /proc/<pid>/root. A created or
// exited one's is assembled for fn alone (runtime.MountView) in a mount
// namespace of a dedicated OS thread, made private first so that nothing
// reaches the host; fn runs on that thread, under the container's op lock
// so that the container cannot start meanwhile, and must not hand paths
// under root to other goroutines (they would not see the mounts). The
// mounts are taken down when fn returns, and the namespace ends with the
// thread whatever happens, so nothing stays mounted. A restarting
// container is ErrFailedPrecondition: its init may mount its root at any
// moment.
func (e *Engine) WithFilesystem(ctx context.Context, idOrName string, fn func(root string) error) error {
	rec, err := e.resolve(idOrName)
	if err != nil {
		return err
	}
	lk, o, err := e.lockSettled(ctx, rec.ID)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if o.monitorAlive || o.orphan {
		switch {
		case (o.st.Status == monitor.StatusRunning || o.st.Status == monitor.StatusPaused) && o.st.Pid > 0:
			lk.Unlock() // a running container's files need no lock
			return fn("/proc/" + strconv.Itoa(o.st.Pid) + "/root")
		default:
			return fmt.Errorf("container %s is %s: wait until it runs, or stop it: %w", rec.Name, o.st.Status, errdefs.ErrFailedPrecondition)
		}
	}
	cfg := rec.Monitor.Init
	return inPrivateMountNamespace(func() error {
		if err := runtime.MountView(cfg); err != nil {
			_ = mount.Unmount(cfg.RootfsDir)
			return fmt.Errorf("container %s: mount its filesystem: %w", rec.Name, err)
		}
		err := fn(cfg.RootfsDir)
		if uerr := mount.Unmount(cfg.RootfsDir); uerr != nil && err == nil {
			err = uerr
		}
		return err
	})
}

// inPrivateMountNamespace runs fn on a new OS thread with a mount namespace
// of its own, made rprivate. The thread is never unlocked, so the Go
// runtime ends it with the goroutine, and the namespace, with every mount
// left in it, goes with it.
func inPrivateMountNamespace(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("unshare the mount namespace: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("make / rprivate: %w", err)
			}
			return fn()
		}()
	}()
	return <-errc
}
