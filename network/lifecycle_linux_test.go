package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"

	"github.com/berthdev/berth/network/internal/sandbox"
)

// TestRemoveLeavesNothing: after Detach and Remove, no bridge, veth, rule,
// lease, record or file of the network is left, and berth's table is gone.
func TestRemoveLeavesNothing(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	web := sandbox.Start(t, "http", "web")
	id, _ := e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}}},
		PortOptions{ContainerPort: 80})
	ctx := context.Background()
	if err := e.m.Remove(ctx, n.Name); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "p-web-1") {
		t.Fatalf("remove with a live container: %v", err)
	}
	if err := e.m.Detach(ctx, id); err != nil {
		t.Fatal(err)
	}
	if left := e.leftovers(map[string][]string{id: {n.Name}}); len(left) > 0 {
		t.Errorf("after detach: %v", left)
	}
	if err := e.m.Remove(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	if left := e.rootLeftovers(n.Bridge); len(left) > 0 {
		t.Errorf("after remove: %v", left)
	}
	if tableExists() {
		t.Errorf("berth's nftables table is left")
	}
	if err := e.m.Remove(ctx, n.Name); err != nil { // gone is success
		t.Fatal(err)
	}
}

// TestKilledAttachIsSwept kills a process in the middle of Attach (and one
// after it, like a dead monitor) and checks that Sweep removes everything
// once the container's namespace is gone.
func TestKilledAttachIsSwept(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	ctx := context.Background()
	held := map[string][]string{}
	for _, delay := range []time.Duration{0, 300 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, -1} {
		c := sandbox.Start(t, "sleep")
		id := newID()
		held[id] = []string{n.Name}
		in, _ := json.Marshal(map[string]any{"Paths": e.paths, "LockDir": e.lock, "Opts": AttachOptions{
			ContainerID: id, ContainerName: "p-web-1", Pid: c.Pid,
			Endpoints: []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}}},
			Ports:     []PortOptions{{ContainerPort: 80}}}})
		p, err := sandbox.StartHostRole("attach", []string{"BERTH_TEST_ATTACH=" + string(in)})
		if err != nil {
			t.Fatal(err)
		}
		if delay < 0 {
			if l, err := p.ReadLine(); l != "attached" {
				t.Fatalf("attach child: %q %v", l, err)
			}
		} else {
			time.Sleep(delay)
		}
		p.Kill()
		// The container still runs: Sweep keeps what it holds.
		if err := e.m.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if delay < 0 {
			if left := e.leftoversNow(map[string][]string{id: {n.Name}}); len(left) == 0 {
				t.Errorf("sweep removed a live container's endpoint")
			}
		}
		c.Kill()
	}
	if err := e.m.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if left := e.leftovers(held); len(left) > 0 {
		t.Errorf("after sweep: %v", left)
	}
	if err := e.m.Remove(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	if left := e.rootLeftovers(n.Bridge); len(left) > 0 {
		t.Errorf("after remove: %v", left)
	}
}

// TestSweepLeftoverBridge: a Create killed after making its bridge leaves a
// bridge with the root's alias and no state; Sweep removes it, and leaves
// another root's bridge alone.
func TestSweepLeftoverBridge(t *testing.T) {
	e := newEnv(t)
	other := newEnv(t)
	for i, m := range []*Manager{e.m, other.m} {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("berthtestsw%d", i)}}
		if err := netlink.LinkAdd(br); err != nil {
			t.Fatal(err)
		}
		defer deleteLink(br.Name)
		if err := netlink.LinkSetAlias(br, m.bridgeAlias("gone")); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.m.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bridgeExists("berthtestsw0") {
		t.Errorf("leftover bridge of the root was not swept")
	}
	if !bridgeExists("berthtestsw1") {
		t.Errorf("sweep removed another root's bridge")
	}
}

