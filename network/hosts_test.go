package network

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestExtraHostsAndResolvConf(t *testing.T) {
	got, err := extraHosts([]string{"host.docker.internal:host-gateway", "db.local=10.0.0.5", "v6:::1", "br:[fd00::1]"}, "172.18.0.1")
	want := []string{"172.18.0.1\thost.docker.internal", "10.0.0.5\tdb.local", "::1\tv6", "fd00::1\tbr"}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("hosts = %q, %v", got, err)
	}
	if _, err := extraHosts([]string{"nocolon"}, ""); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("bad entry: %v", err)
	}
	rc := string(ResolvConf([]string{"example.com"}, []string{"ndots:2", "timeout:1"}))
	if !strings.Contains(rc, "nameserver 127.0.0.11\nsearch example.com\noptions ndots:2 timeout:1\n") {
		t.Fatalf("resolv.conf = %q", rc)
	}
	if rc := string(ResolvConf(nil, nil)); !strings.HasSuffix(rc, "nameserver 127.0.0.11\noptions ndots:0\n") {
		t.Fatalf("default resolv.conf = %q", rc)
	}
}

// FuzzExtraHosts: extra_hosts entries come from compose files.
func FuzzExtraHosts(f *testing.F) {
	f.Add("host.docker.internal:host-gateway")
	f.Add("a=::1")
	f.Add(":")
	f.Fuzz(func(t *testing.T, e string) {
		out, err := extraHosts([]string{e}, "172.18.0.1")
		if err == nil && (len(out) != 1 || !strings.Contains(out[0], "\t")) {
			t.Fatalf("%q gave %q", e, out)
		}
	})
}

func TestValidIDAndAlias(t *testing.T) {
	for _, id := range []string{"", "../x", "a b", strings.Repeat("a", 129)} {
		if validID(id) == nil {
			t.Errorf("id %q accepted", id)
		}
	}
	root, nw, ok := parseAlias("berth root=/var/lib/my root network=p_default")
	if !ok || root != "/var/lib/my root" || nw != "p_default" {
		t.Fatalf("alias parsed as %q %q %v", root, nw, ok)
	}
	if len(hostVethName(strings.Repeat("a", 64), "p_default")) > 15 {
		t.Fatal("host veth name over IFNAMSIZ")
	}
}
