// Package inotify is a minimal inotify(7) watcher for the engine's
// event-driven waits (state changes, log follow, event log follow): no
// polling, and reads that end when the caller's context is done.
package inotify

import (
	"context"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event is one inotify event: the watch it came from, the mask, and the
// name inside a watched directory ("" for the directory itself).
type Event struct {
	Watch int
	Mask  uint32
	Name  string
}

// Watcher is an inotify instance. Read blocks in the Go poller.
type Watcher struct {
	f   *os.File
	fd  int
	buf []byte
}

// New returns a watcher; Close releases it.
func New() (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	return &Watcher{f: os.NewFile(uintptr(fd), "inotify"), fd: fd, buf: make([]byte, 4096)}, nil
}

// Add watches path for mask and returns the watch descriptor.
func (w *Watcher) Add(path string, mask uint32) (int, error) {
	wd, err := unix.InotifyAddWatch(w.fd, path, mask)
	if err != nil {
		return -1, &os.PathError{Op: "inotify watch", Path: path, Err: err}
	}
	return wd, nil
}

// Read waits for events until ctx is done (then it returns ctx's error).
func (w *Watcher) Read(ctx context.Context) ([]Event, error) {
	stop := context.AfterFunc(ctx, func() { _ = w.f.SetReadDeadline(time.Now()) })
	defer stop()
	n, err := w.f.Read(w.buf)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	var evs []Event
	for i := 0; i+unix.SizeofInotifyEvent <= n; {
		raw := (*unix.InotifyEvent)(unsafe.Pointer(&w.buf[i]))
		nameLen := int(raw.Len)
		name := w.buf[i+unix.SizeofInotifyEvent : i+unix.SizeofInotifyEvent+nameLen]
		for j, c := range name {
			if c == 0 {
				name = name[:j]
				break
			}
		}
		evs = append(evs, Event{Watch: int(raw.Wd), Mask: raw.Mask, Name: string(name)})
		i += unix.SizeofInotifyEvent + nameLen
	}
	return evs, nil
}

// Close releases the instance and every watch.
func (w *Watcher) Close() error { return w.f.Close() }
