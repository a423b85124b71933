package network

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/network/internal/sandbox"
)

func TestHTTPByNameAndAlias(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	web := sandbox.Start(t, "http", "hello from web")
	client := sandbox.Start(t, "sleep")
	_, wres := e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"web", "www"}}})
	cid, _ := e.attach(client, "p-client-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"client"}}})
	e.serveDNS(cid, client)

	for _, name := range []string{"web", "www", "p-web-1", "WEB", "web.p_default"} {
		body, err := httpFrom(client, "http://"+name+"/")
		if err != nil || body != "hello from web" {
			t.Errorf("GET http://%s/ from client = %q, %v", name, body, err)
		}
	}
	ips, err := sandbox.Resolver(client.Pid, "127.0.0.11:53").LookupNetIP(context.Background(), "ip4", "web")
	if err != nil || len(ips) != 1 || ips[0] != netip.MustParseAddr(wres.Endpoints[0].IPv4) {
		t.Errorf("web = %v, %v; want %s", ips, err, wres.Endpoints[0].IPv4)
	}
	// The container's interface, address, MAC and default route.
	ep := wres.Endpoints[0]
	if ep.Interface != "eth0" || ep.Gateway != n.Gateway || !strings.HasPrefix(ep.MAC, "02:42:") || ep.PrefixLen != 16 {
		t.Errorf("endpoint = %+v", ep)
	}
}

// exchange sends one query to the container's resolver from inside it.
func exchange(t *testing.T, c *sandbox.Container, name string, qtype uint16) *dns.Msg {
	t.Helper()
	var resp *dns.Msg
	err := sandbox.InNetns(c.Pid, func() error {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtype)
		var err error
		resp, err = dns.Exchange(m, "127.0.0.11:53")
		return err
	})
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	return resp
}

