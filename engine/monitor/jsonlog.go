package monitor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// maxLogLine is where a line without a newline is cut, as docker does
// (16 KiB): the pieces are written as separate entries, only the last
// with the newline.
const maxLogLine = 16 << 10

// jsonLog writes docker's json-file format: one object per line,
// {"log":"text\n","stream":"stdout","time":"RFC3339Nano"}, rotated at
// maxSize into path.1 … path.(maxFile-1). It is safe for concurrent use by
// the stdout and stderr pumps. A nil *jsonLog discards (driver "none").
type jsonLog struct {
	path    string
	maxSize int64
	maxFile int

	mu   sync.Mutex
	f    *os.File
	size int64
	buf  []byte
	err  error // the first write error, reported once
}

func openJSONLog(path string, cfg LogConfig) (*jsonLog, error) {
	if cfg.Driver == "none" {
		return nil, nil
	}
	l := &jsonLog{path: path, maxSize: cfg.MaxSize, maxFile: max(cfg.MaxFile, 1)}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *jsonLog) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write records one log entry (line keeps its newline, if any).
func (l *jsonLog) Write(stream string, line []byte, t time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	b := l.buf[:0]
	b = append(b, `{"log":`...)
	b = appendJSONString(b, line)
	b = append(b, `,"stream":"`...)
	b = append(b, stream...)
	b = append(b, `","time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\"}\n"...)
	if cap(b) <= 64<<10 {
		l.buf = b
	}
	if l.maxSize > 0 && l.size > 0 && l.size+int64(len(b)) > l.maxSize {
		l.rotate()
		if l.f == nil {
			return
		}
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	if err != nil && l.err == nil {
		l.err = err
	}
}

// rotate shifts path.(n-1) → path.n … path → path.1 and opens a new path.
// With maxFile 1 the file is truncated instead.
func (l *jsonLog) rotate() {
	_ = l.f.Close()
	l.f = nil
	if l.maxFile <= 1 {
		if err := os.Truncate(l.path, 0); err != nil && l.err == nil {
			l.err = err
		}
	} else {
		for i := l.maxFile - 1; i >= 1; i-- {
			from := l.path
			if i > 1 {
				from = l.path + "." + strconv.Itoa(i-1)
			}
			if err := os.Rename(from, l.path+"."+strconv.Itoa(i)); err != nil && !errors.Is(err, os.ErrNotExist) && l.err == nil {
				l.err = err
			}
		}
	}
	if err := l.open(); err != nil && l.err == nil {
		l.err = err
	}
}

// Err returns the first write error, if any.
func (l *jsonLog) Err() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close closes the current file.
func (l *jsonLog) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// pump copies r into the log as stream, one entry per line, until EOF or a
// read error (EIO from a pty master whose slave closed). onData, when set,
// sees every chunk too (attach).
func pump(l *jsonLog, stream string, r io.Reader, onData func(stream string, p []byte)) {
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			t := time.Now()
			l.Write(stream, line, t)
			if onData != nil {
				onData(stream, line)
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does (invalid UTF-8 becomes U+FFFD; <, > and & are escaped too, as
// docker's log lines are).
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
