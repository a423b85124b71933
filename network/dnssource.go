package network

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/network/dns"
)

// recordSource gives a container's resolver the DNS records of the root:
// every complete endpoint record, by network. It re-reads them only after
// the endpoint table changed, which it learns from inotify: each query
// first drains the events queued so far (one non-blocking read), and the
// kernel queues them before the write or unlink that causes them returns,
// so a name is gone as soon as Detach has returned. Without inotify it
// re-reads on every query.
type recordSource struct {
	m *Manager

	mu    sync.Mutex
	dirty bool
	byNet map[string][]dns.Record
	fd    int // inotify, non-blocking; -1 when unavailable or closed
	buf   []byte
	names []string // the table's files
}

// newRecordSource watches the endpoint table until ctx is done.
func (m *Manager) newRecordSource(ctx context.Context) *recordSource {
	s := &recordSource{m: m, dirty: true, fd: -1}
	dir, names := m.endpoints.files()
	s.names = names
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return s
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return s
	}
	mask := uint32(unix.IN_CLOSE_WRITE | unix.IN_MODIFY | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE)
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		_ = unix.Close(fd)
		return s
	}
	s.fd, s.buf = fd, make([]byte, 16<<10)
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = unix.Close(s.fd)
		s.fd = -1
	}()
	return s
}

// drain reads the queued events and marks the records dirty when one is
// about a record file. The caller holds s.mu.
func (s *recordSource) drain() {
	if s.fd < 0 {
		s.dirty = true
		return
	}
	for {
		n, err := unix.Read(s.fd, s.buf)
		if err != nil || n <= 0 {
			if err != unix.EAGAIN {
				s.dirty = true // unknown state: re-read
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&s.buf[off]))
			end := off + unix.SizeofInotifyEvent + int(ev.Len)
			name := strings.TrimRight(string(s.buf[off+unix.SizeofInotifyEvent:min(end, n)]), "\x00")
			off = end
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 || slices.Contains(s.names, name) {
				s.dirty = true
			}
		}
	}
}

// Records implements dns.Source.
func (s *recordSource) Records(network string) []dns.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drain()
	if s.dirty {
		s.dirty = false
		s.byNet = map[string][]dns.Record{}
		recs, _ := s.m.endpointRecords()
		for _, r := range recs {
			if !r.Complete {
				continue
			}
			for _, e := range r.Endpoints {
				s.byNet[e.Network] = append(s.byNet[e.Network], dns.Record{ID: r.ContainerID, Name: r.Name,
					Names: lowerAll(append([]string{r.Name}, e.Aliases...)), IPv4: e.IPv4, IPv6: e.IPv6})
			}
		}
	}
	return s.byNet[network]
}