// fakeUpstream is the host's resolver on 127.0.0.1:53 of the sandbox: it
// knows example.test.
func fakeUpstream(t *testing.T) string {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Name == "example.test." && r.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: net.IPv4(192, 0, 2, 55)})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("# like systemd-resolved\nnameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

func TestDNSRoundRobinNodataAndForwarding(t *testing.T) {
	e := newEnv(t)
	e.m = e.manager(Options{ResolvConf: fakeUpstream(t)})
	n := e.network("p_default")
	want := map[string]bool{}
	for i := 1; i <= 3; i++ {
		c := sandbox.Start(t, "sleep")
		_, res := e.attach(c, fmt.Sprintf("p-api-%d", i), []EndpointOptions{{Network: n.Name, Aliases: []string{"api"}}})
		want[res.Endpoints[0].IPv4] = true
	}
	client := sandbox.Start(t, "sleep")
	cid, _ := e.attach(client, "p-client-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"client"}}})
	e.serveDNS(cid, client)

	firsts := map[string]bool{}
	for range 20 {
		r := exchange(t, client, "api", dns.TypeA)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 3 {
			t.Fatalf("api: rcode %d, %d answers", r.Rcode, len(r.Answer))
		}
		got := map[string]bool{}
		for _, rr := range r.Answer {
			a := rr.(*dns.A)
			if a.Hdr.Ttl != 0 {
				t.Errorf("TTL %d, want 0", a.Hdr.Ttl)
			}
			got[a.A.String()] = true
		}
		for ip := range want {
			if !got[ip] {
				t.Fatalf("api answers %v, missing %s", got, ip)
			}
		}
		firsts[r.Answer[0].(*dns.A).A.String()] = true
	}
	if len(firsts) < 2 {
		t.Errorf("20 queries always answered %v first: no round-robin", firsts)
	}
	if r := exchange(t, client, "api", dns.TypeAAAA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("AAAA api: rcode %d answers %v, want NODATA", r.Rcode, r.Answer)
	}
	// Other names go to the host's resolver, from the host's side (a
	// loopback resolver the container could not reach itself).
	if r := exchange(t, client, "example.test", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 ||
		r.Answer[0].(*dns.A).A.String() != "192.0.2.55" {
		t.Errorf("example.test: %v", r)
	}
	if r := exchange(t, client, "nope.test", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("nope.test: rcode %d, want NXDOMAIN", r.Rcode)
	}
	// A name disappears when its container detaches.
	ids, _ := e.m.endpointsOf(n.Name)
	for _, ep := range ids {
		if ep.ContainerName == "p-api-2" {
			if err := e.m.Detach(context.Background(), ep.ContainerID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r := exchange(t, client, "api", dns.TypeA); len(r.Answer) != 2 {
		t.Errorf("after detaching p-api-2, api has %d answers", len(r.Answer))
	}
	if r := exchange(t, client, "p-api-2", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("p-api-2 after detach: rcode %d", r.Rcode)
	}
}

// TestResolverBesidePort53Service: a container whose own service holds port
// 53 still gets answers from its resolver at 127.0.0.11:53 (random ports
// behind a DNAT in its namespace, as docker does).
func TestResolverBesidePort53Service(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	web := sandbox.Start(t, "sleep")
	_, wres := e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}}})
	dnsd := sandbox.Start(t, "bind53")
	id, _ := e.attach(dnsd, "p-dns-1", []EndpointOptions{{Network: n.Name}})
	e.serveDNS(id, dnsd)
	r := exchange(t, dnsd, "web", dns.TypeA)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != wres.Endpoints[0].IPv4 {
		t.Fatalf("web from a container holding :53 = %v", r)
	}
	// TCP too.
	err := sandbox.InNetns(dnsd.Pid, func() error {
		m := new(dns.Msg)
		m.SetQuestion("web.", dns.TypeA)
		resp, _, err := (&dns.Client{Net: "tcp"}).Exchange(m, "127.0.0.11:53")
		if err == nil && len(resp.Answer) != 1 {
			err = fmt.Errorf("tcp answer %v", resp)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lan makes a stand-in for another host: a namespace joined to the sandbox
// by a veth pair of its own on 10.99.<k>.0/24, with a default route through
// the sandbox. It serves body over HTTP on :80. It returns the namespace,
// the sandbox's address on the pair and the lan's.
func lan(t *testing.T, k int, body string) (*sandbox.Container, string, string) {
	t.Helper()
	c := sandbox.Start(t, "http", body)
	host, peer := fmt.Sprintf("10.99.%d.1", k), fmt.Sprintf("10.99.%d.2", k)
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("bvtestlan%d", k), Flags: net.FlagUp},
		PeerName: "eth0", PeerNamespace: netlink.NsPid(c.Pid)}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteLink(v.Name) })
	if err := netlink.AddrAdd(v, &netlink.Addr{IPNet: ipNet(netip.MustParseAddr(host), 24)}); err != nil {
		t.Fatal(err)
	}
	err := sandbox.InNetns(c.Pid, func() error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: ipNet(netip.MustParseAddr(peer), 24)}); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
		lo, _ := netlink.LinkByName("lo")
		_ = netlink.LinkSetUp(lo)
		return netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(host)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, host, peer
}

func freePort(t *testing.T) uint16 {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func TestPublishedPorts(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	other, lanHost, _ := lan(t, 1, "lan")
	_ = other
	web := sandbox.Start(t, "http", "web")
	fixed := freePort(t)
	_, res := e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}}},
		PortOptions{ContainerPort: 80},                                       // random host port
		PortOptions{HostIP: "127.0.0.1", HostPort: fixed, ContainerPort: 80}, // loopback only
		PortOptions{HostPort: 0, ContainerPort: 53, Protocol: "udp"})
	if len(res.Ports) != 3 || res.Ports[0].HostPort == 0 || res.Ports[1].HostPort != fixed || res.Ports[2].HostPort == 0 {
		t.Fatalf("ports = %+v", res.Ports)
	}
	random := res.Ports[0].HostPort
	for _, url := range []string{
		fmt.Sprintf("http://127.0.0.1:%d/", random),
		fmt.Sprintf("http://127.0.0.1:%d/", fixed),
		fmt.Sprintf("http://%s:%d/", n.Gateway, random), // a host address
		fmt.Sprintf("http://%s:%d/", lanHost, random),   // another host address
	} {
		if body, err := httpHost(url); err != nil || body != "web" {
			t.Errorf("host GET %s = %q, %v", url, body, err)
		}
	}
	// Hairpin: the container reaches its own published port through the host.
	if body, err := httpFrom(web, fmt.Sprintf("http://%s:%d/", n.Gateway, random)); err != nil || body != "web" {
		t.Errorf("hairpin GET = %q, %v", body, err)
	}
	// Another host reaches the published port on the host's address…
	if body, err := httpFrom(other, fmt.Sprintf("http://%s:%d/", lanHost, random)); err != nil || body != "web" {
		t.Errorf("lan GET published = %q, %v", body, err)
	}
	// …but neither the loopback-only port nor the container directly.
	if dialFrom(other, fmt.Sprintf("%s:%d", lanHost, fixed)) == nil {
		t.Errorf("lan reached the 127.0.0.1-only port")
	}
	if dialFrom(other, res.Endpoints[0].IPv4+":80") == nil {
		t.Errorf("lan reached the container's unpublished address directly")
	}
	// The container reaches the outside (masqueraded).
	if body, err := httpFrom(web, "http://10.99.1.2/"); err != nil || body != "lan" {
		t.Errorf("outbound GET = %q, %v", body, err)
	}
}

