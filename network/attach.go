package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/network/dns"
	"github.com/berthdev/berth/network/ipam"
	"github.com/berthdev/berth/network/nft"
)

// AttachOptions is one container's networking, resolved by the caller.
type AttachOptions struct {
	ContainerID   string
	ContainerName string
	// Project is the compose project (diagnostics only).
	Project string
	// Pid is a process in the container's network namespace (its init).
	Pid int
	// Endpoints are the networks to join, in priority order: the first one
	// that is not internal gives the default route and receives the
	// published ports.
	Endpoints []EndpointOptions
	// Ports are the ports to publish.
	Ports []PortOptions
	// DNS are upstream resolvers for names that are not containers
	// (compose `dns:`); empty means the host's. DNSSearch and DNSOptions
	// go into the container's resolv.conf (AttachResult.ResolvConf).
	DNS, DNSSearch, DNSOptions []string
	// ExtraHosts are "name:ip" (or "name=ip"); ip "host-gateway" means the
	// host's address on the container's first network.
	ExtraHosts []string
	// Links map an alias to the container or service name it stands for,
	// for this container's resolver only.
	Links map[string]string
}

// EndpointOptions is one network to join.
type EndpointOptions struct {
	Network string
	// Aliases are the names the container answers to on the network,
	// besides its container name (service name, compose aliases).
	Aliases []string
	// IPv4Address, IPv6Address and MacAddress request fixed values.
	IPv4Address, IPv6Address, MacAddress string
}

// PortOptions is one published port.
type PortOptions struct {
	// HostIP is "" (every address) or an address of the host.
	HostIP string `json:"host_ip,omitempty"`
	// HostPort 0 means a random free port; with HostPortEnd > HostPort,
	// the first free port of the range.
	HostPort      uint16 `json:"host_port"`
	HostPortEnd   uint16 `json:"host_port_end,omitempty"`
	ContainerPort uint16 `json:"container_port"`
	// Protocol is "tcp" (the default) or "udp".
	Protocol string `json:"protocol"`
}

// AttachResult is what Attach made.
type AttachResult struct {
	// Endpoints are in the order of AttachOptions.Endpoints.
	Endpoints []Endpoint
	// Ports are the published ports with their actual host ports.
	Ports []PortOptions
	// Hosts are /etc/hosts lines ("ip\tname") for ExtraHosts.
	Hosts []string
	// ResolvConf is the container's /etc/resolv.conf: the embedded resolver.
	ResolvConf []byte
}

// liveEndpoint is what this process holds for an attached container: port
// reservations (or proxies) and the resolver's sockets until ServeDNS
// takes them.
type liveEndpoint struct {
	closers []io.Closer
	dnsUDP  net.PacketConn
	dnsTCP  net.Listener
}

func (l *liveEndpoint) close() {
	for _, c := range l.closers {
		_ = c.Close()
	}
	if l.dnsUDP != nil {
		_ = l.dnsUDP.Close()
	}
	if l.dnsTCP != nil {
		_ = l.dnsTCP.Close()
	}
}

