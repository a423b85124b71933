// Package events is a berth root's container event log: one JSON line per
// event (create, start, die, stop, kill, pause, unpause, oom, destroy,
// health_status: …), appended by the engine and by every monitor, and read
// back or followed by `berth events`.
//
// It is a leaf (stdlib, x/sys, engine/state). Invariants: each event is one
// write(2) on an O_APPEND file, so concurrent writers never interleave;
// rotation (rename to events.log.1 when the file passes MaxSize) happens
// under an flock, and followers reopen the new file when they see it
// created. The log lives in the volatile directory: events do not outlive a
// reboot, as docker's do not outlive its daemon.
package events

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/berthdev/berth/engine/internal/inotify"
	"github.com/berthdev/berth/engine/state"
	"golang.org/x/sys/unix"
)

// MaxSize is the size at which the log is rotated (one old file is kept).
const MaxSize = 4 << 20

// Event is one container event, shaped like docker's: Attributes carry the
// container's labels plus "name", "image" and, where they apply,
// "exitCode" and "signal".
type Event struct {
	Time       time.Time         `json:"time"`
	Type       string            `json:"type"` // "container"
	Action     string            `json:"action"`
	ID         string            `json:"id"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Log is the event log of one root.
type Log struct {
	path string
}

// New returns the log at dir/events.log.
func New(dir string) *Log { return &Log{path: filepath.Join(dir, "events.log")} }

// Path is the log file's path.
func (l *Log) Path() string { return l.path }

// Append writes ev (Time set to now when zero). Errors are returned but
// callers usually log and go on: an event is never worth failing an
// operation for.
func (l *Log) Append(ev Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if ev.Type == "" {
		ev.Type = "container"
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	fi, serr := f.Stat()
	_ = f.Close()
	if werr != nil {
		return werr
	}
	if serr == nil && fi.Size() > MaxSize {
		l.rotate(fi.Size())
	}
	return nil
}

func (l *Log) rotate(seen int64) {
	lk, err := state.TryLock(l.path + ".lock")
	if err != nil {
		return // someone else is rotating
	}
	defer lk.Unlock()
	if fi, err := os.Stat(l.path); err != nil || fi.Size() < seen {
		return
	}
	_ = os.Rename(l.path, l.path+".1")
}

// Read calls fn for each event with Time ≥ since (zero: all) in the old
// and the current file, oldest first.
func (l *Log) Read(since time.Time, fn func(Event) error) error {
	for _, p := range []string{l.path + ".1", l.path} {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		_, err = scan(f, since, fn)
		_ = f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// scan decodes events from r from its current offset, returning how many
// bytes of whole lines it consumed.
func scan(r io.Reader, since time.Time, fn func(Event) error) (int64, error) {
	br := bufio.NewReader(r)
	var n int64
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			n += int64(len(line))
			var ev Event
			if json.Unmarshal(line, &ev) == nil && !ev.Time.Before(since) {
				if ferr := fn(ev); ferr != nil {
					return n, ferr
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
	}
}

// Follow sends the events with Time ≥ since that are already logged (when
// since is not zero) and then every new one, until ctx is done; the channel
// is closed then. It is driven by inotify, not by polling.
func (l *Log) Follow(ctx context.Context, since time.Time) (<-chan Event, error) {
	dir := filepath.Dir(l.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	w, err := inotify.New()
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	if _, err := w.Add(dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("events: %w", err)
	}
	// Open the current file before reading the backlog, so nothing
	// written in between is lost.
	f, _ := os.Open(l.path)
	filter := since
	if filter.IsZero() {
		filter = time.Now()
	}
	ch := make(chan Event, 64)
	send := func(ev Event) error {
		select {
		case ch <- ev:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	go func() {
		defer close(ch)
		defer w.Close()
		var off int64
		defer func() {
			if f != nil {
				_ = f.Close()
			}
		}()
		if !since.IsZero() {
			if old, err := os.Open(l.path + ".1"); err == nil {
				_, _ = scan(old, since, send)
				_ = old.Close()
			}
		}
		drain := func() error {
			if f == nil {
				return nil
			}
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				return err
			}
			n, err := scan(f, filter, send)
			off += n
			return err
		}
		base := filepath.Base(l.path)
		for {
			if err := drain(); err != nil {
				return
			}
			evs, err := w.Read(ctx)
			if err != nil {
				return
			}
			for _, ev := range evs {
				if ev.Name != base || ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) == 0 {
					continue
				}
				if err := drain(); err != nil {
					return
				}
				if f != nil {
					_ = f.Close()
				}
				f, _ = os.Open(l.path)
				off = 0
			}
		}
	}()
	return ch, nil
}
