package nft

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
)

// DNSTable is the table berth keeps in a container's network namespace.
const DNSTable = "berth-dns"

// RedirectDNS makes addr:53 (UDP and TCP) inside the network namespace nsFd
// reach the resolver's sockets on addr:udpPort and addr:tcpPort, as docker
// does: the resolver listens on random ports, so a service of the container
// can still bind port 53 itself. It replaces the namespace's berth-dns
// table in one batch. The table goes with the namespace.
func RedirectDNS(nsFd int, addr netip.Addr, udpPort, tcpPort uint16) error {
	c, err := nftables.New(nftables.WithNetNSFd(nsFd), nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("nftables in the container: %w", err)
	}
	defer c.CloseLasting()
	return RedirectDNSWith(c, addr, udpPort, tcpPort)
}

// DialHere opens a lasting nftables connection in the calling thread's
// network namespace (call it on a thread that joined a container's, then
// use the connection from anywhere).
func DialHere() (*nftables.Conn, error) {
	return nftables.New(nftables.AsLasting())
}

// RedirectDNSWith is RedirectDNS over a connection already in the
// container's namespace (see DialHere).
func RedirectDNSWith(c *nftables.Conn, addr netip.Addr, udpPort, tcpPort uint16) error {
	t := &nftables.Table{Name: DNSTable, Family: family(addr)}
	// Add (a no-op on what exists), flush the chain's rules, add them: one
	// transaction that also replaces an earlier attach's. Nothing is
	// deleted in a new namespace: a deleted table or rule is freed by the
	// kernel after an RCU grace period, which the connection's close then
	// waits for (5-15 ms here, on the container's start).
	c.AddTable(t)
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	c.FlushChain(out)
	dst := netip.PrefixFrom(addr, addr.BitLen())
	for _, r := range []struct {
		proto string
		port  uint16
	}{{"udp", udpPort}, {"tcp", tcpPort}} {
		c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: seq(matchAddr(false, dst), matchPort(r.proto, 53), dnat(addr, r.port))})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables in the container: %w", err)
	}
	return nil
}
