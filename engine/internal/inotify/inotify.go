// Package inotify is a minimal inotify(7) watcher for the engine's
// event-driven waits (state changes, log follow, event log follow): no
// polling, and reads that end when the caller's context is done.
package inotify

import (
	"context"
	"fmt"
	"os"
	"sync"
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

// Hub shares one inotify instance among many waiters (the kernel allows
// few instances per user — 128 by default — and a scheduler may wait on
// hundreds of containers at once). Each subscription gets a wake-up on a
// channel when an event of its mask arrives for its path. The reading
// goroutine runs while there are subscriptions. The zero Hub is ready.
type Hub struct {
	mu   sync.Mutex
	w    *Watcher
	subs map[int]map[*hubSub]struct{} // by watch descriptor
	wds  map[string]int               // path → watch descriptor
	gen  int
}

type hubSub struct {
	mask uint32
	ch   chan struct{}
}

// Watch subscribes to events of mask on path. The channel gets a value
// (coalesced) after each such event, and also when the watch ends (path
// removed). cancel ends the subscription.
func (h *Hub) Watch(path string, mask uint32) (<-chan struct{}, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.w == nil {
		w, err := New()
		if err != nil {
			return nil, nil, err
		}
		h.w, h.subs, h.wds = w, map[int]map[*hubSub]struct{}{}, map[string]int{}
		h.gen++
		go h.read(w, h.gen)
	}
	wd, err := h.w.Add(path, mask|unix.IN_MASK_ADD)
	if err != nil {
		h.closeIfIdle()
		return nil, nil, err
	}
	s := &hubSub{mask: mask, ch: make(chan struct{}, 1)}
	if h.subs[wd] == nil {
		h.subs[wd] = map[*hubSub]struct{}{}
	}
	h.subs[wd][s] = struct{}{}
	h.wds[path] = wd
	w := h.w
	cancel := func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.w != w {
			return
		}
		delete(h.subs[wd], s)
		if len(h.subs[wd]) == 0 {
			delete(h.subs, wd)
			delete(h.wds, path)
			_, _ = unix.InotifyRmWatch(w.fd, uint32(wd))
		}
		h.closeIfIdle()
	}
	return s.ch, cancel, nil
}

// closeIfIdle closes the instance when nobody watches (h.mu held).
func (h *Hub) closeIfIdle() {
	if len(h.subs) == 0 && h.w != nil {
		_ = h.w.Close()
		h.w = nil
	}
}

func (h *Hub) read(w *Watcher, gen int) {
	for {
		evs, err := w.Read(context.Background())
		if err != nil {
			return // closed
		}
		h.mu.Lock()
		if h.gen != gen {
			h.mu.Unlock()
			return
		}
		for _, ev := range evs {
			for s := range h.subs[ev.Watch] {
				if ev.Mask&(s.mask|unix.IN_IGNORED) != 0 {
					select {
					case s.ch <- struct{}{}:
					default:
					}
				}
			}
		}
		h.mu.Unlock()
	}
}
