package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

type fakeSource map[string][]Record

func (f fakeSource) Records(network string) []Record { return f[network] }

func records() fakeSource {
	return fakeSource{
		"app_default": {
			{ID: "aaaaaaaaaaaa1111", Name: "app-web-1", Names: []string{"app-web-1", "web", "www"}, IPv4: "172.18.0.2"},
			{ID: "bbbbbbbbbbbb2222", Name: "app-web-2", Names: []string{"app-web-2", "web"}, IPv4: "172.18.0.3", IPv6: "fd00::3"},
			{ID: "cccccccccccc3333", Name: "app-db-1", Names: []string{"app-db-1", "db"}, IPv4: "172.18.0.4"},
		},
		"app_back": {
			{ID: "cccccccccccc3333", Name: "app-db-1", Names: []string{"app-db-1", "db"}, IPv4: "172.19.0.2"},
		},
		"other_default": {
			{ID: "dddddddddddd4444", Name: "other-web-1", Names: []string{"web"}, IPv4: "172.20.0.2"},
		},
	}
}

func TestLookup(t *testing.T) {
	s := NewServer(Config{Records: records(), Networks: []string{"app_default", "app_back"},
		Links: map[string]string{"database": "db"}})
	tests := []struct {
		name   string
		v4, v6 int
		ok     bool
	}{
		{"web", 2, 1, true},
		{"WEB.", 2, 1, true},
		{"www", 1, 0, true},
		{"db", 2, 0, true}, // on both networks the container shares
		{"database", 2, 0, true},
		{"db.app_back", 1, 0, true},
		{"app-web-2", 1, 1, true},
		{"aaaaaaaaaaaa", 1, 0, true}, // short container ID
		{"other-web-1", 0, 0, false}, // another project's network
		{"nope", 0, 0, false},
	}
	for _, tc := range tests {
		v4, v6, ok := s.Lookup(tc.name)
		if len(v4) != tc.v4 || len(v6) != tc.v6 || ok != tc.ok {
			t.Errorf("%s: v4 %v v6 %v ok %v", tc.name, v4, v6, ok)
		}
	}
}

// serve runs s on 127.0.0.1 (UDP and TCP, random ports) for the test.
func serve(t *testing.T, s *Server) (udp, tcp string) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pc, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return pc.LocalAddr().String(), l.Addr().String()
}

func query(t *testing.T, addr, netw, name string, qt uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qt)
	c := &dns.Client{Net: netw, Timeout: 3 * time.Second}
	var r *dns.Msg
	var err error
	for range 20 { // the server may still be starting
		if r, _, err = c.Exchange(m, addr); err == nil {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s %s: %v", name, netw, err)
	return nil
}

func TestServeAnswersAndForwards(t *testing.T) {
	// The upstream: another server on loopback, knowing example.test.
	up := NewServer(Config{Records: fakeSource{"up": {{ID: "x", Name: "example.test", IPv4: "192.0.2.55"}}}, Networks: []string{"up"},
		Upstreams: []string{"127.0.0.1:1"}})
	upUDP, _ := serve(t, up)
	s := NewServer(Config{Records: records(), Networks: []string{"app_default"}, Upstreams: []string{upUDP}})
	udp, tcp := serve(t, s)

	r := query(t, udp, "udp", "web", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 || !r.Authoritative || r.Answer[0].Header().Ttl != 0 {
		t.Fatalf("web A: %v", r)
	}
	if r := query(t, tcp, "tcp", "web", dns.TypeA); len(r.Answer) != 2 {
		t.Fatalf("web A over tcp: %v", r)
	}
	if r := query(t, udp, "udp", "db", dns.TypeAAAA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Fatalf("db AAAA: want NODATA, got %v", r)
	}
	if r := query(t, udp, "udp", "db", dns.TypeMX); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Fatalf("db MX: want NODATA, got %v", r)
	}
	if r := query(t, udp, "udp", "4.0.18.172.in-addr.arpa", dns.TypePTR); len(r.Answer) != 1 || r.Answer[0].(*dns.PTR).Ptr != "app-db-1.app_default." {
		t.Fatalf("PTR: %v", r)
	}
	if r := query(t, udp, "udp", "example.test", dns.TypeA); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.55" {
		t.Fatalf("forwarded example.test: %v", r)
	}
	// The upstream's own upstream (port 1) does not answer: SERVFAIL.
	if r := query(t, udp, "udp", "nope.test", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("nope.test: rcode %d", r.Rcode)
	}
}

func TestNameserversAndPTR(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("# comment\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\nsearch lan\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ns := Nameservers(p); len(ns) != 2 || ns[0] != "127.0.0.53" || ns[1] != "fe80::1%eth0" {
		t.Fatalf("nameservers = %v", ns)
	}
	a, err := ptrAddr("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.")
	if err != nil || a != netip.MustParseAddr("fd00::1") {
		t.Fatalf("ptr6 = %v %v", a, err)
	}
}

func TestManyReplicasTruncateOverUDP(t *testing.T) {
	var recs []Record
	for i := range 60 {
		recs = append(recs, Record{ID: fmt.Sprintf("%016x", i), Name: fmt.Sprintf("app-api-%d", i+1), Names: []string{"api"},
			IPv4: fmt.Sprintf("172.18.0.%d", i+2)})
	}
	s := NewServer(Config{Records: fakeSource{"n": recs}, Networks: []string{"n"}})
	udp, tcp := serve(t, s)
	m := new(dns.Msg)
	m.SetQuestion("api.", dns.TypeA)
	r, _, err := (&dns.Client{Net: "udp"}).Exchange(m, udp)
	if err != nil || !r.Truncated || len(r.Answer) >= 60 {
		t.Fatalf("udp: truncated %v, %d answers, %v", r != nil && r.Truncated, len(r.Answer), err)
	}
	if r := query(t, tcp, "tcp", "api", dns.TypeA); len(r.Answer) != 60 {
		t.Fatalf("tcp: %d answers, want 60", len(r.Answer))
	}
}
