package main

import (
	"strings"
	"testing"
)

const scaleCompose = `
services:
  a:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
  b:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    depends_on: [a]
  c:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
`

// TestLifecycleRootScale: `scale` converges the named services to their
// replica counts, starts their dependencies unless --no-deps, and leaves
// the other services alone, as docker compose's.
func TestLifecycleRootScale(t *testing.T) {
	l := newLifecycle(t, "scale")
	l.write(scaleCompose)
	name := func(svc string, n int) string { return l.project + "-" + svc + "-" + string(rune('0'+n)) }
	running := func(ids map[string]string, names ...string) {
		t.Helper()
		for _, n := range names {
			if !strings.HasSuffix(ids[n], "running") {
				t.Errorf("%s is not running: %v", n, ids)
			}
		}
	}

	// The dependency comes up with the scaled service; c is not touched.
	_, errs := l.must("scale", "b=3")
	ids := l.ids()
	running(ids, name("a", 1), name("b", 1), name("b", 2), name("b", 3))
	if len(ids) != 4 {
		t.Errorf("scale b=3: want a-1 and b-1..3, have %v\n%s", ids, errs)
	}

	// Down to one: the highest numbers go, a keeps its container.
	_, errs = l.must("scale", "b=1")
	after := l.ids()
	if len(after) != 2 || after[name("a", 1)] != ids[name("a", 1)] || after[name("b", 1)] != ids[name("b", 1)] {
		t.Errorf("scale b=1: %v -> %v\n%s", ids, after, errs)
	}

	// --no-deps: a stopped dependency stays stopped.
	l.must("stop", "a")
	l.must("scale", "--no-deps", "b=2", "c=2")
	after = l.ids()
	running(after, name("b", 1), name("b", 2), name("c", 1), name("c", 2))
	if strings.HasSuffix(after[name("a", 1)], "running") {
		t.Errorf("scale --no-deps started the dependency: %v", after)
	}

	for _, tc := range []struct{ arg, want string }{
		{"b", "invalid scale specifier: b"},
		{"b=x", "can't parse replica value as int: b=x"},
		{"nosuch=2", "no such service: nosuch"},
	} {
		if _, errs, code := l.run("scale", tc.arg); code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("scale %s: exit %d, want an error with %q:\n%s", tc.arg, code, tc.want, errs)
		}
	}
}
