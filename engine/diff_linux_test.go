package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/containerd/errdefs"
)

// TestDiff: a container's changes as an OCI layer: added files, a
// whiteout for a deleted file, an opaque directory for one deleted and
// made again, and not berth's own mount points; the container runs on,
// unpaused.
func TestDiff(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	c := te.run(te.spec("box", "sh", "-c",
		"echo new > /new; rm /bin/ls; mkdir /d; echo f > /d/f; rm -rf /var; mkdir /var; echo x > /var/only; touch /ready; sleep 1000"))
	for {
		code, err := te.Exec(ctx, c.ID, ExecOptions{Cmd: []string{"test", "-e", "/ready"}})
		if err != nil {
			t.Fatal(err)
		}
		if code == 0 {
			break
		}
	}
	var layer bytes.Buffer
	err := te.Diff(ctx, c.ID, &layer, DiffOptions{Pause: true})
	if errdefs.IsNotImplemented(err) {
		t.Skipf("no overlay root here: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(&layer)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[hdr.Name] = string(b)
	}
	for name, want := range map[string]string{"new": "new\n", "bin/.wh.ls": "", "d/": "", "d/f": "f\n",
		"var/": "", "var/.wh..wh..opq": "", "var/only": "x\n", "ready": ""} {
		if have, ok := got[name]; !ok || have != want {
			t.Errorf("entry %q: %q (present %v), want %q; entries: %v", name, have, ok, want, keys(got))
		}
	}
	// Unchanged image files are not in it, nor the mount points berth's
	// init makes (docker's init layer).
	for _, name := range []string{"bin/busybox", "etc/passwd", "etc/hosts", "etc/hostname", "etc/resolv.conf", "proc/", "sys/", "dev/"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s is in the diff: %v", name, keys(got))
		}
	}
	if st := te.waitFor(c.ID, "running", func(c *Container) bool { return c.State.Running }); st.State.Paused {
		t.Errorf("the container stayed paused after the diff")
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
