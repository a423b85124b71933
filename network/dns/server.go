package dns

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Config is what one container's server answers.
type Config struct {
	// Records gives the networks' records.
	Records Source
	// Networks are the networks the container is on: only their records
	// are answered.
	Networks []string
	// Links maps a link alias to the name it stands for, for this
	// container only (compose `links: [db:database]`: "database" → "db").
	Links map[string]string
	// Upstreams are "ip" or "ip:port" resolvers for other names (compose
	// `dns:`); empty means the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is the host's resolver file ("" means /etc/resolv.conf),
	// re-read when it changes.
	ResolvConf string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Server answers one container's queries. It is safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	hosts cachedUpstreams
	ctx   context.Context // Serve's: forwarded queries end with it
}

type cachedUpstreams struct {
	mtime time.Time
	list  []string
}

// NewServer returns a server for cfg.
// udpIdleReadTimeout is the UDP server's read deadline: far enough that an
// idle resolver does not wake.
const udpIdleReadTimeout = 24 * time.Hour

func NewServer(cfg Config) *Server {
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ctx: context.TODO()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func (s *Server) records(network string) []Record { return s.cfg.Records.Records(network) }

// Lookup returns the addresses of name on the container's networks; ok is
// false when no container has that name.
func (s *Server) Lookup(name string) (v4, v6 []netip.Addr, ok bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if t, isLink := s.cfg.Links[name]; isLink {
		name = strings.ToLower(t)
	}
	for _, nw := range s.cfg.Networks {
		want := name
		if base, cut := strings.CutSuffix(name, "."+strings.ToLower(nw)); cut {
			want = base // "db.myapp_default"
		}
		for _, r := range s.records(nw) {
			if !r.answers(want) {
				continue
			}
			ok = true
			if a, err := netip.ParseAddr(r.IPv4); err == nil {
				v4 = append(v4, a)
			}
			if a, err := netip.ParseAddr(r.IPv6); err == nil {
				v6 = append(v6, a)
			}
		}
	}
	return v4, v6, ok
}

func (r Record) answers(name string) bool {
	if strings.EqualFold(r.Name, name) || (len(r.ID) >= 12 && r.ID[:12] == name) {
		return true
	}
	for _, n := range r.Names {
		if n == name {
			return true
		}
	}
	return false
}

// reverse returns the container names for a PTR query of an address on the
// container's networks.
func (s *Server) reverse(a netip.Addr) []string {
	var out []string
	for _, nw := range s.cfg.Networks {
		for _, r := range s.records(nw) {
			if r.IPv4 == a.String() || r.IPv6 == a.String() {
				out = append(out, r.Name+"."+nw)
			}
		}
	}
	return out
}

// ServeDNS answers one query (dns.Handler).
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	if q.Qclass == dns.ClassINET {
		if m := s.answer(req, q); m != nil {
			if w.LocalAddr().Network() == "udp" {
				// Many replicas make a long answer: fit it in the client's
				// UDP size (512 without EDNS0), setting TC past that.
				size := dns.MinMsgSize
				if o := req.IsEdns0(); o != nil {
					size = int(o.UDPSize())
				}
				m.Truncate(size)
			}
			_ = w.WriteMsg(m)
			return
		}
	}
	_ = w.WriteMsg(s.forward(req, w.LocalAddr().Network()))
}

// answer builds the reply for a name berth knows, or nil.
func (s *Server) answer(req *dns.Msg, q dns.Question) *dns.Msg {
	if q.Qtype == dns.TypePTR {
		a, err := ptrAddr(q.Name)
		if err != nil {
			return nil
		}
		names := s.reverse(a)
		if len(names) == 0 {
			return nil
		}
		m := reply(req)
		for _, n := range names {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(q.Name, dns.TypePTR), Ptr: dns.Fqdn(n)})
		}
		return m
	}
	v4, v6, ok := s.Lookup(q.Name)
	if !ok {
		return nil
	}
	m := reply(req) // other types of a known name: NODATA
	if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
		for _, a := range shuffle(v4) {
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(q.Name, dns.TypeA), A: a.AsSlice()})
		}
	}
	if q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY {
		for _, a := range shuffle(v6) {
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(q.Name, dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	return m
}

func reply(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	return m
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 0}
}

func shuffle(a []netip.Addr) []netip.Addr {
	rand.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
	return a
}

func ptrAddr(name string) (netip.Addr, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		p := strings.Split(rest, ".")
		if len(p) == 4 {
			return netip.ParseAddr(p[3] + "." + p[2] + "." + p[1] + "." + p[0])
		}
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		p := strings.Split(rest, ".")
		if len(p) == 32 {
			var b strings.Builder
			for i := 31; i >= 0; i-- {
				b.WriteString(p[i])
				if i%4 == 0 && i > 0 {
					b.WriteByte(':')
				}
			}
			return netip.ParseAddr(b.String())
		}
	}
	return netip.Addr{}, errors.New("not a reverse name")
}

// upstreams returns the resolvers to forward to.
func (s *Server) upstreams() []string {
	if len(s.cfg.Upstreams) > 0 {
		return s.cfg.Upstreams
	}
	st, err := os.Stat(s.cfg.ResolvConf)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		return nil
	}
	if !st.ModTime().Equal(s.hosts.mtime) || s.hosts.list == nil {
		s.hosts = cachedUpstreams{mtime: st.ModTime(), list: Nameservers(s.cfg.ResolvConf)}
	}
	return s.hosts.list
}

// Nameservers returns the nameserver addresses of a resolv.conf file.
func Nameservers(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{}
	}
	defer f.Close()
	out := []string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "nameserver" {
			if _, err := netip.ParseAddr(strings.Split(fs[1], "%")[0]); err == nil {
				out = append(out, fs[1])
			}
		}
	}
	return out
}

// forward relays req to the upstream resolvers in turn, over the same
// transport; SERVFAIL when none answers.
func (s *Server) forward(req *dns.Msg, transport string) *dns.Msg {
	c := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
	if transport == "tcp" {
		c.Net = "tcp"
	}
	for _, u := range s.upstreams() {
		addr := u
		if _, err := netip.ParseAddrPort(u); err != nil {
			addr = net.JoinHostPort(u, "53")
		}
		s.mu.Lock()
		base := s.ctx
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(base, 4*time.Second)
		resp, _, err := c.ExchangeContext(ctx, req, addr)
		cancel()
		if err == nil && resp != nil {
			return resp
		}
		s.log.Debug("dns: upstream failed", "upstream", addr, "err", err)
	}
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

// Serve answers on the given sockets until ctx is done, then closes them.
func (s *Server) Serve(ctx context.Context, udp net.PacketConn, tcp net.Listener) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	servers := []*dns.Server{}
	if udp != nil {
		// miekg/dns gives each UDP read a deadline (2 s by default) and
		// loops on the timeout: every idle container's monitor would
		// wake every 2 s (and page its code back in). A read ends when
		// the socket is closed, so the deadline only needs to be far.
		servers = append(servers, &dns.Server{PacketConn: udp, Handler: s, ReadTimeout: udpIdleReadTimeout})
	}
	if tcp != nil {
		servers = append(servers, &dns.Server{Listener: tcp, Handler: s})
	}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.ActivateAndServe() }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	for _, srv := range servers {
		_ = srv.Shutdown()
	}
	if udp != nil {
		_ = udp.Close()
	}
	if tcp != nil {
		_ = tcp.Close()
	}
	return err
}
