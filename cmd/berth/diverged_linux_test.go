package main

import (
	"strings"
	"testing"
)

const divergedCompose = `
services:
  a:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    networks: [front]
    volumes: [data:/data]
networks:
  front:
    ipam:
      config: [{subnet: 10.213.21.0/24}]
volumes:
  data:
    labels: {generation: "1"}
`

// TestLifecycleRootDivergedNetworkAndVolume: as docker compose, a network
// whose configuration changed is recreated (its container stopped and
// started again on the new subnet, not recreated); a volume whose
// configuration changed is kept with its data unless the user says yes
// (-y), and then recreated empty with its container.
func TestLifecycleRootDivergedNetworkAndVolume(t *testing.T) {
	l := newLifecycle(t, "div")
	a, front, data := l.project+"-a-1", l.project+"_front", l.project+"_data"
	l.write(divergedCompose)
	l.must("up", "-d", "--wait")
	l.must("exec", "-T", "a", "sh", "-c", "echo kept > /data/f")
	first := l.ids()[a]
	addr := func() string {
		out, _ := l.must("exec", "-T", "a", "ip", "-o", "-4", "addr", "show", "eth0")
		return out
	}
	if got := addr(); !strings.Contains(got, "10.213.21.") {
		t.Fatalf("address before the change: %s", got)
	}

	// The subnet changes: the network is recreated under the container.
	l.write(strings.Replace(divergedCompose, "10.213.21.0/24", "10.213.22.0/24", 1))
	_, errs := l.must("up", "-d", "--wait")
	for _, want := range []string{"Container " + a + " Stopped", "Network " + front + " Removed",
		"Network " + front + " Created", "Container " + a + " Started"} {
		if !strings.Contains(errs, want) {
			t.Errorf("network change: no %q in:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "Recreate") || strings.Contains(errs, "Volume") {
		t.Errorf("network change touched more than the network:\n%s", errs)
	}
	if got := addr(); !strings.Contains(got, "10.213.22.") {
		t.Errorf("address after the change: %s", got)
	}
	if now := l.ids()[a]; now != first {
		t.Errorf("container recreated for a network change: %s -> %s", first, now)
	}
	if out, _ := l.must("network", "inspect", front, "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}"); strings.TrimSpace(out) != "10.213.22.0/24" {
		t.Errorf("network subnet after the change: %q", out)
	}
	if _, errs := l.must("up", "-d"); strings.Contains(errs, "Network") {
		t.Errorf("an up after the change did network work again:\n%s", errs)
	}

	// The volume's labels change: without -y (and no one to answer) the
	// volume and its data are kept.
	changed := strings.Replace(strings.Replace(divergedCompose, "10.213.21.0/24", "10.213.22.0/24", 1), `generation: "1"`, `generation: "2"`, 1)
	l.write(changed)
	out, errs := l.must("up", "-d", "--wait")
	question := `Volume "` + data + `" exists but doesn't match configuration in compose file. Recreate (data will be lost)?`
	if !strings.Contains(out, question) {
		t.Errorf("no question on stdout:\n%s", out)
	}
	if strings.Contains(errs, "Volume") || strings.Contains(errs, "Removed") {
		t.Errorf("volume touched without consent:\n%s", errs)
	}
	if got, _ := l.must("exec", "-T", "a", "cat", "/data/f"); strings.TrimSpace(got) != "kept" {
		t.Errorf("data after a refused recreation: %q", got)
	}
	if got, _ := l.must("volume", "inspect", data, "--format", "{{index .Labels \"generation\"}}"); strings.TrimSpace(got) != "1" {
		t.Errorf("volume label after a refused recreation: %q", got)
	}

	// With -y: the container goes, the volume is recreated empty with the
	// new labels, and a new container mounts it.
	out, errs = l.must("up", "-d", "--wait", "-y")
	if strings.Contains(out, "Recreate (data will be lost)") {
		t.Errorf("-y still asked:\n%s", out)
	}
	for _, want := range []string{"Container " + a + " Removed", "Volume " + data + " Removed",
		"Volume " + data + " Created", "Container " + a + " Created", "Container " + a + " Started"} {
		if !strings.Contains(errs, want) {
			t.Errorf("up -y: no %q in:\n%s", want, errs)
		}
	}
	if _, _, code := l.run("exec", "-T", "a", "test", "-e", "/data/f"); code == 0 {
		t.Error("the recreated volume still has the old data")
	}
	if got, _ := l.must("volume", "inspect", data, "--format", "{{index .Labels \"generation\"}}"); strings.TrimSpace(got) != "2" {
		t.Errorf("volume label after recreation: %q", got)
	}
	if now := l.ids()[a]; now == first {
		t.Error("the container mounting the recreated volume was not recreated")
	}
	if out, errs := l.must("up", "-d"); strings.Contains(out, "Recreate") || strings.Contains(errs, "Volume") {
		t.Errorf("an up after the recreation asked or did volume work again:\n%s%s", out, errs)
	}
}
