// Package ipam chooses subnets for berth's networks and leases addresses in
// them to containers.
//
// Subnet choice is a pure function (ChooseSubnet) of the candidate pools and
// the prefixes already in use (the host's routes, other berth networks); the
// caller holds a machine-wide lock between choosing and creating the bridge,
// so two berth commands never pick the same subnet.
//
// Leases live in one JSON file per network in a directory the caller gives
// (Store). Every change is made under an flock on the network's lock file and
// written atomically (temporary file and rename), so concurrent berth
// commands never hand out one address twice and readers never see half a
// file. Addresses are handed out round-robin (the next free one after the
// last given), so a freed address is not reused at once: stale ARP and
// conntrack entries of a removed container do not hit its successor.
//
// ipam knows nothing of containers beyond an owner string (the container
// ID); whoever decides that an owner is dead calls Release or Prune.
package ipam

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"

	"github.com/containerd/errdefs"
)

// DefaultPools are Docker's default address pools, as candidate subnets in
// order: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/16 in /20 steps.
func DefaultPools() []netip.Prefix {
	var out []netip.Prefix
	for b := 17; b <= 31; b++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(b), 0, 0}), 16))
	}
	out = append(out, Split(netip.MustParsePrefix("192.168.0.0/16"), 20)...)
	return out
}

// Split carves p into subnets of the given prefix length, in address order.
// A length not longer than p's returns p alone.
func Split(p netip.Prefix, bits int) []netip.Prefix {
	p = p.Masked()
	if bits <= p.Bits() || bits > p.Addr().BitLen() {
		return []netip.Prefix{p}
	}
	n := 1 << min(bits-p.Bits(), 16) // at most 65536 subnets
	out := make([]netip.Prefix, 0, n)
	a := p.Addr()
	for range n {
		out = append(out, netip.PrefixFrom(a, bits))
		a = addOffset(a, new(big.Int).Lsh(big.NewInt(1), uint(a.BitLen()-bits)))
		if !p.Contains(a) {
			break
		}
	}
	return out
}

// ErrExhausted is returned (wrapped with errdefs.ErrUnavailable) when no
// candidate subnet or address is free.
var ErrExhausted = errors.New("address pool exhausted")

// ChooseSubnet returns the first candidate that overlaps none of used. The
// error names how many candidates were tried and says what to do.
func ChooseSubnet(candidates, used []netip.Prefix) (netip.Prefix, error) {
next:
	for _, c := range candidates {
		c = c.Masked()
		for _, u := range used {
			if u.IsValid() && c.Overlaps(u) {
				continue next
			}
		}
		return c, nil
	}
	return netip.Prefix{}, fmt.Errorf("all %d candidate subnets overlap a route or another network; remove unused networks (berth network prune) or set ipam.config.subnet: %w: %w",
		len(candidates), ErrExhausted, errdefs.ErrUnavailable)
}

// Subnet is the address space of one network (one family).
type Subnet struct {
	// Prefix is the network, e.g. 172.18.0.0/16.
	Prefix netip.Prefix
	// Gateway is the bridge's address; never leased.
	Gateway netip.Addr
	// Range restricts dynamic allocation (compose ipam.config.ip_range);
	// the zero value means the whole Prefix. Fixed addresses may lie
	// anywhere in Prefix.
	Range netip.Prefix
}

// ParseSubnet builds a Subnet from the compose strings. An empty gateway
// means the first host address.
func ParseSubnet(subnet, gateway, ipRange string) (Subnet, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return Subnet{}, fmt.Errorf("subnet %q: %w", subnet, errdefs.ErrInvalidArgument)
	}
	s := Subnet{Prefix: p.Masked()}
	if gateway != "" {
		if s.Gateway, err = netip.ParseAddr(gateway); err != nil || !s.Prefix.Contains(s.Gateway) {
			return Subnet{}, fmt.Errorf("gateway %q is not an address in %s: %w", gateway, s.Prefix, errdefs.ErrInvalidArgument)
		}
	} else {
		s.Gateway = s.Prefix.Addr().Next()
	}
	if ipRange != "" {
		r, err := netip.ParsePrefix(ipRange)
		if err != nil || !s.Prefix.Contains(r.Addr()) || r.Bits() < s.Prefix.Bits() {
			return Subnet{}, fmt.Errorf("ip_range %q is not inside %s: %w", ipRange, s.Prefix, errdefs.ErrInvalidArgument)
		}
		s.Range = r.Masked()
	}
	if s.Prefix.Addr().Is4() && s.Prefix.Bits() > 30 {
		return Subnet{}, fmt.Errorf("subnet %s is too small (at most /30): %w", s.Prefix, errdefs.ErrInvalidArgument)
	}
	return s, nil
}

// Reserved reports whether a cannot be leased: the network and broadcast
// addresses (IPv4), the subnet-router anycast address (IPv6) and the gateway.
func (s Subnet) Reserved(a netip.Addr) bool {
	if a == s.Gateway || a == s.Prefix.Addr() {
		return true
	}
	return a.Is4() && a == lastAddr(s.Prefix)
}

// Check validates a fixed address request.
func (s Subnet) Check(a netip.Addr) error {
	if !s.Prefix.Contains(a) {
		return fmt.Errorf("address %s is not in subnet %s: %w", a, s.Prefix, errdefs.ErrInvalidArgument)
	}
	if s.Reserved(a) {
		return fmt.Errorf("address %s is reserved in subnet %s (network, broadcast or gateway): %w", a, s.Prefix, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Next returns the first address of the allocation range after last (or
// from the start when last is not in the range), wrapping around once, that
// is neither reserved nor taken.
func (s Subnet) Next(last netip.Addr, taken func(netip.Addr) bool) (netip.Addr, error) {
	r := s.Range
	if !r.IsValid() {
		r = s.Prefix
	}
	first, end := r.Addr(), lastAddr(r)
	start := first
	if last.IsValid() && r.Contains(last) && last != end {
		start = last.Next()
	}
	// At most 2^16 probes: a dev network never has more containers, and
	// the bound keeps an IPv6 /64 from spinning forever.
	a := start
	for range 1 << 16 {
		if !s.Reserved(a) && !taken(a) {
			return a, nil
		}
		if a == end {
			a = first
		} else {
			a = a.Next()
		}
		if a == start {
			break
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address in %s: %w: %w", r, ErrExhausted, errdefs.ErrUnavailable)
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func addOffset(a netip.Addr, off *big.Int) netip.Addr {
	v := new(big.Int).SetBytes(a.AsSlice())
	v.Add(v, off)
	b := v.Bytes()
	out := make([]byte, len(a.AsSlice()))
	if len(b) > len(out) { // overflow: wrap to zero
		b = b[len(b)-len(out):]
	}
	copy(out[len(out)-len(b):], b)
	r, _ := netip.AddrFromSlice(out)
	return r
}

// IPv6ULA derives a unique local /64 (fd00::/8) from a network ID's hex
// digits, for networks with enable_ipv6 and no ipam subnet.
func IPv6ULA(id string) (netip.Prefix, error) {
	if len(id) < 14 {
		return netip.Prefix{}, fmt.Errorf("network id %q too short for an IPv6 prefix: %w", id, errdefs.ErrInvalidArgument)
	}
	var b [16]byte
	b[0] = 0xfd
	for i := range 7 {
		var v byte
		if _, err := fmt.Sscanf(id[2*i:2*i+2], "%02x", &v); err != nil {
			return netip.Prefix{}, fmt.Errorf("network id %q is not hex: %w", id, errdefs.ErrInvalidArgument)
		}
		b[1+i] = v
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), 64), nil
}
