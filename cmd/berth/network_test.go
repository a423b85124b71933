package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/berthdev/berth/engine/testutil"
	"github.com/berthdev/berth/network/nft"
)

// TestNetworkCommands drives `berth network` in-process on a throwaway root
// (real bridges on this machine, internal networks on a test subnet, all
// removed at the end) and checks docker's output shapes.
func TestNetworkCommands(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	dir := t.TempDir()
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return berthRun(t, dir, nil, append([]string{"--root", root}, args...)...)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("berth %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	t.Cleanup(func() { run("network", "prune", "-f") })

	id := strings.TrimSpace(mustRun("network", "create", "--internal", "--subnet", "10.213.7.0/24", "--label", "tier=back", "bt-back"))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("create printed %q", id)
	}
	mustRun("network", "create", "--internal", "--subnet", "10.213.8.0/24", "--gateway", "10.213.8.254", "bt-front")
	if _, errOut, code := run("network", "create", "--internal", "bt-back"); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("create existing: %d %q", code, errOut)
	}
	want := "NETWORK ID     NAME      DRIVER    SCOPE\n" + id[:12] + "   bt-back   bridge    local\n"
	if out := mustRun("network", "ls", "-f", "label=tier=back"); out != want {
		t.Fatalf("ls:\n%s\nwant:\n%s", out, want)
	}
	if out := mustRun("network", "ls", "-q", "--no-trunc", "-f", "name=back"); out != id+"\n" {
		t.Fatalf("ls -q: %q", out)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(mustRun("network", "inspect", "bt-front")), &got); err != nil || len(got) != 1 {
		t.Fatalf("inspect: %v %v", got, err)
	}
	ipam := got[0]["IPAM"].(map[string]any)["Config"].([]any)[0].(map[string]any)
	if ipam["Subnet"] != "10.213.8.0/24" || ipam["Gateway"] != "10.213.8.254" || got[0]["Internal"] != true {
		t.Fatalf("inspect = %v", got[0])
	}
	bridge := got[0]["Options"].(map[string]any)["com.docker.network.bridge.name"].(string)
	if l, err := netlink.LinkByName(bridge); err != nil || l.Type() != "bridge" || !strings.HasPrefix(bridge, "berth") {
		t.Fatalf("bridge %q: %v", bridge, err)
	}
	if out := mustRun("network", "inspect", "-f", "{{.Name}} {{.Driver}}", "bt-back"); out != "bt-back bridge\n" {
		t.Fatalf("inspect -f: %q", out)
	}
	if _, errOut, code := run("network", "rm", "bt-nope"); code != 1 || !strings.Contains(errOut, "network bt-nope not found") {
		t.Fatalf("rm missing: %d %q", code, errOut)
	}
	mustRun("network", "rm", "-f", "bt-nope")
	if out := mustRun("network", "rm", "bt-front"); out != "bt-front\n" {
		t.Fatalf("rm printed %q", out)
	}
	if _, err := netlink.LinkByName(bridge); err == nil {
		t.Fatalf("bridge %s left after rm", bridge)
	}
	if out := mustRun("network", "prune", "-f"); out != "Deleted Networks:\nbt-back\n\n" {
		t.Fatalf("prune printed %q", out)
	}
	owners, err := nft.New(nft.Options{}).Owners(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for o := range owners {
		if strings.Contains(o, bridge) {
			t.Fatalf("nftables rules of %s left", bridge)
		}
	}
	if out := mustRun("network", "ls", "-q"); out != "" {
		t.Fatalf("ls after prune: %q", out)
	}
}
