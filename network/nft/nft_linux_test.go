package nft

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/berthdev/berth/engine/testutil"
	"github.com/berthdev/berth/network/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Main(m, map[string]sandbox.Role{"sleep": func([]string) error {
		sandbox.Ready()
		select {}
	}})
}

func newFirewall(t *testing.T) *Firewall {
	testutil.RequiresRoot(t)
	if !sandbox.Inner() {
		t.Skip("runs only in the sandbox network namespace")
	}
	return New(Options{LockPath: filepath.Join(t.TempDir(), "nft.lock")})
}

// dump renders berth's rules by chain and owner, for assertions.
func dump(t *testing.T, fam nftables.TableFamily) map[string][]string {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	chains, err := c.ListChainsOfTableFamily(fam)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chains {
		rs, err := c.GetRules(ch.Table, ch)
		if err != nil {
			t.Fatal(err)
		}
		key := ch.Table.Name + "/" + ch.Name
		out[key] = append(out[key], "") // chain exists
		for _, r := range rs {
			o, d := ownerOf(r)
			out[key] = append(out[key], strings.TrimSpace(o+" "+d))
		}
	}
	return out
}

func tableExists(t *testing.T, fam nftables.TableFamily) bool {
	for k := range dump(t, fam) {
		if strings.HasPrefix(k, TableName+"/") {
			return true
		}
	}
	return false
}

func count(rules []string, owner string) int {
	n := 0
	for _, r := range rules {
		if r == owner || strings.HasPrefix(r, owner+" ") {
			n++
		}
	}
	return n
}