func TestPortConflict(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := uint16(l.Addr().(*net.TCPAddr).Port)
	c := sandbox.Start(t, "sleep")
	id := newID()
	_, err = e.m.Attach(context.Background(), AttachOptions{ContainerID: id, ContainerName: "p-web-1", Pid: c.Pid,
		Endpoints: []EndpointOptions{{Network: n.Name}},
		Ports:     []PortOptions{{ContainerPort: 81}, {HostPort: busy, ContainerPort: 80}}})
	if !errdefs.IsConflict(err) {
		t.Fatalf("err = %v, want a conflict", err)
	}
	for _, want := range []string{"p-web-1", fmt.Sprintf("0.0.0.0:%d/tcp", busy), fmt.Sprintf("pid %d (", os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if left := e.leftovers(map[string][]string{id: {n.Name}}); len(left) != 0 {
		t.Errorf("half-made attach left %v", left)
	}
	// A port another container publishes.
	free := freePort(t)
	e.attach(c, "p-web-1", []EndpointOptions{{Network: n.Name}}, PortOptions{HostPort: free, ContainerPort: 80})
	c2 := sandbox.Start(t, "sleep")
	_, err = e.m.Attach(context.Background(), AttachOptions{ContainerID: newID(), ContainerName: "p-api-1", Pid: c2.Pid,
		Endpoints: []EndpointOptions{{Network: n.Name}}, Ports: []PortOptions{{HostIP: "127.0.0.1", HostPort: free, ContainerPort: 80}}})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "by container p-web-1") {
		t.Fatalf("err = %v, want a conflict naming p-web-1", err)
	}
	// A range takes its first free port.
	_, res := e.attach(c2, "p-api-1", []EndpointOptions{{Network: n.Name}}, PortOptions{HostPort: busy, HostPortEnd: busy + 50, ContainerPort: 80})
	if p := res.Ports[0].HostPort; p <= busy || p > busy+50 {
		t.Errorf("range %d-%d gave %d", busy, busy+50, p)
	}
}

func TestIPv6AndFixedAddresses(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_v6", func(s *Spec) {
		s.EnableIPv6 = true
		s.IPAM = []IPAMConfig{{Subnet: "10.77.0.0/24", Gateway: "10.77.0.254", IPRange: "10.77.0.128/25"}}
	})
	if n.Subnet != "10.77.0.0/24" || n.Gateway != "10.77.0.254" || !strings.HasPrefix(n.IPv6Subnet, "fd") {
		t.Fatalf("network = %+v", n)
	}
	web := sandbox.Start(t, "http", "v6")
	client := sandbox.Start(t, "sleep")
	_, wres := e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}, IPv4Address: "10.77.0.10",
		MacAddress: "02:aa:bb:cc:dd:ee"}})
	cid, cres := e.attach(client, "p-client-1", []EndpointOptions{{Network: n.Name}})
	e.serveDNS(cid, client)
	if w := wres.Endpoints[0]; w.IPv4 != "10.77.0.10" || w.MAC != "02:aa:bb:cc:dd:ee" || w.IPv6 == "" {
		t.Errorf("web endpoint = %+v", w)
	}
	if a := netip.MustParseAddr(cres.Endpoints[0].IPv4); !netip.MustParsePrefix("10.77.0.128/25").Contains(a) {
		t.Errorf("dynamic address %s outside ip_range", a)
	}
	r := exchange(t, client, "web", dns.TypeAAAA)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != wres.Endpoints[0].IPv6 {
		t.Fatalf("AAAA web = %v", r.Answer)
	}
	if body, err := httpFrom(client, "http://["+wres.Endpoints[0].IPv6+"]/"); err != nil || body != "v6" {
		t.Errorf("GET over IPv6 = %q, %v", body, err)
	}
	// A fixed address already taken.
	c3 := sandbox.Start(t, "sleep")
	_, err := e.m.Attach(context.Background(), AttachOptions{ContainerID: newID(), ContainerName: "p-x-1", Pid: c3.Pid,
		Endpoints: []EndpointOptions{{Network: n.Name, IPv4Address: "10.77.0.10"}}})
	if !errdefs.IsConflict(err) {
		t.Errorf("taken ipv4_address: err = %v", err)
	}
}

