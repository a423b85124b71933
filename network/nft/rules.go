package nft

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/nftables"
)

// Network describes one bridge network's rules.
type Network struct {
	// Bridge is the kernel name of the bridge ("berth…").
	Bridge string
	// Subnet is the IPv4 subnet; Subnet6 the IPv6 one (zero: none).
	Subnet  netip.Prefix
	Subnet6 netip.Prefix
	// Internal networks have no way out: no masquerade, nothing forwarded
	// into or out of the bridge except between its own ports.
	Internal bool
}

func netOwner(bridge string) string { return "net:" + bridge }

// PortOwner is the owner tag of a container's published ports.
func PortOwner(containerID string) string { return "ctr:" + containerID }

var loopback4 = netip.MustParsePrefix("127.0.0.0/8")

// networkRules builds a network's rules for one family (subnet's).
func networkRules(n Network, subnet netip.Prefix) []rule {
	b := n.Bridge
	var rs []rule
	if subnet.Addr().Is4() {
		// Host-sourced 127.0.0.0/8 traffic DNATed into the bridge: the
		// container could not answer 127.0.0.1.
		rs = append(rs, rule{chain: "postrouting", exprs: seq(matchOIF(b), matchAddr(true, loopback4), masquerade())})
		// route_localnet guard: nothing from the bridge to 127/8 unless it
		// is the reply side of a DNATed connection.
		rs = append(rs, rule{chain: "guard", exprs: seq(matchIIF(b), matchAddr(false, loopback4), ctStatus(ipsDstNAT, false), drop())})
	}
	// Hairpin: a container reaching a published port of its own bridge.
	// br_netfilter bridges such a DNATed packet back out without routing
	// it, and then the postrouting hook sees no input interface: match the
	// source subnet, not iifname.
	rs = append(rs, rule{chain: "postrouting", exprs: seq(matchOIF(b), matchAddr(true, subnet), ctStatus(ipsDstNAT, true), masquerade())})
	rs = append(rs, rule{chain: "fwd-in", exprs: seq(matchOIF(b), matchIIF(b), accept())})
	if n.Internal {
		rs = append(rs,
			rule{chain: "fwd-in", exprs: seq(matchOIF(b), drop())},
			rule{chain: "fwd-out", exprs: seq(matchIIF(b), drop())},
		)
		return rs
	}
	rs = append(rs,
		rule{chain: "postrouting", exprs: seq(matchAddr(true, subnet), matchNotOIF(b), masquerade())},
		rule{chain: "fwd-in", exprs: seq(matchOIF(b), ctEstablished(), accept())},
		rule{chain: "fwd-in", exprs: seq(matchOIF(b), ctStatus(ipsDstNAT, true), accept())},
		// Direct routing from the LAN and traffic from other networks.
		rule{chain: "fwd-in", exprs: seq(matchOIF(b), drop())},
		rule{chain: "fwd-out", exprs: seq(matchIIF(b), accept())},
	)
	return rs
}

var networkChains = []string{"postrouting", "guard", "fwd-in", "fwd-out"}

// AddNetwork installs (or replaces) n's rules in one batch per family,
// including accepts in other firewalls' forward chains (foreign.go).
func (f *Firewall) AddNetwork(ctx context.Context, n Network) error {
	if n.Bridge == "" || !n.Subnet.IsValid() {
		return fmt.Errorf("nft: network needs a bridge and an IPv4 subnet: %w", errdefs.ErrInvalidArgument)
	}
	subnets := []netip.Prefix{n.Subnet}
	if n.Subnet6.IsValid() {
		subnets = append(subnets, n.Subnet6)
	}
	for _, sn := range subnets {
		fam := family(sn.Addr())
		err := f.with(ctx, fam, true, func(s *session) error {
			if err := s.replace(netOwner(n.Bridge), networkChains, networkRules(n, sn)); err != nil {
				return err
			}
			return s.replaceForeign(netOwner(n.Bridge), foreignRules(n))
		})
		if err != nil {
			return fmt.Errorf("network bridge %s: %w", n.Bridge, err)
		}
	}
	if err := f.replaceFirewalld(ctx, netOwner(n.Bridge), firewalldRules(n)); err != nil {
		return fmt.Errorf("network bridge %s: %w", n.Bridge, err)
	}
	return nil
}

// RemoveNetwork deletes bridge's rules (gone is success) and the tables
// when nothing else remains in them.
func (f *Firewall) RemoveNetwork(ctx context.Context, bridge string) error {
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		err := f.with(ctx, fam, false, func(s *session) error {
			o := netOwner(bridge)
			if err := s.replace(o, networkChains, nil); err != nil {
				return err
			}
			if err := s.replaceForeign(o, nil); err != nil {
				return err
			}
			return s.dropIfEmpty(o)
		})
		if err != nil {
			return fmt.Errorf("network bridge %s: %w", bridge, err)
		}
	}
	if err := f.replaceFirewalld(ctx, netOwner(bridge), nil); err != nil {
		return fmt.Errorf("network bridge %s: %w", bridge, err)
	}
	return nil
}

// Port is one published port: traffic to HostIP:HostPort (any local
// address when HostIP is the zero value) goes to ContainerIP:ContainerPort.
type Port struct {
	Proto         string // "tcp" or "udp"
	HostIP        netip.Addr
	HostPort      uint16
	ContainerIP   netip.Addr
	ContainerPort uint16
}

