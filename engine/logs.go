package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/berthdev/berth/engine/internal/inotify"
	"github.com/berthdev/berth/engine/monitor"
	"golang.org/x/sys/unix"
)

// jsonLine is one line of docker's json-file log.
type jsonLine struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

func toEntry(l jsonLine) LogEntry {
	line := []byte(l.Log)
	partial := true
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line, partial = line[:n-1], false
	}
	return LogEntry{Time: l.Time, Stream: l.Stream, Line: line, Partial: partial}
}

// Logs calls fn for the container's log entries selected by opts, oldest
// first. With Follow it goes on with new entries until the container has
// stopped for good (its monitor gone and the log drained) or ctx is done.
// An error from fn ends Logs with that error.
func (e *Engine) Logs(ctx context.Context, id string, opts LogsOptions, fn func(LogEntry) error) error {
	rec, err := e.resolve(id)
	if err != nil {
		return err
	}
	path := monitor.LogPath(e.paths, rec.ID)
	keep := func(l jsonLine) bool {
		return (opts.Since.IsZero() || !l.Time.Before(opts.Since)) && (opts.Until.IsZero() || !l.Time.After(opts.Until))
	}
	var w *inotify.Watcher
	if opts.Follow {
		// Watch before reading, so nothing written in between is missed.
		if w, err = inotify.New(); err != nil {
			return err
		}
		defer w.Close()
		if _, err := w.Add(e.paths.Container(rec.ID), unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_DELETE_SELF); err != nil {
			return err
		}
		if _, err := w.Add(e.paths.ContainerRun(rec.ID), unix.IN_CLOSE_WRITE|unix.IN_DELETE_SELF); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	// The current file is opened first: a rotation meanwhile leaves it
	// complete, and the rotated files are read before it.
	cur, _ := os.Open(path)
	defer func() {
		if cur != nil {
			_ = cur.Close()
		}
	}()
	var backlog []LogEntry
	tail := opts.Tail
	emit := func(en LogEntry) error {
		if tail < 0 {
			return fn(en)
		}
		if tail == 0 {
			return nil
		}
		if len(backlog) == tail {
			copy(backlog, backlog[1:])
			backlog = backlog[:tail-1]
		}
		backlog = append(backlog, en)
		return nil
	}
	for _, p := range rotated(path) {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		_, err = readLog(f, keep, emit)
		_ = f.Close()
		if err != nil {
			return err
		}
	}
	var off int64
	if cur != nil {
		if off, err = readLog(cur, keep, emit); err != nil {
			return err
		}
	}
	for _, en := range backlog {
		if err := fn(en); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	send := func(l jsonLine) bool { return keep(l) && (opts.Until.IsZero() || !l.Time.After(opts.Until)) }
	drain := func() error {
		if cur == nil {
			if cur, err = os.Open(path); err != nil {
				return nil
			}
			off = 0
		}
		if _, err := cur.Seek(off, io.SeekStart); err != nil {
			return err
		}
		n, err := readLog(cur, send, fn)
		off += n
		return err
	}
	for {
		if err := drain(); err != nil {
			return err
		}
		if !e.monitorAlive(rec.ID) {
			return drain() // stopped for good: what is written is all
		}
		if !opts.Until.IsZero() && time.Now().After(opts.Until) {
			return nil
		}
		evs, err := w.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, ev := range evs {
			if ev.Name == filepath.Base(path) && ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
				// Rotated: finish the old file, go on with the new one.
				if err := drain(); err != nil {
					return err
				}
				if cur != nil {
					_ = cur.Close()
				}
				cur, off = nil, 0
			}
			if ev.Mask&unix.IN_DELETE_SELF != 0 {
				return nil // removed
			}
		}
	}
}

// rotated lists path's rotated files, oldest first.
func rotated(path string) []string {
	var out []string
	for i := 1; ; i++ {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		out = append([]string{p}, out...)
	}
	return out
}

// readLog reads whole lines from r's current offset, calling fn for those
// keep accepts, and returns the bytes of whole lines consumed.
func readLog(r io.Reader, keep func(jsonLine) bool, fn func(LogEntry) error) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it.
			buf := bytes.Clone(line)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				buf = append(buf, line...)
			}
			line = buf
		}
		if len(line) > 0 && line[len(line)-1] == '\n' {
			n += int64(len(line))
			var l jsonLine
			if json.Unmarshal(line, &l) == nil && keep(l) {
				if ferr := fn(toEntry(l)); ferr != nil {
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
