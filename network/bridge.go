package network

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/vishvananda/netlink/nl"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/state"
	"github.com/berthdev/berth/network/ipam"
)

// bridgeAlias is the IFLA_IFALIAS of a berth bridge: it names the root and
// the network that own it, so a sweep can tell its leftovers from another
// root's bridges.
func (m *Manager) bridgeAlias(network string) string {
	return "berth root=" + m.paths.Root + " network=" + network
}

func parseAlias(alias string) (root, network string, ok bool) {
	rest, ok := strings.CutPrefix(alias, "berth root=")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, " network=")
	if i < 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len(" network="):], true
}

// makeBridge chooses the network's subnets (unless set) and creates its
// bridge with the gateway addresses, under the machine-wide lock so that
// concurrent berth commands, in any root, never pick the same subnet.
func (m *Manager) makeBridge(ctx context.Context, n *Network, cfg []IPAMConfig) (err error) {
	var v4, v6 *IPAMConfig
	for i := range cfg {
		c := &cfg[i]
		if strings.Contains(c.Subnet, ":") {
			v6 = c
		} else {
			v4 = c
		}
	}
	l, err := state.Lock(ctx, m.netLock)
	if err != nil {
		return err
	}
	defer l.Unlock()
	used, err := usedPrefixes()
	if err != nil {
		return fmt.Errorf("network %q: list routes: %w", n.Name, err)
	}
	var sub4 ipam.Subnet
	if v4 != nil && v4.Subnet != "" {
		if sub4, err = ipam.ParseSubnet(v4.Subnet, v4.Gateway, v4.IPRange); err != nil {
			return fmt.Errorf("network %q: ipam: %w", n.Name, err)
		}
		for _, u := range used {
			if u.Overlaps(sub4.Prefix) {
				return fmt.Errorf("network %q: subnet %s overlaps %s, already routed on this host; choose another ipam subnet: %w",
					n.Name, sub4.Prefix, u, errdefs.ErrConflict)
			}
		}
	} else {
		p, err := ipam.ChooseSubnet(m.pools, used)
		if err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
		sub4, _ = ipam.ParseSubnet(p.String(), "", "")
		if v4 != nil && v4.Gateway != "" {
			return fmt.Errorf("network %q: ipam gateway %s needs a subnet: %w", n.Name, v4.Gateway, errdefs.ErrInvalidArgument)
		}
	}
	n.Subnet, n.Gateway = sub4.Prefix.String(), sub4.Gateway.String()
	if sub4.Range.IsValid() {
		n.IPRange = sub4.Range.String()
	}
	var sub6 ipam.Subnet
	if n.EnableIPv6 || v6 != nil {
		n.EnableIPv6 = true
		if v6 != nil && v6.Subnet != "" {
			sub6, err = ipam.ParseSubnet(v6.Subnet, v6.Gateway, v6.IPRange)
		} else {
			var p netip.Prefix
			if p, err = ipam.IPv6ULA(n.ID); err == nil {
				sub6, err = ipam.ParseSubnet(p.String(), "", "")
			}
		}
		if err != nil {
			return fmt.Errorf("network %q: ipv6: %w", n.Name, err)
		}
		n.IPv6Subnet, n.IPv6Gateway = sub6.Prefix.String(), sub6.Gateway.String()
	}

	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{
		Name: n.Bridge, MTU: n.MTU, TxQLen: -1, Group: linkGroup(n.Bridge),
		// A fixed MAC: otherwise the bridge takes its lowest port's and
		// changes as containers come and go, breaking neighbours' ARP.
		HardwareAddr: bridgeMAC(n.ID),
	}}
	if err := netlink.LinkAdd(br); err != nil {
		return fmt.Errorf("network %q: create bridge %s: %w", n.Name, n.Bridge, err)
	}
	defer func() {
		if err != nil {
			_ = deleteLink(n.Bridge)
		}
	}()
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("network %q: bridge %s: %w", n.Name, n.Bridge, err)
	}
	if err := netlink.LinkSetAlias(link, m.bridgeAlias(n.Name)); err != nil {
		return fmt.Errorf("network %q: bridge %s alias: %w", n.Name, n.Bridge, err)
	}
	// route_localnet lets 127.0.0.1-published ports be DNATed into the
	// bridge (nft's guard chain drops the abuse of it); loose rp_filter as
	// netavark does.
	for k, v := range map[string]string{"route_localnet": "1", "rp_filter": "2"} {
		if err := sysctl(filepath.Join("ipv4/conf", n.Bridge, k), v); err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(sub4.Gateway, sub4.Prefix.Bits())}); err != nil {
		return fmt.Errorf("network %q: address %s on %s: %w", n.Name, sub4.Gateway, n.Bridge, err)
	}
	if sub6.Prefix.IsValid() {
		_ = sysctl(filepath.Join("ipv6/conf", n.Bridge, "disable_ipv6"), "0")
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(sub6.Gateway, sub6.Prefix.Bits()), Flags: unix.IFA_F_NODAD}); err != nil {
			return fmt.Errorf("network %q: address %s on %s: %w", n.Name, sub6.Gateway, n.Bridge, err)
		}
		if err := sysctl("ipv6/conf/all/forwarding", "1"); err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("network %q: bridge %s up: %w", n.Name, n.Bridge, err)
	}
	if err := sysctl("ipv4/ip_forward", "1"); err != nil {
		return fmt.Errorf("network %q: %w", n.Name, err)
	}
	return nil
}