// dialFrom connects to addr from inside c's namespace, giving up soon (for
// connections that must fail: dropped packets only time out).
func dialFrom(c *sandbox.Container, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	conn, err := sandbox.Dialer(c.Pid)(ctx, "tcp", addr)
	if err == nil {
		conn.Close()
	}
	return err
}

// TestLocalnetGuard: route_localnet on the bridge (needed for ports
// published on 127.0.0.1) must not let a container reach the host's
// loopback services (CVE-2020-8558): one that routes 127.0.0.0/8 to the
// gateway is dropped, while the published port still works.
func TestLocalnetGuard(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	l, err := net.Listen("tcp4", "127.0.0.2:0") // a host service on loopback
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	evil := sandbox.Start(t, "sleep")
	e.attach(evil, "p-evil-1", []EndpointOptions{{Network: n.Name}})
	err = sandbox.InNetns(evil.Pid, func() error {
		// What a container with CAP_NET_ADMIN could do.
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/eth0/route_localnet", []byte("1"), 0o644); err != nil {
			return err
		}
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		// 127.0.0.0/8 is local (table local, dev lo): keep only 127.0.0.1
		// (its own local route stays).
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.RouteDel(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: &net.IPNet{IP: net.ParseIP("127.0.0.0").To4(), Mask: net.CIDRMask(8, 32)},
			Table: unix.RT_TABLE_LOCAL, Type: unix.RTN_LOCAL, Scope: unix.RT_SCOPE_HOST}); err != nil {
			return fmt.Errorf("del local 127/8: %w", err)
		}
		return netlink.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: &net.IPNet{IP: net.ParseIP("127.0.0.2").To4(), Mask: net.CIDRMask(32, 32)},
			Gw: net.ParseIP(n.Gateway), Table: unix.RT_TABLE_MAIN})
	})
	if err != nil {
		t.Skipf("cannot route loopback out of the container here: %v", err)
	}
	if dialFrom(evil, l.Addr().String()) == nil {
		t.Fatalf("a container reached the host's %s", l.Addr())
	}
}