// TestTwoRootsSideBySide: two roots (two projects) with a network of the
// same name get separate bridges and subnets, names resolve only within a
// network, and one network cannot reach the other.
func TestTwoRootsSideBySide(t *testing.T) {
	a, b := newEnv(t), newEnv(t)
	b.lock = a.lock
	b.m = b.manager(Options{})
	na, nb := a.network("p_default"), b.network("p_default")
	if na.Bridge == nb.Bridge || netip.MustParsePrefix(na.Subnet).Overlaps(netip.MustParsePrefix(nb.Subnet)) {
		t.Fatalf("a = %s %s, b = %s %s", na.Bridge, na.Subnet, nb.Bridge, nb.Subnet)
	}
	wa, wb := sandbox.Start(t, "http", "a"), sandbox.Start(t, "http", "b")
	_, ra := a.attach(wa, "p-web-1", []EndpointOptions{{Network: na.Name, Aliases: []string{"web"}}})
	_, rb := b.attach(wb, "p-web-1", []EndpointOptions{{Network: nb.Name, Aliases: []string{"web"}}})
	ca, cb := sandbox.Start(t, "sleep"), sandbox.Start(t, "sleep")
	ida, _ := a.attach(ca, "p-client-1", []EndpointOptions{{Network: na.Name}})
	idb, _ := b.attach(cb, "p-client-1", []EndpointOptions{{Network: nb.Name}})
	a.serveDNS(ida, ca)
	b.serveDNS(idb, cb)
	if body, err := httpFrom(ca, "http://web/"); body != "a" {
		t.Errorf("a's client got %q, %v", body, err)
	}
	if body, err := httpFrom(cb, "http://web/"); body != "b" {
		t.Errorf("b's client got %q, %v", body, err)
	}
	if dialFrom(ca, rb.Endpoints[0].IPv4+":80") == nil {
		t.Errorf("a's client reached b's container at %s", rb.Endpoints[0].IPv4)
	}
	if dialFrom(cb, ra.Endpoints[0].IPv4+":80") == nil {
		t.Errorf("b's client reached a's container")
	}
}

// TestForwardDropPolicy puts Docker's iptables FORWARD policy (DROP, with a
// DOCKER-USER chain) in place: container to container, published port from
// another host and outbound traffic must still pass.
func TestForwardDropPolicy(t *testing.T) {
	e := newEnv(t)
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	filter := c.AddTable(&nftables.Table{Name: "filter", Family: nftables.TableFamilyIPv4})
	drop := nftables.ChainPolicyDrop
	fwd := c.AddChain(&nftables.Chain{Name: "FORWARD", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	c.AddChain(&nftables.Chain{Name: "DOCKER-USER", Table: filter})
	c.AddRule(&nftables.Rule{Table: filter, Chain: fwd, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "DOCKER-USER"}}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DelTable(filter); _ = c.Flush() })

	n := e.network("p_default")
	other, lanHost, lanPeer := lan(t, 2, "lan")
	web := sandbox.Start(t, "http", "web")
	client := sandbox.Start(t, "sleep")
	_, res := e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}}}, PortOptions{ContainerPort: 80})
	cid, _ := e.attach(client, "p-client-1", []EndpointOptions{{Network: n.Name}})
	e.serveDNS(cid, client)
	if body, err := httpFrom(client, "http://web/"); body != "web" {
		t.Errorf("container to container: %q, %v", body, err)
	}
	if body, err := httpFrom(other, fmt.Sprintf("http://%s:%d/", lanHost, res.Ports[0].HostPort)); body != "web" {
		t.Errorf("other host to published port: %q, %v", body, err)
	}
	if body, err := httpFrom(client, "http://"+lanPeer+"/"); body != "lan" {
		t.Errorf("outbound: %q, %v", body, err)
	}
	// The drop policy still applies to what is not berth's.
	if dialFrom(other, net.JoinHostPort(n.Gateway, "1")) == nil {
		t.Logf("note: the host answered on port 1 (not forwarded traffic)")
	}
	if err := e.m.Remove(context.Background(), n.Name); !errdefs.IsConflict(err) {
		t.Fatalf("remove with live containers: %v", err)
	}
}