// Attach joins the container to its networks (veth pairs straight into its
// namespace, addresses, routes, loopback up), publishes its ports, registers
// its DNS names and opens its resolver's sockets (ServeDNS serves them).
// On error nothing it made is left.
func (m *Manager) Attach(ctx context.Context, opts AttachOptions) (_ AttachResult, err error) {
	var res AttachResult
	if err := validID(opts.ContainerID); err != nil {
		return res, err
	}
	if len(opts.Endpoints) == 0 {
		return res, fmt.Errorf("container %s: no network to attach: %w", opts.ContainerName, errdefs.ErrInvalidArgument)
	}
	nets := make([]*Network, len(opts.Endpoints))
	rec := &endpointRecord{ContainerID: opts.ContainerID, Name: opts.ContainerName, Project: opts.Project,
		Pid: opts.Pid, Links: lowerKeys(opts.Links), Upstreams: opts.DNS,
		Attacher: m.self.pid, AttacherStart: m.self.start, Token: newToken()}
	for i, ep := range opts.Endpoints {
		n, err := m.load(ep.Network)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return res, fmt.Errorf("container %s: network %s not found; create it first (berth up creates the project's networks): %w",
					opts.ContainerName, ep.Network, errdefs.ErrNotFound)
			}
			return res, err
		}
		nets[i] = n
		rec.Networks = append(rec.Networks, n.Name)
	}
	if rec.PidStart, err = pidStart(opts.Pid); err != nil {
		return res, fmt.Errorf("container %s: %w", opts.ContainerName, err)
	}
	// The intent: whatever a killed attach made can be found from it, and
	// while this process lives, nobody takes it for a dead one.
	if err := m.claimEndpoint(ctx, rec); err != nil {
		return res, err
	}
	live := &liveEndpoint{}
	defer func() {
		if err != nil {
			live.close()
			ctx := context.WithoutCancel(ctx)
			if m.cleanup(ctx, rec) == nil {
				_ = m.deleteEndpoint(ctx, rec.ContainerID, rec.Token)
			}
		}
	}()

	ns, err := netns.GetFromPid(opts.Pid)
	if err != nil {
		return res, fmt.Errorf("container %s: network namespace of pid %d: %w", opts.ContainerName, opts.Pid, err)
	}
	defer ns.Close()
	// One visit to the namespace makes every socket the attach needs there.
	nss, err := openNsSockets(int(ns))
	if err != nil {
		return res, fmt.Errorf("container %s: %w", opts.ContainerName, err)
	}
	live.dnsUDP, live.dnsTCP = nss.udp, nss.tcp // closed with live on error
	defer nss.close(false)
	h := nss.h
	// The DNAT of port 53 to the resolver touches nothing the interfaces
	// need: it is sent meanwhile.
	dnsc := make(chan error, 1)
	go func() { dnsc <- nss.redirectDNS() }()
	defer func() {
		if dnsc != nil {
			<-dnsc
		}
	}()

	gwIndex := -1
	for i, ep := range opts.Endpoints {
		e, err := m.attachOne(ctx, h, ns, nets[i], ep, opts, rec.Token, i)
		if err != nil {
			return res, err
		}
		rec.Endpoints = append(rec.Endpoints, e)
		if gwIndex < 0 && !nets[i].Internal {
			gwIndex = i
		}
	}
	err = <-dnsc
	dnsc = nil
	if err != nil {
		return res, fmt.Errorf("container %s: dns: %w", opts.ContainerName, err)
	}
	if gwIndex >= 0 {
		if err := defaultRoutes(h, rec.Endpoints[gwIndex]); err != nil {
			return res, fmt.Errorf("container %s: default route via %s: %w", opts.ContainerName, rec.Endpoints[gwIndex].Gateway, err)
		}
	}
	if len(opts.Ports) > 0 {
		if gwIndex < 0 {
			return res, fmt.Errorf("container %s: ports cannot be published from internal networks only: %w", opts.ContainerName, errdefs.ErrInvalidArgument)
		}
		cip, _ := netip.ParseAddr(rec.Endpoints[gwIndex].IPv4)
		rec.Ports, live.closers, err = m.publish(ctx, opts, cip)
		if err != nil {
			return res, err
		}
	}
	// The complete record is what DNS servers answer from: the names
	// appear now.
	rec.Complete = true
	if err := m.putEndpoint(ctx, rec, rec.Token); err != nil {
		return res, err
	}
	m.mu.Lock()
	m.live[opts.ContainerID] = live
	m.mu.Unlock()

	res.Endpoints = rec.Endpoints
	res.Ports = rec.Ports
	res.ResolvConf = ResolvConf(opts.DNSSearch, opts.DNSOptions)
	res.Hosts, err = extraHosts(opts.ExtraHosts, rec.Endpoints[0].Gateway)
	return res, err
}

