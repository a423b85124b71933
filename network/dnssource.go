package network

import (
	"context"
	"sync"

	"github.com/berthdev/berth/network/dns"
)

// recordSource gives a container's resolver the DNS records of the root:
// every complete endpoint record, by network. It keeps the records it
// decoded with the generation of the endpoint table they came from, and
// each query first reads the generation at the head of the table's two
// files (two 32-byte reads): only a newer generation makes it decode the
// table again. Every change of the table is written before the attach or
// detach that makes it returns, so a name is gone as soon as Detach has
// returned.
//
// It holds no inotify instance: there is one resolver per bridge-networked
// container, and the kernel allows a user 128 instances (the default
// fs.inotify.max_user_instances), which a 200-service stack would exhaust.
type recordSource struct {
	m *Manager

	mu    sync.Mutex
	have  bool
	gen   uint64
	byNet map[string][]dns.Record
}

// newRecordSource makes the record source of a container's resolver.
func (m *Manager) newRecordSource(context.Context) *recordSource {
	return &recordSource{m: m}
}

// Records implements dns.Source.
func (s *recordSource) Records(network string) []dns.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen, ok := s.m.endpoints.newestGen(); !s.have || !ok || gen != s.gen {
		d, err := s.m.endpoints.read()
		if err != nil {
			return s.byNet[network] // keep answering with what we had
		}
		recs, err := d.records()
		if err != nil {
			return s.byNet[network]
		}
		s.byNet = map[string][]dns.Record{}
		for _, r := range recs {
			if !r.Complete {
				continue
			}
			for _, e := range r.Endpoints {
				s.byNet[e.Network] = append(s.byNet[e.Network], dns.Record{ID: r.ContainerID, Name: r.Name,
					Names: lowerAll(append([]string{r.Name}, e.Aliases...)), IPv4: e.IPv4, IPv6: e.IPv6})
			}
		}
		s.gen, s.have = d.Gen, true
	}
	return s.byNet[network]
}
