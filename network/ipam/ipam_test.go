package ipam

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
)

func TestDefaultPools(t *testing.T) {
	p := DefaultPools()
	if len(p) != 15+16 {
		t.Fatalf("got %d pools, want 31", len(p))
	}
	want := map[int]string{0: "172.17.0.0/16", 14: "172.31.0.0/16", 15: "192.168.0.0/20", 16: "192.168.16.0/20", 30: "192.168.240.0/20"}
	for i, w := range want {
		if p[i].String() != w {
			t.Errorf("pool %d = %s, want %s", i, p[i], w)
		}
	}
}

func TestChooseSubnet(t *testing.T) {
	pp := netip.MustParsePrefix
	tests := []struct {
		name string
		used []netip.Prefix
		want string
		err  bool
	}{
		{"empty host", nil, "172.17.0.0/16", false},
		{"docker0 and a /24 route", []netip.Prefix{pp("172.17.0.0/16"), pp("172.18.5.0/24")}, "172.19.0.0/16", false},
		{"default route is ignored by the caller, a /12 covers 172.16-31", []netip.Prefix{pp("172.16.0.0/12")}, "192.168.0.0/20", false},
		{"host address inside a candidate", []netip.Prefix{pp("172.16.0.0/12"), pp("192.168.1.7/32")}, "192.168.16.0/20", false},
		{"everything taken", []netip.Prefix{pp("172.16.0.0/12"), pp("192.168.0.0/16")}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ChooseSubnet(DefaultPools(), tc.used)
			if tc.err {
				if !errdefs.IsUnavailable(err) || !errors.Is(err, ErrExhausted) {
					t.Fatalf("err = %v, want exhausted/unavailable", err)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestSubnetNextRoundRobin(t *testing.T) {
	s, err := ParseSubnet("10.9.0.0/29", "", "")
	if err != nil {
		t.Fatal(err)
	}
	taken := map[netip.Addr]bool{}
	var got []string
	last := netip.Addr{}
	for range 5 {
		a, err := s.Next(last, func(a netip.Addr) bool { return taken[a] })
		if err != nil {
			t.Fatal(err)
		}
		taken[a], last = true, a
		got = append(got, a.String())
	}
	want := []string{"10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if _, err := s.Next(last, func(a netip.Addr) bool { return taken[a] }); !errdefs.IsUnavailable(err) {
		t.Fatalf("full subnet: err = %v", err)
	}
	// Freed .3 is found after wrapping, not before the end.
	delete(taken, netip.MustParseAddr("10.9.0.3"))
	if a, _ := s.Next(last, func(a netip.Addr) bool { return taken[a] }); a.String() != "10.9.0.3" {
		t.Fatalf("after wrap got %s", a)
	}
}

func TestParseSubnet(t *testing.T) {
	tests := []struct {
		subnet, gw, rng string
		wantGW          string
		err             bool
	}{
		{"172.28.0.0/16", "", "", "172.28.0.1", false},
		{"172.28.0.0/16", "172.28.5.254", "172.28.5.0/24", "172.28.5.254", false},
		{"172.28.0.0/16", "10.0.0.1", "", "", true},
		{"172.28.0.0/16", "", "10.0.0.0/24", "", true},
		{"nonsense", "", "", "", true},
		{"fd00:1::/64", "", "", "fd00:1::1", false},
	}
	for _, tc := range tests {
		s, err := ParseSubnet(tc.subnet, tc.gw, tc.rng)
		if tc.err {
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("%v: err = %v", tc, err)
			}
			continue
		}
		if err != nil || s.Gateway.String() != tc.wantGW {
			t.Errorf("%v: got %v %v", tc, s.Gateway, err)
		}
	}
}

func TestSplitAndULA(t *testing.T) {
	s := Split(netip.MustParsePrefix("10.0.0.0/22"), 24)
	if len(s) != 4 || s[3].String() != "10.0.3.0/24" {
		t.Fatalf("split = %v", s)
	}
	p, err := IPv6ULA("0123456789abcdef")
	if err != nil || p.String() != "fd01:2345:6789:abcd::/64" {
		t.Fatalf("ula = %v %v", p, err)
	}
}

func TestStoreConcurrentAllocations(t *testing.T) {
	st := NewStore(t.TempDir(), nil)
	sub, _ := ParseSubnet("10.7.0.0/24", "", "10.7.0.0/25")
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[netip.Addr]string{}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := string(rune('a'+i%26)) + string(rune('a'+i/26))
			a, err := st.Allocate(ctx, "n", sub, owner, netip.Addr{})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if o, dup := seen[a]; dup {
				t.Errorf("%s given to %s and %s", a, o, owner)
			}
			seen[a] = owner
			if !sub.Range.Contains(a) {
				t.Errorf("%s outside ip_range", a)
			}
		}()
	}
	wg.Wait()
	l, _ := st.Leases(ctx, "n")
	if len(l) != 40 {
		t.Fatalf("%d leases on disk, want 40", len(l))
	}
	// Idempotent for one owner; fixed address conflict names the holder.
	a1, _ := st.Allocate(ctx, "n", sub, "aa", netip.Addr{})
	if seen[a1] != "aa" {
		t.Fatalf("re-allocate gave %s, not aa's lease", a1)
	}
	if _, err := st.Allocate(ctx, "n", sub, "zz", a1); !errdefs.IsConflict(err) {
		t.Fatalf("taken fixed address: err = %v", err)
	}
	fixed := netip.MustParseAddr("10.7.0.200")
	if a, err := st.Allocate(ctx, "n", sub, "zz", fixed); err != nil || a != fixed {
		t.Fatalf("fixed outside range: %v %v", a, err)
	}
	if _, err := st.Allocate(ctx, "n", sub, "yy", netip.MustParseAddr("10.7.0.1")); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("gateway as fixed address: err = %v", err)
	}
	if err := st.Release(ctx, "n", "aa"); err != nil {
		t.Fatal(err)
	}
	if err := st.Prune(ctx, "n", func(o string) bool { return o != "zz" }); err != nil {
		t.Fatal(err)
	}
	l, _ = st.Leases(ctx, "n")
	if len(l) != 39 {
		t.Fatalf("%d leases after release+prune, want 39", len(l))
	}
	if err := st.Drop(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Networks(); len(n) != 0 {
		t.Fatalf("networks after drop: %v", n)
	}
}

// TestStoreTornFile: a writer killed in the middle of a rewrite leaves a
// file that does not decode; the leases are rebuilt from the owners' side.
func TestStoreTornFile(t *testing.T) {
	dir := t.TempDir()
	held := netip.MustParseAddr("10.8.0.2")
	st := NewStore(dir, func(string) map[netip.Addr]string { return map[netip.Addr]string{held: "alive"} })
	ctx := context.Background()
	if err := os.WriteFile(filepath.Join(dir, "n.leases"), []byte(`{"leases":{"10.8.0.2":"ali`), 0o600); err != nil {
		t.Fatal(err)
	}
	sub, _ := ParseSubnet("10.8.0.0/24", "", "")
	a, err := st.Allocate(ctx, "n", sub, "new", netip.Addr{})
	if err != nil || a == held {
		t.Fatalf("allocated %s, %v over a recovered lease", a, err)
	}
	// A longer old content after a shorter new one is ignored.
	if err := st.Release(ctx, "n", "alive"); err != nil {
		t.Fatal(err)
	}
	l, err := st.Leases(ctx, "n")
	if err != nil || len(l) != 1 || l[a] != "new" {
		t.Fatalf("leases = %v, %v", l, err)
	}
}
