// Package state is berth's on-disk layout and the two primitives every part
// uses to keep it consistent: atomic file writes and flock(2) locks.
//
// It is a leaf: only the standard library and x/sys. Invariants:
//   - every file is written to a temporary name in the same directory, synced
//     and renamed into place, so readers never need a lock and never see half
//     a file;
//   - locks are flock(2) on files that are never removed while in use; the
//     kernel drops them when the holder dies, so there are no stale locks.
package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultRoot is the persistent state directory when neither --root nor
// BERTH_ROOT is given.
const DefaultRoot = "/var/lib/berth"

// Paths is the on-disk layout of one berth root. Two roots never share any
// file: the volatile part lives under /run/berth for the default root and
// under /run/berth-<hash of root> for any other.
type Paths struct {
	// Root is the persistent directory (images, snapshots, volumes,
	// container configs and writable layers, networks).
	Root string
	// Run is the volatile directory (monitor locks and sockets, runtime
	// state): it is empty after a reboot, which is what makes containers
	// show as exited then.
	Run string
}

// NewPaths returns the layout for root ("" means DefaultRoot). Relative roots
// are made absolute.
func NewPaths(root string) (Paths, error) {
	if root == "" {
		root = DefaultRoot
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return Paths{}, fmt.Errorf("berth root %q: %w", root, err)
	}
	run := "/run/berth"
	if abs != DefaultRoot {
		sum := sha256.Sum256([]byte(abs))
		run = "/run/berth-" + hex.EncodeToString(sum[:])[:12]
	}
	return Paths{Root: abs, Run: run}, nil
}

// Images is the image store directory.
func (p Paths) Images() string { return filepath.Join(p.Root, "images") }

// Snapshots is the directory of unpacked layers.
func (p Paths) Snapshots() string { return filepath.Join(p.Root, "snapshots") }

// Volumes is the named volumes directory.
func (p Paths) Volumes() string { return filepath.Join(p.Root, "volumes") }

// Networks is the persistent network state directory.
func (p Paths) Networks() string { return filepath.Join(p.Root, "networks") }

// Container is the persistent directory of one container (config, writable layer, log).
func (p Paths) Container(id string) string { return filepath.Join(p.Root, "containers", id) }

// ContainerRun is the volatile directory of one container (monitor lock, sockets, runtime state).
func (p Paths) ContainerRun(id string) string { return filepath.Join(p.Run, "containers", id) }

// Project is the volatile directory of one compose project (its operation lock).
func (p Paths) Project(name string) string { return filepath.Join(p.Run, "projects", name) }

// WriteFile writes data to path atomically: a temporary file in the same
// directory, fsync, rename, and (when durable) fsync of the directory. The
// parent directory is created if missing.
func WriteFile(path string, data []byte, perm os.FileMode, durable bool) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if durable {
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			_ = d.Close()
		}
	}
	return nil
}

// WriteJSON marshals v (indented) and writes it with WriteFile.
func WriteJSON(path string, v any, durable bool) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(path, append(data, '\n'), 0o600, durable)
}

// ReadJSON reads path into v. A missing file is returned as an error
// satisfying errors.Is(err, fs.ErrNotExist).
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// FileLock is a held flock(2) on a file. The zero value is not usable.
type FileLock struct {
	f *os.File
}

// ErrLocked is returned by TryLock when another holder has the lock.
var ErrLocked = errors.New("locked by another process")

func openLockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
}

// Lock takes an exclusive lock on path (created if missing), waiting until it
// is free or ctx is done.
func Lock(ctx context.Context, path string) (*FileLock, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	delay := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &FileLock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// TryLock takes an exclusive lock on path without waiting. It returns
// ErrLocked when another process holds it.
func TryLock(path string) (*FileLock, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &FileLock{f: f}, nil
}

// IsLocked reports whether some process holds the lock on path. A missing
// file is not locked. It is how liveness of a lock-holding process is read.
func IsLocked(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// File returns the locked file, e.g. to hand it to a child process that
// must keep holding the lock.
func (l *FileLock) File() *os.File { return l.f }

// Unlock releases the lock. It is safe to call on a nil lock.
func (l *FileLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
