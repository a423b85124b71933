package main

import (
	"strings"
	"testing"
)

const commitCompose = `
services:
  app:
    image: 127.0.0.1:5000/busybox:1
    environment: {GREETING: hi}
    command: ["sh", "-c", "echo hello > /hello; rm /bin/ls; mkdir -p /opt/x; echo y > /opt/x/f; trap 'exit 0' TERM; sleep 3600 & wait"]
  check:
    image: berth-test/committed:1
    pull_policy: never
    profiles: [check]
`

// TestLifecycleRootCommit: commit makes an image of the container's image
// and its changes (added files, a deleted one as a whiteout) with its
// environment and the --change instructions; a container of the new image
// sees exactly that. The running container is paused meanwhile, and runs
// on after.
func TestLifecycleRootCommit(t *testing.T) {
	l := newLifecycle(t, "commit")
	l.write(commitCompose)
	l.must("up", "-d", "--wait", "app")
	l.must("exec", "-T", "app", "sh", "-c", "while [ ! -e /opt/x/f ]; do sleep 0.05; done")

	_, errs := l.must("commit", "-m", "first commit", "-a", "Berth Test <t@example.com>", "-c", "LABEL stage=one", "app", "berth-test/committed:1")
	if !strings.Contains(errs, "Committed as sha256:") {
		t.Errorf("commit: no %q in:\n%s", "Committed as sha256:", errs)
	}
	if got := l.ids()[l.project+"-app-1"]; !strings.HasSuffix(got, "running") {
		t.Errorf("after commit, app is %q, want running (unpaused)", got)
	}

	out, _ := l.must("run", "--rm", "-T", "check", "sh", "-c", "cat /hello /opt/x/f; test -e /bin/ls && echo ls-here || echo ls-gone; echo $GREETING; test -e /bin/sh && echo base-kept")
	for _, want := range []string{"hello", "y", "ls-gone", "hi", "base-kept"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("a container of the committed image: no %q in:\n%s", want, out)
		}
	}
	insp, _ := l.must("image", "inspect", "berth-test/committed:1")
	for _, want := range []string{"first commit", "Berth Test", `"stage": "one"`} {
		if !strings.Contains(insp, want) {
			t.Errorf("image inspect: no %q in:\n%s", want, insp)
		}
	}

	hist, _ := l.must("image", "history", "berth-test/committed:1")
	lines := strings.Split(strings.TrimSpace(hist), "\n")
	if len(lines) < 3 || !strings.Contains(lines[1], "berth commit") || !strings.Contains(lines[1], "first commit") ||
		strings.HasPrefix(lines[1], "<missing>") || !strings.HasPrefix(lines[2], "<missing>") {
		t.Errorf("image history: want the commit on top, with the image's ID, over the base's entries:\n%s", hist)
	}

	// A stopped container commits too.
	l.must("stop", "app")
	l.must("commit", "app", "berth-test/committed:2")
	if _, _, code := l.run("image", "inspect", "berth-test/committed:2"); code != 0 {
		t.Errorf("the second commit's image is missing")
	}
}
