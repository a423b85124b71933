package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/engine/testutil"
	"github.com/berthdev/berth/network"
)

// TestContainerCommands drives `berth container` on real containers of a
// throwaway root: ls with label filters, inspect (docker's shape, compose
// labels), logs, exec, stop with the kill reason, rm.
func TestContainerCommands(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresRegistry(t)
	root := t.TempDir()
	ctx := context.Background()
	c := &cli{opts: globalOptions{Root: root}}
	eng, err := c.engine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := c.paths()
	defer os.RemoveAll(paths.Run)
	store, err := image.New(image.Options{Root: paths.Images(), Snapshots: paths.Snapshots()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Pull(ctx, testutil.BusyboxImage, image.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	project := "cli" + hex.EncodeToString(b[:])
	labels := map[string]string{"com.docker.compose.project": project, "com.docker.compose.service": "web",
		"com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"}
	ct, err := eng.Create(ctx, engine.ContainerSpec{Name: project + "-web-1", Image: testutil.BusyboxImage, Labels: labels,
		Cmd: []string{"sh", "-c", "echo started; exec sleep 1000"}, Network: engine.NetworkSpec{Mode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Remove(ctx, ct.ID, engine.RemoveOptions{Force: true})
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return berthRun(t, t.TempDir(), nil, append([]string{"--root", root}, args...)...)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("berth %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	name := project + "-web-1"
	if out := mustRun("container", "start", name); out != name+"\n" {
		t.Fatalf("start printed %q", out)
	}
	out := mustRun("container", "ls", "--filter", "label=com.docker.compose.project="+project)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "CONTAINER ID") || !strings.Contains(lines[1], ct.ID[:12]) ||
		!strings.Contains(lines[1], "Up ") || !strings.HasSuffix(lines[1], name) {
		t.Fatalf("ls:\n%s", out)
	}
	if out := mustRun("container", "ls", "-q", "--filter", "label=com.docker.compose.project=other"); out != "" {
		t.Fatalf("ls of another project: %q", out)
	}
	if out := mustRun("container", "inspect", "-f", `{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.Name}}`, name); out != "web running /"+name+"\n" {
		t.Fatalf("inspect -f: %q", out)
	}
	var insp []map[string]any
	if err := json.Unmarshal([]byte(mustRun("container", "inspect", ct.ID[:12])), &insp); err != nil || len(insp) != 1 || insp[0]["Id"] != ct.ID {
		t.Fatalf("inspect: %v %v", insp, err)
	}
	if out := mustRun("container", "exec", name, "sh", "-c", "echo $HOSTNAME"); out != ct.ID[:12]+"\n" {
		t.Fatalf("exec: %q", out)
	}
	if _, _, code := run("container", "exec", name, "sh", "-c", "exit 4"); code != 4 {
		t.Fatalf("exec exit code: %d", code)
	}
	// The line is in the log once the process has written it and the
	// monitor has read it: on a fast machine, maybe after the commands
	// above.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out := mustRun("container", "logs", name)
		if out == "started\n" {
			break
		}
		if out != "" || time.Now().After(deadline) {
			t.Fatalf("logs: %q", out)
		}
	}
	if _, errOut, code := run("container", "rm", name); code == 0 || !strings.Contains(errOut, "stop it first") {
		t.Fatalf("rm of a running container: %d %q", code, errOut)
	}
	out, errOut, code := run("container", "stop", name)
	if code != 0 || out != name+"\n" || !strings.Contains(errOut, "PID 1 has no handler for SIGTERM") {
		t.Fatalf("stop: %d %q %q", code, out, errOut)
	}
	if out := mustRun("container", "ls", "-a", "--format", "{{.Names}} {{.State}}", "--filter", "label=com.docker.compose.project="+project); out != name+" exited\n" {
		t.Fatalf("ls -a: %q", out)
	}
	mustRun("container", "rm", name)
	if _, errOut, code := run("container", "inspect", name); code != 1 || !strings.Contains(errOut, "No such container") {
		t.Fatalf("inspect after rm: %d %q", code, errOut)
	}
}

// TestContainerBridge: a container on a bridge network through the real
// network manager: its address in inspect, /etc/hosts and resolv.conf
// written by the monitor (embedded DNS at 127.0.0.11), its own name
// resolved by the DNS the monitor serves, and nothing left after removal.
func TestContainerBridge(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresRegistry(t)
	root := t.TempDir()
	ctx := context.Background()
	c := &cli{opts: globalOptions{Root: root}}
	eng, err := c.engine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := c.paths()
	defer os.RemoveAll(paths.Run)
	store, err := c.images()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Pull(ctx, testutil.BusyboxImage, image.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	nets, err := c.networks()
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	project := "br" + hex.EncodeToString(b[:])
	netName := project + "_default"
	if _, err := nets.Create(ctx, network.Spec{Name: netName, Labels: map[string]string{"com.docker.compose.project": project}}); err != nil {
		t.Fatal(err)
	}
	defer nets.Remove(context.Background(), netName)
	ct, err := eng.Create(ctx, engine.ContainerSpec{Name: project + "-web-1", Image: testutil.BusyboxImage,
		Labels: map[string]string{"com.docker.compose.project": project},
		Cmd:    []string{"sleep", "1000"},
		Network: engine.NetworkSpec{Mode: "bridge", Interfaces: []engine.Interface{{Network: netName, Aliases: []string{"web", project + "-web-1"}}},
			ExtraHosts: []string{"somehost:10.1.2.3"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Remove(context.Background(), ct.ID, engine.RemoveOptions{Force: true})
	if err := eng.Start(ctx, ct.ID); err != nil {
		t.Fatal(err)
	}
	got, err := eng.Inspect(ctx, ct.ID)
	if err != nil {
		t.Fatal(err)
	}
	ip := got.Networks[netName].IPAddress
	if ip == "" {
		t.Fatalf("no address on %s: %+v", netName, got.Networks)
	}
	exec := func(args ...string) string {
		t.Helper()
		var out strings.Builder
		code, err := eng.Exec(ctx, ct.ID, engine.ExecOptions{Cmd: args, Stdout: &out, Stderr: &out})
		if err != nil || code != 0 {
			t.Fatalf("exec %v: %d %v: %s", args, code, err, out.String())
		}
		return out.String()
	}
	if rc := exec("cat", "/etc/resolv.conf"); !strings.Contains(rc, "nameserver 127.0.0.11\n") || !strings.Contains(rc, "ndots:0") {
		t.Fatalf("resolv.conf:\n%s", rc)
	}
	hosts := exec("cat", "/etc/hosts")
	if !strings.Contains(hosts, ip+"\t"+ct.ID[:12]) || !strings.Contains(hosts, "10.1.2.3\tsomehost") || !strings.Contains(hosts, "127.0.0.1\tlocalhost") {
		t.Fatalf("hosts:\n%s", hosts)
	}
	if out := exec("nslookup", "web", "127.0.0.11"); !strings.Contains(out, ip) {
		t.Fatalf("nslookup web:\n%s", out)
	}
	if _, err := eng.Stop(ctx, ct.ID, engine.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := eng.Inspect(ctx, ct.ID); len(got.Networks) != 0 {
		t.Fatalf("networks after stop: %+v", got.Networks)
	}
	if err := eng.Remove(ctx, ct.ID, engine.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := nets.Remove(ctx, netName); err != nil {
		t.Fatal(err)
	}
}