func nsPath(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/ns/net" }

// newToken is a random tag for one attach's record.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// resolverAddr is where containers send their queries (127.0.0.11:53).
var resolverAddr = netip.MustParseAddr("127.0.0.11")

// openResolver opens the resolver's sockets in the namespace on random
// ports of 127.0.0.11 and redirects port 53 to them (nftables in the
// namespace), so that a service of the container can bind port 53 itself.
func openResolver(nsFd int, path string) (net.PacketConn, net.Listener, error) {
	udp, tcp, err := dns.Listen(path, net.JoinHostPort(resolverAddr.String(), "0"))
	if err != nil {
		return nil, nil, err
	}
	up, tp := udp.LocalAddr().(*net.UDPAddr).Port, tcp.Addr().(*net.TCPAddr).Port
	if err := nft.RedirectDNS(nsFd, resolverAddr, uint16(up), uint16(tp)); err != nil {
		_ = udp.Close()
		_ = tcp.Close()
		return nil, nil, fmt.Errorf("dns: %w", err)
	}
	return udp, tcp, nil
}

// attachOne makes the veth pair of one endpoint and addresses it.
func (m *Manager) attachOne(ctx context.Context, h *netlink.Handle, ns netns.NsHandle, n *Network, ep EndpointOptions, opts AttachOptions, token string, i int) (Endpoint, error) {
	e := Endpoint{Network: n.Name, ContainerID: opts.ContainerID, ContainerName: opts.ContainerName,
		Interface: "eth" + strconv.Itoa(i), HostVeth: hostVethName(token, n.Name), Aliases: ep.Aliases}
	fail := func(what string, err error) (Endpoint, error) {
		return e, fmt.Errorf("container %s: network %s: %s: %w", opts.ContainerName, n.Name, what, err)
	}
	sub4, err := ipam.ParseSubnet(n.Subnet, n.Gateway, n.IPRange)
	if err != nil {
		return fail("subnet", err)
	}
	var want netip.Addr
	if ep.IPv4Address != "" {
		if want, err = netip.ParseAddr(ep.IPv4Address); err != nil {
			return fail("ipv4_address", fmt.Errorf("%q: %w", ep.IPv4Address, errdefs.ErrInvalidArgument))
		}
	}
	a4, err := m.leases.Allocate(ctx, n.Name, sub4, opts.ContainerID, want)
	if err != nil {
		return fail("address", err)
	}
	e.IPv4, e.PrefixLen, e.Gateway = a4.String(), sub4.Prefix.Bits(), n.Gateway
	var a6 netip.Addr
	var sub6 ipam.Subnet
	if n.IPv6Subnet != "" {
		if sub6, err = ipam.ParseSubnet(n.IPv6Subnet, n.IPv6Gateway, ""); err != nil {
			return fail("ipv6 subnet", err)
		}
		want = netip.Addr{}
		if ep.IPv6Address != "" {
			if want, err = netip.ParseAddr(ep.IPv6Address); err != nil {
				return fail("ipv6_address", fmt.Errorf("%q: %w", ep.IPv6Address, errdefs.ErrInvalidArgument))
			}
		}
		if a6, err = m.leases.Allocate(ctx, n.Name, sub6, opts.ContainerID, want); err != nil {
			return fail("ipv6 address", err)
		}
		e.IPv6, e.IPv6PrefixLen, e.IPv6Gateway = a6.String(), sub6.Prefix.Bits(), n.IPv6Gateway
	}
	mac := macFromIPv4(a4)
	if ep.MacAddress != "" {
		if mac, err = net.ParseMAC(ep.MacAddress); err != nil || len(mac) != 6 {
			return fail("mac_address", fmt.Errorf("%q: %w", ep.MacAddress, errdefs.ErrInvalidArgument))
		}
	}
	e.MAC = mac.String()

	host, err := m.links.handle()
	if err != nil {
		return fail("bridge", err)
	}
	br, err := host.LinkByName(n.Bridge)
	if err != nil {
		// The bridge went away (reboot, someone deleted it): re-make it.
		if err := m.ensureBridge(ctx, n); err != nil {
			return fail("bridge", err)
		}
		if br, err = host.LinkByName(n.Bridge); err != nil {
			return fail("bridge "+n.Bridge, err)
		}
	}
	// Up on both ends, enslaved, the peer named and in the namespace: one
	// request.
	idx, err := m.links.addVeth(e.HostVeth, br.Attrs().MTU, br.Attrs().Index, br.Attrs().Group, e.Interface, mac, int(ns))
	if err != nil {
		return fail("create veth "+e.HostVeth, err)
	}
	// Hairpin: a container reaching its own published port through the
	// host comes back through the port it left by (br_netfilter bridges
	// the DNATed frame back out of it). Only containers that publish ports
	// need it, and setting it costs as much as making the pair.
	if len(opts.Ports) > 0 {
		if err := host.LinkSetHairpin(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: e.HostVeth, Index: idx}}, true); err != nil {
			return fail("hairpin on "+e.HostVeth, err)
		}
	}
	peer, err := h.LinkByName(e.Interface)
	if err != nil {
		return fail(e.Interface+" in the container", err)
	}
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: ipNet(a4, sub4.Prefix.Bits())}); err != nil {
		return fail("address "+e.IPv4, err)
	}
	if a6.IsValid() {
		if err := h.AddrAdd(peer, &netlink.Addr{IPNet: ipNet(a6, sub6.Prefix.Bits()), Flags: unix.IFA_F_NODAD}); err != nil {
			return fail("address "+e.IPv6, err)
		}
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fail(e.Interface+" up", err)
	}
	return e, nil
}

func setLinkUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	return h.LinkSetUp(l)
}

func defaultRoutes(h *netlink.Handle, e Endpoint) error {
	l, err := h.LinkByName(e.Interface)
	if err != nil {
		return err
	}
	gw, _ := netip.ParseAddr(e.Gateway)
	if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw.AsSlice()}); err != nil {
		return err
	}
	if e.IPv6Gateway != "" {
		gw6, _ := netip.ParseAddr(e.IPv6Gateway)
		if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw6.AsSlice()}); err != nil {
			return err
		}
	}
	return nil
}

// macFromIPv4 is docker's scheme: 02:42 and the four address bytes.
func macFromIPv4(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// Detach undoes Attach: published ports, DNS names, leases, veths, and the
// resolver sockets this process holds. Detaching a container that is not
// attached is success.
func (m *Manager) Detach(ctx context.Context, containerID string) error {
	if err := validID(containerID); err != nil {
		return err
	}
	m.mu.Lock()
	live := m.live[containerID]
	delete(m.live, containerID)
	m.mu.Unlock()
	if live != nil {
		live.close()
	}
	rec, err := m.readEndpoint(containerID)
	if errdefs.IsNotFound(err) {
		return nil // nothing attached
	} else if err != nil {
		return err
	}
	if rec.inFlight() && rec.Attacher != m.self.pid {
		return fmt.Errorf("container %s is being attached by process %d: %w", rec.Name, rec.Attacher, errdefs.ErrConflict)
	}
	ctx = context.WithoutCancel(ctx)
	if err := m.cleanup(ctx, rec); err != nil {
		return err
	}
	return m.deleteEndpoint(ctx, containerID, rec.Token)
}

// cleanup removes everything rec may have made (not the record itself).
func (m *Manager) cleanup(ctx context.Context, rec *endpointRecord) error {
	var errs []error
	if len(rec.Ports) > 0 || !rec.Complete {
		if err := m.fw.RemovePorts(ctx, rec.ContainerID); err != nil {
			errs = append(errs, err)
		}
	}
	// A veth pair goes with the namespace of its peer: once the container
	// is dead, the kernel removes it (deleting it here would only race the
	// namespace's teardown for the rtnl lock, ~20 ms).
	alive := rec.alive()
	for _, n := range rec.Networks {
		if err := m.leases.Release(ctx, n, rec.ContainerID); err != nil {
			errs = append(errs, err)
		}
		if alive {
			if err := deleteLink(hostVethName(rec.Token, n)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("container %s: detach: %w", rec.Name, err)
	}
	return nil
}

// ServeDNS runs the container's resolver on 127.0.0.11:53 in its network
// namespace until ctx is done. It serves the sockets Attach opened when
// called in the same process, else opens them in /proc/PID/ns/net.
func (m *Manager) ServeDNS(ctx context.Context, containerID string, pid int) error {
	rec, err := m.readEndpoint(containerID)
	if err != nil {
		return err
	}
	m.mu.Lock()
	var udp net.PacketConn
	var tcp net.Listener
	if l := m.live[containerID]; l != nil && l.dnsUDP != nil {
		udp, tcp = l.dnsUDP, l.dnsTCP
		l.dnsUDP, l.dnsTCP = nil, nil // Serve closes them now
	}
	m.mu.Unlock()
	if udp == nil {
		ns, err := netns.GetFromPid(pid)
		if err != nil {
			return fmt.Errorf("container %s: network namespace of pid %d: %w", rec.Name, pid, err)
		}
		udp, tcp, err = openResolver(int(ns), nsPath(pid))
		ns.Close()
		if err != nil {
			return fmt.Errorf("container %s: %w", rec.Name, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := dns.NewServer(dns.Config{Records: m.newRecordSource(ctx), Networks: rec.Networks, Links: rec.Links,
		Upstreams: rec.Upstreams, ResolvConf: m.resolvConf, Logger: m.log})
	return srv.Serve(ctx, udp, tcp)
}

// ResolvConf is a container's /etc/resolv.conf with the embedded resolver,
// as docker writes it on user-defined networks.
func ResolvConf(search, options []string) []byte {
	var b strings.Builder
	b.WriteString("# Generated by berth: the embedded resolver answers the project's names.\n")
	b.WriteString("nameserver 127.0.0.11\n")
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	opts := []string{"ndots:0"}
	for _, o := range options {
		if strings.HasPrefix(o, "ndots:") {
			opts[0] = o
		} else {
			opts = append(opts, o)
		}
	}
	b.WriteString("options " + strings.Join(opts, " ") + "\n")
	return []byte(b.String())
}

// extraHosts renders "name:ip" entries as hosts lines, resolving
// host-gateway to gw.
func extraHosts(entries []string, gw string) ([]string, error) {
	var out []string
	for _, e := range entries {
		name, ip, ok := strings.Cut(e, "=")
		if !ok {
			name, ip, ok = strings.Cut(e, ":")
		}
		if !ok || name == "" {
			return nil, fmt.Errorf("extra_hosts %q: want name:ip: %w", e, errdefs.ErrInvalidArgument)
		}
		ip = strings.Trim(ip, "[]")
		if ip == "host-gateway" {
			ip = gw
		}
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("extra_hosts %q: %q is not an address: %w", e, ip, errdefs.ErrInvalidArgument)
		}
		out = append(out, ip+"\t"+name)
	}
	return out, nil
}

func lowerAll(s []string) []string {
	out := make([]string, 0, len(s))
	for _, x := range s {
		out = append(out, strings.ToLower(x))
	}
	return out
}

func lowerKeys(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// LoopbackUp brings up the loopback of the network namespace of pid (for
// containers with network_mode none).
func (m *Manager) LoopbackUp(ctx context.Context, pid int) error {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("network namespace of pid %d: %w", pid, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in the namespace of pid %d: %w", pid, err)
	}
	defer h.Close()
	return setLinkUp(h, "lo")
}
