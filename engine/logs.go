package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"time"

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
	keep := func(l jsonLine) bool {
		return (opts.Since.IsZero() || !l.Time.Before(opts.Since)) && (opts.Until.IsZero() || !l.Time.After(opts.Until))
	}
	var logCh, runCh <-chan struct{}
	if opts.Follow {
		// Watch before reading, so nothing written in between is missed.
		ch, stop, err := e.hub.Watch(e.paths.Container(rec.ID), unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_DELETE_SELF)
		if err != nil {
			return err
		}
		defer stop()
		logCh = ch
		ch, stop, err = e.hub.Watch(e.paths.ContainerRun(rec.ID), unix.IN_CLOSE_WRITE|unix.IN_DELETE_SELF)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if stop != nil {
			defer stop()
			runCh = ch
		}
	}
	var backlog []LogEntry
	tail := opts.Tail
	emit := func(en LogEntry) error {
		switch {
		case tail < 0:
			return fn(en)
		case tail == 0:
			return nil
		case len(backlog) == tail:
			copy(backlog, backlog[1:])
			backlog = backlog[:tail-1]
		}
		backlog = append(backlog, en)
		return nil
	}
	fl := &logFollower{path: monitor.LogPath(e.paths, rec.ID), keep: keep}
	defer fl.close()
	if err := fl.advance(emit); err != nil {
		return err
	}
	for _, en := range backlog {
		if err := fn(en); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	for {
		if err := fl.advance(fn); err != nil {
			return err
		}
		if !e.monitorAlive(rec.ID) {
			return fl.advance(fn) // stopped for good: what is written is all
		}
		if !opts.Until.IsZero() && time.Now().After(opts.Until) {
			return nil
		}
		select {
		case <-logCh:
		case <-runCh:
		case <-ctx.Done():
			return nil
		}
		if _, err := os.Stat(e.paths.Container(rec.ID)); errors.Is(err, os.ErrNotExist) {
			return nil // removed
		}
	}
}

// logFollower reads a rotated json-file log in order: the file it holds to
// its end, then each newer file (rotated ones are complete), found by inode
// so that rotations while it reads lose nothing that still exists.
type logFollower struct {
	path string
	keep func(jsonLine) bool
	cur  *os.File
	off  int64
}

func (f *logFollower) close() {
	if f.cur != nil {
		_ = f.cur.Close()
	}
}

// advance reads everything written so far, calling fn for each entry.
func (f *logFollower) advance(fn func(LogEntry) error) error {
	for {
		if f.cur != nil {
			if _, err := f.cur.Seek(f.off, io.SeekStart); err != nil {
				return err
			}
			n, err := readLog(f.cur, f.keep, fn)
			f.off += n
			if err != nil {
				return err
			}
		}
		next, err := f.next()
		if err != nil || next == nil {
			return err
		}
		f.close()
		f.cur, f.off = next, 0
	}
}

// next opens the file that follows cur ([path.N … path.1, path] is the
// order), or returns nil when cur is the newest.
func (f *logFollower) next() (*os.File, error) {
	var curInfo os.FileInfo
	if f.cur != nil {
		curInfo, _ = f.cur.Stat()
	}
	files := append(rotated(f.path), f.path)
	pos := -1
	var infos []os.FileInfo
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			infos = append(infos, nil)
			continue
		}
		infos = append(infos, fi)
		if curInfo != nil && os.SameFile(fi, curInfo) {
			pos = len(infos) - 1
		}
	}
	for i := pos + 1; i < len(files); i++ {
		if infos[i] == nil {
			continue
		}
		nf, err := os.Open(files[i])
		if err != nil {
			continue // rotated away meanwhile: the next one
		}
		if fi, err := nf.Stat(); err == nil && curInfo != nil && os.SameFile(fi, curInfo) {
			_ = nf.Close()
			return nil, nil
		}
		return nf, nil
	}
	return nil, nil
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