func TestCreateSubnetsAndExternal(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A host route over 172.17.0.0/16 (like docker0): the first network
	// must take the next pool.
	d := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "bvtestroute"}}
	if err := netlink.LinkAdd(d); err != nil {
		t.Fatal(err)
	}
	defer deleteLink(d.Name)
	if err := netlink.AddrAdd(d, &netlink.Addr{IPNet: ipNet(netip.MustParseAddr("172.17.0.1"), 16)}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(d); err != nil {
		t.Fatal(err)
	}
	n1 := e.network("p_one")
	n2 := e.network("p_two")
	if n1.Subnet != "172.18.0.0/16" || n2.Subnet != "172.19.0.0/16" {
		t.Errorf("subnets %s, %s; want 172.18.0.0/16, 172.19.0.0/16", n1.Subnet, n2.Subnet)
	}
	again, err := e.m.Create(ctx, Spec{Name: "p_one"})
	if err != nil || again.ID != n1.ID {
		t.Errorf("create again: %v %v", again, err)
	}
	if _, err := e.m.Create(ctx, Spec{Name: "p_clash", IPAM: []IPAMConfig{{Subnet: "172.17.5.0/24"}}}); !errdefs.IsConflict(err) {
		t.Errorf("overlapping ipam subnet: %v", err)
	}
	if _, err := e.m.Create(ctx, Spec{Name: "outside", External: true}); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "external") {
		t.Errorf("missing external network: %v", err)
	}
	if ext, err := e.m.Create(ctx, Spec{Name: "p_one", External: true}); err != nil || ext.ID != n1.ID {
		t.Errorf("existing external network: %v %v", ext, err)
	}
	if _, err := e.m.Create(ctx, Spec{Name: "bad name"}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := e.m.Create(ctx, Spec{Name: "ov", Driver: "overlay"}); !errdefs.IsNotImplemented(err) {
		t.Errorf("overlay driver: %v", err)
	}
	ls, err := e.m.List(ctx, map[string]string{"com.docker.compose.project": "p"})
	if err != nil || len(ls) != 2 || ls[0].Name != "p_one" {
		t.Errorf("list = %v, %v", ls, err)
	}
	// The bridge is re-made when it went away (reboot).
	if err := deleteLink(n1.Bridge); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Create(ctx, Spec{Name: "p_one"}); err != nil || !bridgeExists(n1.Bridge) {
		t.Errorf("bridge not re-made: %v", err)
	}
	l, _ := netlink.LinkByName(n1.Bridge)
	if l.Attrs().HardwareAddr.String() != bridgeMAC(n1.ID).String() || l.Attrs().Alias != e.m.bridgeAlias("p_one") {
		t.Errorf("bridge mac %s alias %q", l.Attrs().HardwareAddr, l.Attrs().Alias)
	}
	for _, k := range []string{"route_localnet", "rp_filter"} {
		if v, _ := readSysctl("ipv4/conf/" + n1.Bridge + "/" + k); v == "0" {
			t.Errorf("%s = 0", k)
		}
	}
}

func TestInternalNetwork(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_back", func(s *Spec) { s.Internal = true })
	_, _, lanPeer := lan(t, 3, "lan")
	web := sandbox.Start(t, "http", "web")
	client := sandbox.Start(t, "sleep")
	e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}}})
	cid, _ := e.attach(client, "p-client-1", []EndpointOptions{{Network: n.Name}})
	e.serveDNS(cid, client)
	if body, err := httpFrom(client, "http://web/"); body != "web" {
		t.Errorf("within the internal network: %q, %v", body, err)
	}
	if dialFrom(client, lanPeer+":80") == nil {
		t.Errorf("a container of an internal network reached the outside")
	}
}

