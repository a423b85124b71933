package network

import (
	"fmt"
	"net"
	"os"
	"runtime"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/network/dns"
	"github.com/berthdev/berth/network/nft"
)

// inNetns runs fn on a locked thread that joined the network namespace
// nsFd, then moves the thread back; a thread that cannot move back is
// discarded (never unlocked), so no goroutine ever runs in a container's
// namespace. Threads are not discarded otherwise: a thread's exit would
// deliver the parent-death signal to children it forked (Pdeathsig).
func inNetns(nsFd int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(nsFd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("join the container's network namespace: %w", err)
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// nsSockets are what an attach needs inside the container's namespace,
// made in one visit: a netlink handle, the loopback up, the resolver's
// sockets on random ports of 127.0.0.11 and an nftables connection (for
// the DNAT of port 53, sent from outside).
type nsSockets struct {
	h        *netlink.Handle
	udp      net.PacketConn
	tcp      net.Listener
	nftables *nftables.Conn
}

func openNsSockets(nsFd int) (*nsSockets, error) {
	s := &nsSockets{}
	err := inNetns(nsFd, func() error {
		var err error
		if s.h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return fmt.Errorf("netlink in the container: %w", err)
		}
		// Loopback is ifindex 1 in every network namespace; 127.0.0.11
		// can be bound once it is up.
		if err := s.h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}}); err != nil {
			return fmt.Errorf("loopback: %w", err)
		}
		if s.udp, s.tcp, err = dns.ListenHere(net.JoinHostPort(resolverAddr.String(), "0")); err != nil {
			return err
		}
		if s.nftables, err = nft.DialHere(); err != nil {
			return fmt.Errorf("nftables in the container: %w", err)
		}
		return nil
	})
	if err != nil {
		s.close(true)
		return nil, err
	}
	return s, nil
}

// redirectDNS sends port 53 of 127.0.0.11 to the resolver's sockets.
func (s *nsSockets) redirectDNS() error {
	up, tp := s.udp.LocalAddr().(*net.UDPAddr).Port, s.tcp.Addr().(*net.TCPAddr).Port
	return nft.RedirectDNSWith(s.nftables, resolverAddr, uint16(up), uint16(tp))
}

// close releases the netlink and nftables connections, and with all, the
// resolver's sockets too.
func (s *nsSockets) close(all bool) {
	if s.h != nil {
		s.h.Close()
	}
	if s.nftables != nil {
		_ = s.nftables.CloseLasting()
	}
	if all {
		if s.udp != nil {
			_ = s.udp.Close()
		}
		if s.tcp != nil {
			_ = s.tcp.Close()
		}
	}
}
