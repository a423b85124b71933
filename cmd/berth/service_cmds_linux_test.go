package main

import (
	"strings"
	"testing"
)

// TestLifecycleRootServiceCommands: top, pause/unpause, restart with the
// dependents that ask for it (depends_on restart: true) and without them
// (--no-deps), kill -s, stop — on real containers, each checked through
// the containers' states and start times.
func TestLifecycleRootServiceCommands(t *testing.T) {
	l := newLifecycle(t, "svccmd")
	l.write(`
services:
  db:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
  api:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    depends_on:
      db: {condition: service_started, restart: true}
  web:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    depends_on:
      api: {condition: service_started}
`)
	l.must("up", "-d")
	name := func(svc string) string { return l.project + "-" + svc + "-1" }
	started := func() map[string]string {
		out, _ := l.must("ps", "-a", "--format", "{{.Service}} {{.State}}")
		m := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				at, _ := l.must("container", "inspect", "--format", "{{.State.StartedAt}}", name(f[0]))
				m[f[0]] = f[1] + " " + strings.TrimSpace(at)
			}
		}
		return m
	}

	if out, _ := l.must("top", "db"); !strings.Contains(out, name("db")) || !strings.Contains(out, "sleep 3600") || !strings.Contains(out, "PID") {
		t.Errorf("top db:\n%s", out)
	}
	l.must("pause", "api")
	if s := started()["api"]; !strings.HasPrefix(s, "paused ") {
		t.Fatalf("after pause api: %s", s)
	}
	l.must("unpause", "api")
	before := started()
	if !strings.HasPrefix(before["api"], "running ") {
		t.Fatalf("after unpause api: %s", before["api"])
	}

	// api depends on db with restart: true, web on api without.
	_, errs := l.must("restart", "db")
	after := started()
	for svc, restarted := range map[string]bool{"db": true, "api": true, "web": false} {
		if (after[svc] != before[svc]) != restarted || !strings.HasPrefix(after[svc], "running ") {
			t.Errorf("restart db: %s %q -> %q (restarted: want %v)\n%s", svc, before[svc], after[svc], restarted, errs)
		}
	}
	l.must("restart", "--no-deps", "db")
	again := started()
	if again["db"] == after["db"] || again["api"] != after["api"] {
		t.Errorf("restart --no-deps db: db %q -> %q, api %q -> %q", after["db"], again["db"], after["api"], again["api"])
	}

	l.must("kill", "-s", "SIGKILL", "web")
	// kill returns once the signal is sent (as docker compose's); wait
	// prints the exit code.
	if out, _, _ := l.run("wait", "web"); strings.TrimSpace(out) != "137" {
		t.Errorf("after kill -s SIGKILL web: wait says %q", out)
	}
	l.must("stop")
	for svc, s := range started() {
		if !strings.HasPrefix(s, "exited ") {
			t.Errorf("after stop: %s is %s", svc, s)
		}
	}
}