// TestStalePortTakeOver: a container of another root published a port and
// its monitor died (no `down`, nothing swept: that root may be gone). The
// port is free on the host, so a new container takes it over.
func TestStalePortTakeOver(t *testing.T) {
	e, other := newEnv(t), newEnv(t)
	other.lock = e.lock
	other.m = other.manager(Options{})
	n, on := e.network("p_default"), other.network("q_default")
	port := freePort(t)
	old := sandbox.Start(t, "http", "old")
	in, _ := json.Marshal(map[string]any{"Paths": other.paths, "LockDir": other.lock, "Opts": AttachOptions{
		ContainerID: newID(), ContainerName: "q-web-1", Pid: old.Pid,
		Endpoints: []EndpointOptions{{Network: on.Name}}, Ports: []PortOptions{{HostPort: port, ContainerPort: 80}}}})
	p, err := sandbox.StartHostRole("attach", []string{"BERTH_TEST_ATTACH=" + string(in)})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := p.ReadLine(); l != "attached" {
		t.Fatalf("attach child: %q %v", l, err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if body, err := httpHost(url); body != "old" {
		t.Fatalf("old container's port: %q %v", body, err)
	}
	p.Kill() // its monitor dies; its rule stays
	web := sandbox.Start(t, "http", "new")
	e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name}}, PortOptions{HostPort: port, ContainerPort: 80})
	if body, err := httpHost(url); body != "new" {
		t.Fatalf("taken-over port: %q %v", body, err)
	}
}

// TestSweepRulesOfDeletedBridge: a bridge deleted by hand leaves rules that
// match nothing; Sweep removes them, and the table with them.
func TestSweepRulesOfDeletedBridge(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	if err := deleteLink(n.Bridge); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if owners, _ := e.m.fw.Owners(context.Background()); owners["net:"+n.Bridge] {
		t.Fatalf("rules of the deleted bridge %s are left", n.Bridge)
	}
	if tableExists() {
		t.Errorf("berth's table is left")
	}
}

// TestAttachRemakesBridge: after a reboot the networks' state is there but
// not their bridges (nor rules); the first attach re-makes them.
func TestAttachRemakesBridge(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	if err := e.m.fw.RemoveNetwork(context.Background(), n.Bridge); err != nil {
		t.Fatal(err)
	}
	if err := deleteLink(n.Bridge); err != nil {
		t.Fatal(err)
	}
	web := sandbox.Start(t, "http", "back")
	client := sandbox.Start(t, "sleep")
	e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}}})
	cid, _ := e.attach(client, "p-client-1", []EndpointOptions{{Network: n.Name}})
	e.serveDNS(cid, client)
	if body, err := httpFrom(client, "http://web/"); body != "back" {
		t.Fatalf("after the bridge was re-made: %q, %v", body, err)
	}
	if owners, _ := e.m.fw.Owners(context.Background()); !owners["net:"+n.Bridge] {
		t.Errorf("the network's rules were not re-made")
	}
}

// TestRestartReattaches: a restart policy re-attaches the same container
// right after its previous process died, while the kernel may still be
// removing the old namespace and its veth pair.
func TestRestartReattaches(t *testing.T) {
	e := newEnv(t)
	n := e.network("p_default")
	ctx := context.Background()
	id := newID()
	client := sandbox.Start(t, "sleep")
	cid, _ := e.attach(client, "p-client-1", []EndpointOptions{{Network: n.Name}})
	e.serveDNS(cid, client)
	for run := range 3 {
		web := sandbox.Start(t, "http", fmt.Sprintf("run %d", run))
		if _, err := e.m.Attach(ctx, AttachOptions{ContainerID: id, ContainerName: "p-web-1", Pid: web.Pid,
			Endpoints: []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}}}, Ports: []PortOptions{{ContainerPort: 80}}}); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if body, err := httpFrom(client, "http://web/"); body != fmt.Sprintf("run %d", run) {
			t.Fatalf("run %d: %q, %v", run, body, err)
		}
		web.Kill()
		if run < 2 {
			if err := e.m.Detach(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The last run was not detached (a monitor killed with its container):
	// Sweep does it.
	if err := e.m.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.readEndpoint(id); !errdefs.IsNotFound(err) {
		t.Fatalf("record of the dead container after sweep: %v", err)
	}
}