// usedPrefixes are the destinations of every route of every table (LAN,
// VPN, docker0, other berth bridges in any root), without default routes.
func usedPrefixes() ([]netip.Prefix, error) {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, err
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		a, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok || ones == 0 {
			continue
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), ones).Masked())
	}
	return out, nil
}

func bridgeMAC(id string) net.HardwareAddr {
	b, _ := hex.DecodeString(id[:10])
	return append(net.HardwareAddr{0x02}, b...)
}

func ipNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}
}

func bridgeExists(name string) bool {
	l, err := netlink.LinkByName(name)
	return err == nil && l.Type() == "bridge"
}

// deleteLink deletes a link of the host namespace; a missing one is success.
func deleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return err
	}
	return nil
}

// sysctl writes /proc/sys/net/<key> (of the calling thread's network
// namespace: berth's own threads never leave the host's).
func sysctl(key, value string) error {
	p := filepath.Join("/proc/sys/net", key)
	if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == value {
		return nil
	}
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl net.%s=%s: %w", strings.ReplaceAll(key, "/", "."), value, err)
	}
	return nil
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys/net", key))
	return strings.TrimSpace(string(b)), err
}

// deletePorts deletes the host veth ends still enslaved to bridge. A
// detached container's veth pair goes with its network namespace, but the
// kernel tears namespaces down asynchronously: without this a `down` could
// return while a `bv…` link of the project still showed in `ip link`. It
// runs once per network removal, never on the attach/detach path.
func deletePorts(bridge string) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	links, err := netlink.LinkList()
	if err != nil {
		return err
	}
	for _, l := range links {
		a := l.Attrs()
		if a.MasterIndex != br.Attrs().Index || !strings.HasPrefix(a.Name, "bv") {
			continue
		}
		if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.ENOENT) {
			var nf netlink.LinkNotFoundError
			if !errors.As(err, &nf) {
				return fmt.Errorf("delete %s: %w", a.Name, err)
			}
		}
	}
	return nil
}

// linkGroup is the device group (IFLA_GROUP) of a bridge and its host
// veths: a hash of the bridge's name in 0x40000000-0x7fffffff, so never
// group 0 (where every other device is) nor the small numbers people
// assign by hand.
func linkGroup(bridge string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(bridge))
	return h.Sum32()&0x3fffffff | 0x40000000
}

// deleteBridgeAndPorts deletes a bridge and the bv ports still on it.
// Each device deletion waits for an RCU grace period (20-60 ms on a busy
// 2-core VM), and the kernel removes the ports of a dead container's
// namespace only some 200 ms after it died; deleted one by one, a 3-port
// network took 120 ms. The bridge and its ports share a device group, and
// one RTM_DELLINK of the group deletes them all in one batch, with one
// grace period. The group is used only when every device in it is this
// bridge or one of its bv ports (a bridge made before groups, or anything
// foreign in the group, is deleted one device at a time).
func deleteBridgeAndPorts(h *netlink.Handle, bridge string) error {
	br, err := h.LinkByName(bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	g := linkGroup(bridge)
	if br.Attrs().Group == g && groupIsBridgeAndPorts(h, g, br) {
		req := nl.NewNetlinkRequest(unix.RTM_DELLINK, unix.NLM_F_ACK)
		req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
		req.AddData(nl.NewRtAttr(unix.IFLA_GROUP, nl.Uint32Attr(g)))
		if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err == nil || errors.Is(err, unix.ENODEV) {
			return nil
		}
		// Fall back to one device at a time.
	}
	if err := deletePorts(bridge); err != nil {
		return err
	}
	return deleteLink(bridge)
}

// groupIsBridgeAndPorts reports whether the devices of group g are br and
// bv ports enslaved to it, and nothing else.
func groupIsBridgeAndPorts(h *netlink.Handle, g uint32, br netlink.Link) bool {
	if g == 0 {
		return false
	}
	links, err := h.LinkList()
	if err != nil {
		return false
	}
	for _, l := range links {
		a := l.Attrs()
		if a.Group != g || a.Index == br.Attrs().Index {
			continue
		}
		if a.MasterIndex != br.Attrs().Index || !strings.HasPrefix(a.Name, "bv") {
			return false
		}
	}
	return true
}
