package network

import (
	"fmt"
	"net"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// hostLinks is the manager's netlink access to the host namespace: one
// handle (one socket) reused for every call, where the package-level
// netlink functions open a socket per request, and one socket for the
// requests netlink has no call for.
type hostLinks struct {
	once sync.Once
	h    *netlink.Handle
	raw  *nl.SocketHandle
	err  error
}

func (l *hostLinks) init() error {
	l.once.Do(func() {
		if l.h, l.err = netlink.NewHandle(unix.NETLINK_ROUTE); l.err != nil {
			return
		}
		s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
		if err != nil {
			l.err = err
			return
		}
		l.raw = &nl.SocketHandle{Socket: s}
	})
	return l.err
}

// handle returns the host handle.
func (l *hostLinks) handle() (*netlink.Handle, error) {
	if err := l.init(); err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return l.h, nil
}

// addVeth creates a veth pair in one request: the host end, up, enslaved
// to the bridge master and in its device group; the peer with its name and MAC, straight in the
// namespace nsFd (the caller brings it up there). It returns the host end's index (from the kernel's
// echo of the new link; 0 when the kernel does not echo).
//
// netlink.LinkAdd takes three round trips for this (create, look up the
// index, set the master), each on a new socket.
func (l *hostLinks) addVeth(name string, mtu, master int, group uint32, peer string, mac net.HardwareAddr, nsFd int) (int, error) {
	if err := l.init(); err != nil {
		return 0, fmt.Errorf("netlink: %w", err)
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK|unix.NLM_F_ECHO)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: l.raw}
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Flags, msg.Change = unix.IFF_UP, unix.IFF_UP
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(mtu))))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(master))))
	if group != 0 {
		// The bridge's device group: removing the network deletes the
		// bridge and its remaining ports in one batch.
		req.AddData(nl.NewRtAttr(unix.IFLA_GROUP, nl.Uint32Attr(group)))
	}
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	p := data.AddRtAttr(nl.VETH_INFO_PEER, nil)
	// The peer cannot be brought up here: veth refuses to open an end
	// whose pair is not made yet (ENOTCONN).
	nl.NewIfInfomsgChild(p, unix.AF_UNSPEC)
	p.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(peer))
	p.AddRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(mtu)))
	p.AddRtAttr(unix.IFLA_ADDRESS, []byte(mac))
	p.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(nsFd)))
	req.AddData(info)
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if ifi := nl.DeserializeIfInfomsg(m); ifi.Index > 0 {
			return int(ifi.Index), nil
		}
	}
	return 0, nil
}
