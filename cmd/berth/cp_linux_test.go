package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cpCompose = `
services:
  a:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "echo made > /made; ln -sf /made /link; ln -sfn ../../../../../../../tmp /esc; trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: [data:/data]
  r:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    scale: 2
volumes:
  data: {}
`

// TestCpRootStoppedContainers: berth cp reads and writes the files of
// created and exited containers (their writable layer, their image and
// their volumes) as docker compose cp does, with the same path rules
// (symlinks kept unless -L, never leading out of the container), "-" tar
// streams, every replica as a target, and nothing left mounted.
func TestCpRootStoppedContainers(t *testing.T) {
	l := newLifecycle(t, "cp")
	l.write(cpCompose)
	host := t.TempDir()
	in := filepath.Join(host, "in.txt")
	if err := os.WriteFile(in, []byte("from host\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	a := l.project + "-a-1"

	// A created container: into its root filesystem and its volume.
	l.must("create")
	l.must("cp", in, "a:/in.txt")
	l.must("cp", in, "a:/data/")
	l.must("cp", in, "r:/r.txt") // every replica
	l.must("start")
	for _, p := range []string{"/in.txt", "/data/in.txt"} {
		if out, _ := l.must("exec", "-T", "a", "cat", p); out != "from host\n" {
			t.Errorf("%s after cp into the created container: %q", p, out)
		}
	}
	for _, idx := range []string{"1", "2"} {
		if out, _ := l.must("exec", "-T", "--index", idx, "r", "cat", "/r.txt"); out != "from host\n" {
			t.Errorf("r-%s: /r.txt %q", idx, out)
		}
	}
	l.must("exec", "-T", "a", "sh", "-c", "test -L /link && echo vol > /data/v")
	l.must("stop", "-t", "1")
	if st := l.ids()[a]; !strings.HasSuffix(st, "exited") {
		t.Fatalf("a is %q, want exited", st)
	}

	// An exited container: its writable layer, its image, its volume.
	for src, want := range map[string]string{"/made": "made\n", "/data/v": "vol\n", "/in.txt": "from host\n"} {
		dst := filepath.Join(host, "out-"+filepath.Base(src))
		l.must("cp", "a:"+src, dst)
		if b, err := os.ReadFile(dst); err != nil || string(b) != want {
			t.Errorf("cp a:%s: %q %v", src, b, err)
		}
	}
	l.must("cp", "a:/etc", filepath.Join(host, "etc"))
	if b, err := os.ReadFile(filepath.Join(host, "etc", "passwd")); err != nil || !strings.HasPrefix(string(b), "root:") {
		t.Errorf("cp a:/etc (image layer): %q %v", b, err)
	}

	// Symlinks: kept as links, followed with -L.
	l.must("cp", "a:/link", filepath.Join(host, "link"))
	if target, err := os.Readlink(filepath.Join(host, "link")); err != nil || target != "/made" {
		t.Errorf("cp a:/link: %q %v, want a link to /made", target, err)
	}
	l.must("cp", "-L", "a:/link", filepath.Join(host, "followed"))
	if b, err := os.ReadFile(filepath.Join(host, "followed")); err != nil || string(b) != "made\n" {
		t.Errorf("cp -L a:/link: %q %v", b, err)
	}

	// A symlink that climbs out resolves inside the container.
	escape := "berth-cp-escape-" + l.project
	l.must("cp", in, "a:/esc/"+escape)
	if _, err := os.Stat(filepath.Join("/tmp", escape)); err == nil {
		os.Remove(filepath.Join("/tmp", escape))
		t.Fatal("cp through a symlink wrote outside the container")
	}

	// Tar streams both ways.
	var stdout bytes.Buffer
	if code := l.runIO(strings.NewReader(""), &stdout, io.Discard, "cp", "a:/made", "-"); code != 0 {
		t.Fatalf("cp a:/made -: exit %d", code)
	}
	tr := tar.NewReader(&stdout)
	if hdr, err := tr.Next(); err != nil || hdr.Name != "made" {
		t.Errorf("tar from the exited container: %v %v", hdr, err)
	} else if b, _ := io.ReadAll(tr); string(b) != "made\n" {
		t.Errorf("tar content %q", b)
	}
	var stream bytes.Buffer
	tw := tar.NewWriter(&stream)
	_ = tw.WriteHeader(&tar.Header{Name: "t.txt", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("tar\n"))
	_ = tw.Close()
	if code := l.runIO(&stream, io.Discard, io.Discard, "cp", "-", "a:/tmp"); code != 0 {
		t.Fatalf("cp - a:/tmp: exit %d", code)
	}

	// A missing path: docker's message.
	_, errs, code := l.run("cp", "a:/nope", filepath.Join(host, "nope"))
	if code == 0 || !strings.Contains(errs, "Could not find the file /nope in container "+a) {
		t.Errorf("missing path: exit %d\n%s", code, errs)
	}

	_, errs, code = l.run("cp", in, "a:/no/such/dir/x")
	if code == 0 || strings.Contains(errs, l.root) || !strings.Contains(errs, "/no/such/dir/x") {
		t.Errorf("missing container directory: exit %d, want the container path and not berth's:\n%s", code, errs)
	}

	// Nothing of the copies stays mounted on the host. The calling
	// thread's mounts: /proc/self is the main thread's, and an exec may
	// have left the main thread in a container's namespaces (a locked
	// thread that setns'd; the Go runtime parks the main thread instead
	// of ending it).
	if b, err := os.ReadFile("/proc/thread-self/mountinfo"); err != nil || strings.Contains(string(b), l.root) {
		t.Errorf("mounts under the root after cp: %v\n%s", err, b)
	}

	// Started again, the container sees what was copied while it was
	// stopped; a running container is copied from as before.
	l.must("start", "a")
	for p, want := range map[string]string{"/tmp/t.txt": "tar\n", "/tmp/" + escape: "from host\n"} {
		if out, _ := l.must("exec", "-T", "a", "cat", p); out != want {
			t.Errorf("%s in the restarted container: %q, want %q", p, out, want)
		}
	}
	l.must("cp", "a:/made", filepath.Join(host, "running"))
	if b, err := os.ReadFile(filepath.Join(host, "running")); err != nil || string(b) != "made\n" {
		t.Errorf("cp from the running container: %q %v", b, err)
	}
}
