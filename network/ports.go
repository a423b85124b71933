package network

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/network/nft"
)

// publish reserves the host ports of opts.Ports (a socket bound on each, held
// by this process) and forwards them to cip: nftables DNAT, or the userland
// proxy on the reserved sockets. It returns the ports with their actual host
// ports. On error it closes what it opened; the caller removes the rules.
func (m *Manager) publish(ctx context.Context, opts AttachOptions, cip netip.Addr) (_ []PortOptions, _ []io.Closer, err error) {
	var out []PortOptions
	var held []io.Closer
	defer func() {
		if err != nil {
			for _, c := range held {
				_ = c.Close()
			}
		}
	}()
	var rules []nft.Port
	for _, p := range opts.Ports {
		p.Protocol = strings.ToLower(p.Protocol)
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		if p.Protocol != "tcp" && p.Protocol != "udp" {
			return nil, nil, fmt.Errorf("container %s: port %d/%s: only tcp and udp can be published: %w", opts.ContainerName, p.ContainerPort, p.Protocol, errdefs.ErrNotImplemented)
		}
		if p.ContainerPort == 0 {
			return nil, nil, fmt.Errorf("container %s: a published port needs a container port: %w", opts.ContainerName, errdefs.ErrInvalidArgument)
		}
		var hip netip.Addr
		if p.HostIP != "" {
			a, err := netip.ParseAddr(strings.Trim(p.HostIP, "[]"))
			if err != nil {
				return nil, nil, fmt.Errorf("container %s: host_ip %q is not an address: %w", opts.ContainerName, p.HostIP, errdefs.ErrInvalidArgument)
			}
			if a.Is6() && !a.IsUnspecified() {
				return nil, nil, fmt.Errorf("container %s: publishing on IPv6 address %s is not supported yet: %w", opts.ContainerName, a, errdefs.ErrNotImplemented)
			}
			if !a.IsUnspecified() {
				hip = a
			}
		}
		c, port, err := m.reserve(ctx, opts.ContainerName, p, hip)
		if err != nil {
			return nil, nil, err
		}
		held = append(held, c)
		p.HostPort, p.HostPortEnd = port, 0
		if hip.IsValid() {
			p.HostIP = hip.String()
		} else {
			p.HostIP = ""
		}
		out = append(out, p)
		rules = append(rules, nft.Port{Proto: p.Protocol, HostIP: hip, HostPort: port, ContainerIP: cip, ContainerPort: p.ContainerPort})
	}
	if m.proxy {
		for i, c := range held {
			px, err := startProxy(c, net.JoinHostPort(cip.String(), strconv.Itoa(int(rules[i].ContainerPort))))
			if err != nil {
				return nil, nil, fmt.Errorf("container %s: proxy for %s: %w", opts.ContainerName, rules[i], err)
			}
			held[i] = px
		}
		return out, held, nil
	}
	// The ports are bound by this process: a rule of another container
	// for one of them is a dead container's leftover.
	if err := m.fw.AddPorts(ctx, opts.ContainerID, opts.ContainerName, rules, nft.PortsOptions{TakeOver: true}); err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", opts.ContainerName, err)
	}
	for _, r := range rules {
		if r.Proto == "udp" {
			flushUDPConntrack(r.HostPort)
		}
	}
	return out, held, nil
}

// flushUDPConntrack forgets the conntrack entries of UDP traffic to a host
// port: a client that kept sending to it would otherwise stay bound to the
// address of the container that had it before (UDP "connections" never
// end while traffic flows). Best effort.
func flushUDPConntrack(port uint16) {
	f := &netlink.ConntrackFilter{}
	if f.AddProtocol(unix.IPPROTO_UDP) != nil || f.AddPort(netlink.ConntrackOrigDstPort, port) != nil {
		return
	}
	_, _ = netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f)
}

// reserve binds the host port (the first free one of a range, or one the
// kernel picks for 0) and returns the socket. A port in use is an
// ErrConflict naming who holds it.
func (m *Manager) reserve(ctx context.Context, name string, p PortOptions, hip netip.Addr) (io.Closer, uint16, error) {
	host := "0.0.0.0"
	if hip.IsValid() {
		host = hip.String()
	}
	first, last := p.HostPort, p.HostPort
	if p.HostPortEnd > p.HostPort {
		last = p.HostPortEnd
	}
	var lastErr error
	for port := int(first); port <= int(last); port++ {
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		var c io.Closer
		var got uint16
		if p.Protocol == "udp" {
			pc, err := net.ListenPacket("udp4", addr)
			if err == nil {
				c, got = pc, uint16(pc.LocalAddr().(*net.UDPAddr).Port)
			}
			lastErr = err
		} else {
			l, err := net.Listen("tcp4", addr)
			if err == nil {
				c, got = l, uint16(l.Addr().(*net.TCPAddr).Port)
			}
			lastErr = err
		}
		if lastErr == nil {
			return c, got, nil
		}
		if !errors.Is(lastErr, unix.EADDRINUSE) {
			break
		}
	}
	what := fmt.Sprintf("%s:%d/%s", host, first, p.Protocol)
	if last != first {
		what = fmt.Sprintf("%s:%d-%d/%s (every port of the range)", host, first, last, p.Protocol)
	}
	if errors.Is(lastErr, unix.EADDRINUSE) {
		return nil, 0, fmt.Errorf("container %s: port %s is in use%s; stop it or change \"ports\": %w",
			name, what, m.holder(ctx, p.Protocol, first, hip), errdefs.ErrConflict)
	}
	if errors.Is(lastErr, unix.EADDRNOTAVAIL) {
		return nil, 0, fmt.Errorf("container %s: port %s: %s is not an address of this host: %w", name, what, host, errdefs.ErrInvalidArgument)
	}
	return nil, 0, fmt.Errorf("container %s: port %s: %w", name, what, lastErr)
}

// holder says who holds a port, as " by …" (or "" when unknown): another
// berth container publishing it, else the processes with such a socket.
func (m *Manager) holder(ctx context.Context, proto string, port uint16, hip netip.Addr) string {
	want := nft.Port{Proto: proto, HostIP: hip, HostPort: port}
	if pub, err := m.fw.Published(ctx); err == nil {
		for _, p := range pub {
			if p.Overlaps(want) {
				return " by container " + p.Name
			}
		}
	}
	if hs := portHolders(proto, port); len(hs) > 0 {
		return " by " + strings.Join(hs, ", ")
	}
	return ""
}

// portHolders finds the processes holding a listening (tcp) or bound (udp)
// socket on port, as "pid 4121 (nginx)", from /proc/net and /proc/*/fd.
func portHolders(proto string, port uint16) []string {
	inodes := map[string]bool{}
	for _, f := range []string{proto, proto + "6"} {
		socketInodes(filepath.Join("/proc/net", f), proto, port, inodes)
	}
	if len(inodes) == 0 {
		return nil
	}
	var out []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(l, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				out = append(out, fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(comm))))
				break
			}
		}
		if len(out) >= 3 {
			break
		}
	}
	return out
}

// socketInodes adds the inodes of the sockets on port listed in a
// /proc/net/{tcp,udp}[6] file: listening ones for tcp, all for udp.
func socketInodes(path, proto string, port uint16, into map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 {
			continue
		}
		_, hexPort, ok := strings.Cut(fs[1], ":")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || uint16(v) != port {
			continue
		}
		if proto == "tcp" && fs[3] != "0A" { // TCP_LISTEN
			continue
		}
		into[fs[9]] = true
	}
}
