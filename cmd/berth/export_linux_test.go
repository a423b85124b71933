package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"
)

const exportCompose = `
services:
  app:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "echo changed > /made-here; echo kept > /data/in-volume; trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: [data:/data]
    tmpfs: [/scratch]
volumes:
  data:
`

// tarEntries reads a tar stream into name -> content (directories end in /).
func tarEntries(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[hdr.Name] = string(b)
	}
}

// TestLifecycleRootExport: export gives the container's file system (the
// image's files and the container's changes) without what is mounted in
// it, from a running container and from a stopped one, on stdout or
// atomically in a file; never on a terminal.
func TestLifecycleRootExport(t *testing.T) {
	l := newLifecycle(t, "exp")
	l.write(exportCompose)
	l.must("up", "-d", "--wait")
	check := func(what string, got map[string]string) {
		t.Helper()
		if got["made-here"] != "changed\n" {
			t.Errorf("%s: the container's own file: %q", what, got["made-here"])
		}
		if _, ok := got["bin/busybox"]; !ok {
			t.Errorf("%s: no image file bin/busybox among %d entries", what, len(got))
		}
		for _, mp := range []string{"data/", "scratch/", "proc/", "dev/"} {
			if _, ok := got[mp]; !ok {
				t.Errorf("%s: mount point %s missing", what, mp)
			}
		}
		for name := range got {
			for _, under := range []string{"data/", "scratch/", "proc/", "sys/", "dev/"} {
				if strings.HasPrefix(name, under) && name != under {
					t.Errorf("%s: %s is mounted in the container, not part of its file system", what, name)
				}
			}
		}
	}
	var out bytes.Buffer
	if code := l.runIO(strings.NewReader(""), &out, io.Discard, "export", "app"); code != 0 {
		t.Fatalf("export of the running container: exit %d", code)
	}
	check("running", tarEntries(t, &out))

	l.must("stop", "app")
	file := filepath.Join(t.TempDir(), "app.tar")
	l.must("export", "-o", file, "app")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode %v, want 0600", fi.Mode().Perm())
	}
	check("stopped", tarEntries(t, f))
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".app.tar.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	ptm, pts, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	defer pts.Close()
	var errs bytes.Buffer
	if code := l.runIO(strings.NewReader(""), pts, &errs, "export", "app"); code == 0 || !strings.Contains(errs.String(), "-o FILE") {
		t.Errorf("export to a terminal: exit %d: %s", code, errs.String())
	}
}