// String renders the host side as docker does: "0.0.0.0:8080/tcp".
func (p Port) String() string {
	h := "0.0.0.0"
	if p.HostIP.IsValid() {
		h = p.HostIP.String()
	}
	return hostPort(h, p.HostPort) + "/" + p.Proto
}

func hostPort(host string, port uint16) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(int(port))
}

// Overlaps reports whether p and q cannot both be published.
func (p Port) Overlaps(q Port) bool {
	if p.Proto != q.Proto || p.HostPort != q.HostPort {
		return false
	}
	return !p.HostIP.IsValid() || !q.HostIP.IsValid() || p.HostIP == q.HostIP
}

// Published is a port some container publishes, as read from the rules.
type Published struct {
	// Owner is the container ID; Name the container name.
	Owner, Name string
	Port
}

func portDetail(name string, p Port) string {
	return fmt.Sprintf("%s %s %s", name, p.String(), hostPort(p.ContainerIP.String(), p.ContainerPort))
}

func parsePortDetail(owner, d string) (Published, bool) {
	f := strings.Fields(d)
	if len(f) != 3 || !strings.HasPrefix(owner, "ctr:") {
		return Published{}, false
	}
	hp, proto, ok := strings.Cut(f[1], "/")
	if !ok {
		return Published{}, false
	}
	h, err := netip.ParseAddrPort(hp)
	if err != nil {
		return Published{}, false
	}
	c, err := netip.ParseAddrPort(f[2])
	if err != nil {
		return Published{}, false
	}
	p := Published{Owner: strings.TrimPrefix(owner, "ctr:"), Name: f[0],
		Port: Port{Proto: proto, HostPort: h.Port(), ContainerIP: c.Addr(), ContainerPort: c.Port()}}
	if !h.Addr().IsUnspecified() {
		p.HostIP = h.Addr()
	}
	return p, true
}

// PortsOptions tune AddPorts.
type PortsOptions struct {
	// TakeOver means the caller holds the host ports (it bound them): a
	// rule of another container for one of them is a leftover of a
	// container whose monitor died (or of a root deleted without `down`),
	// and is removed with all that container's port rules. Without it,
	// such a rule is an ErrConflict.
	TakeOver bool
}

// AddPorts publishes a container's ports in one batch per family, replacing
// what it had in the families it publishes in (RemovePorts clears both). A
// port another container already publishes is an ErrConflict naming that
// container (unless opts.TakeOver), and nothing is changed.
func (f *Firewall) AddPorts(ctx context.Context, containerID, name string, ports []Port, opts PortsOptions) error {
	byFam := map[nftables.TableFamily][]Port{}
	for _, p := range ports {
		if strings.ContainsAny(name, " \t") {
			return fmt.Errorf("container name %q: %w", name, errdefs.ErrInvalidArgument)
		}
		byFam[family(p.ContainerIP)] = append(byFam[family(p.ContainerIP)], p)
	}
	owner := PortOwner(containerID)
	return f.setPorts(ctx, owner, name, byFam, false, opts.TakeOver)
}

// setPorts replaces owner's ports in each family; with remove, in both
// families, else only in those that get ports.
func (f *Firewall) setPorts(ctx context.Context, owner, name string, byFam map[nftables.TableFamily][]Port, remove, takeOver bool) error {
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		ps := byFam[fam]
		if len(ps) == 0 && !remove {
			continue
		}
		err := f.withPorts(ctx, fam, len(ps) > 0, func(s *session) error {
			cur, err := s.rules("hostports")
			if err != nil {
				return err
			}
			stale := map[string]bool{}
			for _, r := range cur {
				o, d := ownerOf(r)
				if o == owner || o == "" {
					continue
				}
				have, ok := parsePortDetail(o, d)
				if !ok {
					continue
				}
				for _, p := range ps {
					if !p.Overlaps(have.Port) {
						continue
					}
					if !takeOver {
						return fmt.Errorf("port %s is already published by container %s: %w", p, have.Name, errdefs.ErrConflict)
					}
					stale[o] = true
					f.log.Warn("nftables: removing the port rules of a container that no longer holds its ports",
						"container", have.Name, "port", p.String())
				}
			}
			for o := range stale {
				if err := s.replace(o, []string{"hostports"}, nil); err != nil {
					return err
				}
			}
			var rs []rule
			for _, p := range ps {
				e := matchPort(p.Proto, p.HostPort)
				if p.HostIP.IsValid() {
					e = seq(matchAddr(false, netip.PrefixFrom(p.HostIP, p.HostIP.BitLen())), e)
				}
				rs = append(rs, rule{chain: "hostports", exprs: seq(e, dnat(p.ContainerIP, p.ContainerPort)), comment: portDetail(name, p)})
			}
			if err := s.replace(owner, []string{"hostports"}, rs); err != nil {
				return err
			}
			if len(ps) == 0 {
				return s.dropIfEmpty(owner)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// RemovePorts deletes a container's published ports (none is success).
func (f *Firewall) RemovePorts(ctx context.Context, containerID string) error {
	return f.setPorts(ctx, PortOwner(containerID), "", nil, true, false)
}

// Published lists every port published through berth's tables, by any
// root, sorted by host port.
func (f *Firewall) Published(ctx context.Context) ([]Published, error) {
	var out []Published
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		err := f.with(ctx, fam, false, func(s *session) error {
			rs, err := s.rules("hostports")
			if err != nil {
				return err
			}
			for _, r := range rs {
				if p, ok := parsePortDetail(ownerOf(r)); ok {
					out = append(out, p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].HostPort < out[j].HostPort })
	return out, nil
}
