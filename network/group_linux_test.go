package network

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/berthdev/berth/network/internal/sandbox"
)

// TestRemoveDeletesPortsWithBridge: the bridge and its host veths share a
// device group; removing the network right after its containers died (the
// kernel has not yet removed their veths) deletes the bridge and those
// ports in one batch, leaving none. A device of someone else in the group
// turns the batch off: it survives, and the bridge and ports still go.
func TestRemoveDeletesPortsWithBridge(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, foreign := range []bool{false, true} {
		n := e.network(fmt.Sprintf("grp%v_default", foreign))
		g := linkGroup(n.Bridge)
		br, err := netlink.LinkByName(n.Bridge)
		if err != nil || br.Attrs().Group != g {
			t.Fatalf("bridge %s: group %v, want %#x (%v)", n.Bridge, br, g, err)
		}
		var ids []string
		for i := range 3 {
			c := sandbox.Start(t, "sleep")
			id, res := e.attach(c, fmt.Sprintf("grp-c-%d", i), []EndpointOptions{{Network: n.Name}})
			ids = append(ids, id)
			for _, ep := range res.Endpoints {
				l, err := netlink.LinkByName(ep.HostVeth)
				if err != nil || l.Attrs().Group != g {
					t.Fatalf("host veth %s: %v (group want %#x)", ep.HostVeth, err, g)
				}
			}
			c.Kill()
		}
		if foreign {
			d := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "grptestfgn", Group: g}}
			if err := netlink.LinkAdd(d); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = netlink.LinkDel(d) })
		}
		for _, id := range ids {
			if err := e.m.Detach(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.m.Remove(ctx, n.Name); err != nil {
			t.Fatal(err)
		}
		links, err := netlink.LinkList()
		if err != nil {
			t.Fatal(err)
		}
		sawForeign := false
		for _, l := range links {
			a := l.Attrs()
			switch {
			case a.Name == n.Bridge:
				t.Errorf("bridge %s left", a.Name)
			case strings.HasPrefix(a.Name, "bv") && a.Group == g:
				t.Errorf("port %s of %s left", a.Name, n.Bridge)
			case a.Name == "grptestfgn":
				sawForeign = true
			}
		}
		if foreign && !sawForeign {
			t.Error("a device of someone else in the group was deleted")
		}
	}
}