func TestNetworkRulesSharedTable(t *testing.T) {
	f := newFirewall(t)
	ctx := context.Background()
	a := Network{Bridge: "berthtesta", Subnet: netip.MustParsePrefix("10.201.0.0/24")}
	b := Network{Bridge: "berthtestb", Subnet: netip.MustParsePrefix("10.202.0.0/24"), Internal: true}
	for _, n := range []Network{a, b, a} { // a twice: replaced, not duplicated
		if err := f.AddNetwork(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	d := dump(t, nftables.TableFamilyIPv4)
	if got := count(d["berth/fwd-in"], "net:berthtesta"); got != 4 {
		t.Errorf("fwd-in rules of a = %d, want 4: %v", got, d["berth/fwd-in"])
	}
	if got := count(d["berth/postrouting"], "net:berthtestb"); got != 2 { // internal: no outbound masquerade
		t.Errorf("postrouting rules of internal b = %d, want 2", got)
	}
	if got := count(d["berth/prerouting"], "base"); got != 1 {
		t.Errorf("base rules in prerouting = %d", got)
	}
	if err := f.RemoveNetwork(ctx, a.Bridge); err != nil {
		t.Fatal(err)
	}
	d = dump(t, nftables.TableFamilyIPv4)
	for ch, rs := range d {
		if count(rs, "net:berthtesta") > 0 {
			t.Errorf("%s still has a's rules", ch)
		}
	}
	if count(d["berth/fwd-out"], "net:berthtestb") != 1 {
		t.Errorf("b's rules were removed with a's")
	}
	if err := f.RemoveNetwork(ctx, b.Bridge); err != nil {
		t.Fatal(err)
	}
	if tableExists(t, nftables.TableFamilyIPv4) {
		t.Fatalf("table left after the last network: %v", dump(t, nftables.TableFamilyIPv4))
	}
	if err := f.RemoveNetwork(ctx, b.Bridge); err != nil { // gone is success
		t.Fatal(err)
	}
}

func TestPortsConflictAndOwners(t *testing.T) {
	f := newFirewall(t)
	ctx := context.Background()
	n := Network{Bridge: "berthtestp", Subnet: netip.MustParsePrefix("10.203.0.0/24")}
	if err := f.AddNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	defer f.RemoveNetwork(ctx, n.Bridge)
	c1 := netip.MustParseAddr("10.203.0.2")
	web := []Port{
		{Proto: "tcp", HostPort: 18080, ContainerIP: c1, ContainerPort: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 18053, ContainerIP: c1, ContainerPort: 53},
	}
	if err := f.AddPorts(ctx, "c1", "p-web-1", web, PortsOptions{}); err != nil {
		t.Fatal(err)
	}
	// Same port on a specific address, another container: conflict naming p-web-1.
	err := f.AddPorts(ctx, "c2", "p-api-1", []Port{{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 18080,
		ContainerIP: netip.MustParseAddr("10.203.0.3"), ContainerPort: 80}}, PortsOptions{})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "p-web-1") || !strings.Contains(err.Error(), "127.0.0.1:18080/tcp") {
		t.Fatalf("conflict error = %v", err)
	}
	// Same number, other protocol or other address: fine.
	if err := f.AddPorts(ctx, "c2", "p-api-1", []Port{{Proto: "udp", HostPort: 18080, ContainerIP: netip.MustParseAddr("10.203.0.3"), ContainerPort: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.2"), HostPort: 18053, ContainerIP: netip.MustParseAddr("10.203.0.3"), ContainerPort: 53}}, PortsOptions{}); err != nil {
		t.Fatal(err)
	}
	pub, err := f.Published(ctx)
	if err != nil || len(pub) != 4 {
		t.Fatalf("published = %v %v", pub, err)
	}
	if pub[0].Name != "p-web-1" && pub[0].Name != "p-api-1" || pub[0].HostPort != 18053 {
		t.Errorf("published[0] = %+v", pub[0])
	}
	owners, err := f.Owners(ctx)
	if err != nil || !owners["ctr:c1"] || !owners["ctr:c2"] || !owners["net:berthtestp"] {
		t.Fatalf("owners = %v %v", owners, err)
	}
	// A caller that holds the port takes it over from a dead container:
	// c1's rules go (all of them), c2's stay.
	if err := f.AddPorts(ctx, "c3", "p-new-1", []Port{{Proto: "tcp", HostPort: 18080, ContainerIP: netip.MustParseAddr("10.203.0.4"),
		ContainerPort: 80}}, PortsOptions{TakeOver: true}); err != nil {
		t.Fatal(err)
	}
	if owners, _ := f.Owners(ctx); owners["ctr:c1"] || !owners["ctr:c2"] || !owners["ctr:c3"] {
		t.Fatalf("after take-over: %v", owners)
	}
	if err := f.RemovePorts(ctx, "c3"); err != nil {
		t.Fatal(err)
	}
	if err := f.RemovePorts(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if pub, _ := f.Published(ctx); len(pub) != 0 {
		t.Fatalf("published after removal = %v", pub)
	}
}

// TestForeignForwardChain stands in for Docker: an iptables-nft `ip filter`
// table whose FORWARD chain drops by default and has a DOCKER-USER chain.
func TestForeignForwardChain(t *testing.T) {
	f := newFirewall(t)
	ctx := context.Background()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	filter := c.AddTable(&nftables.Table{Name: "filter", Family: nftables.TableFamilyIPv4})
	pol := nftables.ChainPolicyDrop
	fwd := c.AddChain(&nftables.Chain{Name: "FORWARD", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &pol})
	c.AddRule(&nftables.Rule{Table: filter, Chain: fwd, Exprs: drop()}) // someone else's rule
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.DelTable(filter); _ = c.Flush() }()

	n := Network{Bridge: "berthtestf", Subnet: netip.MustParsePrefix("10.204.0.0/24")}
	if err := f.AddNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	d := dump(t, nftables.TableFamilyIPv4)
	fw := d["filter/FORWARD"]
	if len(fw) != 5 || count(fw[1:4], "net:berthtestf") != 3 || fw[4] != "" {
		t.Fatalf("FORWARD = %q; want berth's 3 accepts first, then the foreign rule", fw)
	}
	// With DOCKER-USER present, accepts go there instead.
	du := c.AddChain(&nftables.Chain{Name: "DOCKER-USER", Table: filter})
	_ = du
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.AddNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	d = dump(t, nftables.TableFamilyIPv4)
	if count(d["filter/FORWARD"], "net:berthtestf") != 0 || count(d["filter/DOCKER-USER"], "net:berthtestf") != 3 {
		t.Fatalf("FORWARD %q DOCKER-USER %q", d["filter/FORWARD"], d["filter/DOCKER-USER"])
	}
	if err := f.RemoveNetwork(ctx, n.Bridge); err != nil {
		t.Fatal(err)
	}
	d = dump(t, nftables.TableFamilyIPv4)
	if count(d["filter/DOCKER-USER"], "net:berthtestf") != 0 || len(d["filter/FORWARD"]) != 2 {
		t.Fatalf("after removal FORWARD %q DOCKER-USER %q", d["filter/FORWARD"], d["filter/DOCKER-USER"])
	}
}

// TestFirewalldForwardChain stands in for firewalld: `inet firewalld` with a
// filter_FORWARD chain ending in a reject; berth's accepts go first.
func TestFirewalldForwardChain(t *testing.T) {
	f := newFirewall(t)
	ctx := context.Background()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	fw := c.AddTable(&nftables.Table{Name: "firewalld", Family: nftables.TableFamilyINet})
	ch := c.AddChain(&nftables.Chain{Name: "filter_FORWARD", Table: fw, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(10)})
	c.AddRule(&nftables.Rule{Table: fw, Chain: ch, Exprs: drop()})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.DelTable(fw); _ = c.Flush() }()
	n := Network{Bridge: "berthtestfw", Subnet: netip.MustParsePrefix("10.205.0.0/24")}
	if err := f.AddNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	d := dump(t, nftables.TableFamilyINet)["firewalld/filter_FORWARD"]
	if len(d) != 5 || count(d[1:4], "net:berthtestfw") != 3 || d[4] != "" {
		t.Fatalf("filter_FORWARD = %q", d)
	}
	if err := f.RemoveNetwork(ctx, n.Bridge); err != nil {
		t.Fatal(err)
	}
	if d := dump(t, nftables.TableFamilyINet)["firewalld/filter_FORWARD"]; len(d) != 2 {
		t.Fatalf("after removal filter_FORWARD = %q", d)
	}
}

// TestRedirectDNSReplaces: a second redirect in the same namespace (a
// retried attach) replaces the first one's rules rather than adding to them.
func TestRedirectDNSReplaces(t *testing.T) {
	testutil.RequiresRoot(t)
	c := sandbox.Start(t, "sleep")
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", c.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	addr := netip.MustParseAddr("127.0.0.11")
	for _, ports := range [][2]uint16{{4001, 4002}, {5001, 5002}} {
		if err := RedirectDNS(int(ns.Fd()), addr, ports[0], ports[1]); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	var ports []uint16
	for _, ch := range chains {
		if ch.Table.Name != DNSTable {
			t.Fatalf("unexpected chain %s/%s", ch.Table.Name, ch.Name)
		}
		rules, err := conn.GetRules(ch.Table, ch)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			for _, e := range r.Exprs {
				if im, ok := e.(*expr.Immediate); ok && len(im.Data) == 2 {
					ports = append(ports, binary.BigEndian.Uint16(im.Data))
				}
			}
		}
	}
	if !slices.Equal(ports, []uint16{5001, 5002}) {
		t.Fatalf("DNAT target ports %v, want [5001 5002] (the second redirect's only)", ports)
	}
}
