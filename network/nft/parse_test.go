package nft

import (
	"net/netip"
	"testing"
)

func TestPortDetailRoundTrip(t *testing.T) {
	for _, p := range []Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("172.18.0.2"), ContainerPort: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, ContainerIP: netip.MustParseAddr("172.18.0.3"), ContainerPort: 5353},
	} {
		got, ok := parsePortDetail("ctr:abc", portDetail("p-web-1", p))
		if !ok || got.Port != p || got.Owner != "abc" || got.Name != "p-web-1" {
			t.Errorf("%v: got %+v %v", p, got, ok)
		}
	}
}

// FuzzParsePortDetail: comments of rules are read back from the kernel,
// where anyone may have written them; parsing never panics.
func FuzzParsePortDetail(f *testing.F) {
	f.Add("ctr:abc", "p-web-1 0.0.0.0:8080/tcp 172.18.0.2:80")
	f.Add("ctr:x", "n [::1]:1/udp [fd00::2]:2")
	f.Add("net:b", "")
	f.Fuzz(func(t *testing.T, owner, detail string) {
		p, ok := parsePortDetail(owner, detail)
		if ok && (p.Proto == "" || p.Name == "") {
			t.Fatalf("accepted %q %q as %+v", owner, detail, p)
		}
	})
}
