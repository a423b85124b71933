package network

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/network/dns"
)

// recordSource gives a container's resolver the DNS records of the root:
// every complete endpoint record, by network. It re-reads them only after
// the endpoint directory changed, which it learns from inotify (without
// inotify, it re-reads on every query).
type recordSource struct {
	m *Manager

	mu    sync.Mutex
	dirty bool
	byNet map[string][]dns.Record
	watch *os.File // inotify; nil when unavailable
}

// newRecordSource watches the endpoint directory until ctx is done.
func (m *Manager) newRecordSource(ctx context.Context) *recordSource {
	s := &recordSource{m: m, dirty: true}
	if err := os.MkdirAll(m.endpointDir(), 0o700); err != nil {
		return s
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return s
	}
	if _, err := unix.InotifyAddWatch(fd, m.endpointDir(), unix.IN_MOVED_TO|unix.IN_MOVED_FROM|unix.IN_DELETE|unix.IN_CREATE); err != nil {
		_ = unix.Close(fd)
		return s
	}
	s.watch = os.NewFile(uintptr(fd), "inotify")
	go s.run()
	go func() {
		<-ctx.Done()
		_ = s.watch.Close()
	}()
	return s
}

// run marks the records dirty on every change of a record file.
func (s *recordSource) run() {
	buf := make([]byte, 64<<10)
	for {
		n, err := s.watch.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			s.mu.Lock()
			s.dirty = true
			s.mu.Unlock()
			continue
		}
		changed := false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 || (strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".")) {
				changed = true
			}
		}
		if changed {
			s.mu.Lock()
			s.dirty = true
			s.mu.Unlock()
		}
	}
}

// Records implements dns.Source.
func (s *recordSource) Records(network string) []dns.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirty || s.watch == nil {
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
