package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cpSymlinkCompose plants, once, symlinks that name a host directory
// (canary, an absolute path that exists on the host): absolute ones and
// relative ones that climb above the container's root. The container has
// a directory of the same path, with its own secret: what the links mean
// inside the container.
const cpSymlinkCompose = `
x-plant: &plant
  image: 127.0.0.1:5000/busybox:1
  command:
    - sh
    - -c
    - |
      if [ ! -e /app/ready ]; then
        set -e
        mkdir -p %[1]s /app/dir /app/rel /app/tar /app/lnk /app/real/dd
        echo container > %[1]s/secret
        echo container > /app/real/dd/secret
        echo real > /app/real/a2
        ln -s %[1]s/secret /app/lnk/a2
        ln -s %[1]s /app/lnk/dd
        ln -s %[1]s/secret /app/x
        ln -s %[1]s /app/d
        ln -s ../../../../../../..%[1]s /app/r
        ln -s %[1]s/secret /app/dir/x2
        ln -s %[1]s /app/dir/dd
        ln -s ../../../../../../..%[1]s/secret /app/rel/x2
        ln -s ../../../../../../..%[1]s /app/rel/dd
        ln -s %[1]s/secret /app/tar/x2
        ln -s %[1]s /app/tar/dd
        touch /app/ready
      fi
      trap 'exit 0' TERM; sleep 3600 & wait
services:
  run: *plant
  stopped: *plant
`

// canary is a host directory that symlinks in containers point at; it must
// never be read or written by cp.
type canary struct {
	t      *testing.T
	dir    string
	before map[string]string
}

func newCanary(t *testing.T) *canary {
	dir, err := os.MkdirTemp("/tmp", "berth-cp-canary-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &canary{t: t, dir: dir}
	c.before = c.snapshot()
	return c
}

// snapshot maps every entry under the canary to its content or link.
func (c *canary) snapshot() map[string]string {
	m := map[string]string{}
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			m[p] = "link " + l
			return err
		case d.IsDir():
			m[p] = "dir"
		default:
			b, err := os.ReadFile(p)
			m[p] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// check fails the test when what step did changed the canary.
func (c *canary) check(step string) {
	c.t.Helper()
	after := c.snapshot()
	for p, v := range after {
		if w, ok := c.before[p]; !ok {
			c.t.Errorf("%s: created %s on the host (%q)", step, p, v)
		} else if w != v {
			c.t.Errorf("%s: changed %s on the host: %q, was %q", step, p, v, w)
		}
	}
	for p := range c.before {
		if _, ok := after[p]; !ok {
			c.t.Errorf("%s: removed %s from the host", step, p)
		}
	}
	c.before = after
}

// tarOf is a tar stream of entries: a name ending in "/" is a directory,
// "name -> target" a symlink, anything else a file of content "name\n".
func tarOf(t *testing.T, entries ...string) *bytes.Buffer {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		var hdr *tar.Header
		body := ""
		if name, target, ok := strings.Cut(e, " -> "); ok {
			hdr = &tar.Header{Name: name, Linkname: target, Typeflag: tar.TypeSymlink, Mode: 0o777}
		} else if strings.HasSuffix(e, "/") {
			hdr = &tar.Header{Name: e, Typeflag: tar.TypeDir, Mode: 0o755}
		} else {
			body = e + "\n"
			hdr = &tar.Header{Name: e, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &b
}

// waitReady waits until service's container has planted its links.
func (l *lifecycle) waitReady(service string) {
	l.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, _, code := l.run("exec", "-T", service, "test", "-e", "/app/ready"); code == 0 {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s did not plant its links in 20 s", service)
		}
	}
}

// TestCpRootSymlinksStayInContainer: symlinks a container plants (absolute,
// or relative climbing above its root; as the last component or on the
// way) are resolved inside the container by every kind of cp, in both
// directions, for a running and for a stopped container: the host files
// they name are never read or written; files written into the container
// replace a symlink in their way instead of following it, as docker's
// extraction does; a destination named on the command line is resolved
// inside the container, as docker compose cp resolves it.
func TestCpRootSymlinksStayInContainer(t *testing.T) {
	l := newLifecycle(t, "cpln")
	can := newCanary(t)
	C := can.dir
	l.write(fmt.Sprintf(cpSymlinkCompose, C))
	host := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(host, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("file", "from host\n")
	for _, d := range []string{"dir", "rel"} {
		write(d+"/x2", "from host\n")
		if err := os.Chown(filepath.Join(host, d, "x2"), 1234, 1234); err != nil {
			t.Fatal(err)
		}
	}
	write("dd/new", "from host\n")
	write("more/m", "more\n")

	l.must("up", "-d")
	l.waitReady("run")
	l.waitReady("stopped")
	l.must("stop", "-t", "1", "stopped")

	fails := func(step string, args ...string) {
		t.Helper()
		if _, _, code := l.run(args...); code == 0 {
			t.Errorf("%s: succeeded, want an error", step)
		}
	}
	for _, svc := range []string{"run", "stopped"} {
		out := filepath.Join(host, "out-"+svc)
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		step := func(name string) string { return svc + ": " + name }
		read := func(name, want string) {
			t.Helper()
			if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != want {
				t.Errorf("%s: %q %v, want %q", step("read "+name), b, err, want)
			}
		}

		// Out of the container: a link is copied as a link; followed (-L)
		// or on the way, it means the container's file.
		l.must("cp", svc+":/app/x", filepath.Join(out, "x"))
		if target, err := os.Readlink(filepath.Join(out, "x")); err != nil || target != C+"/secret" {
			t.Errorf("%s: %q %v, want a link to %s", step("cp /app/x"), target, err, C+"/secret")
		}
		can.check(step("cp /app/x"))
		l.must("cp", "-L", svc+":/app/x", filepath.Join(out, "xl"))
		read("xl", "container\n")
		l.must("cp", svc+":/app/d/secret", filepath.Join(out, "ds"))
		read("ds", "container\n")
		l.must("cp", svc+":/app/r/secret", filepath.Join(out, "rs"))
		read("rs", "container\n")
		l.must("cp", "-L", svc+":/app/d", filepath.Join(out, "dl"))
		read("dl/secret", "container\n")
		l.must("cp", "-L", svc+":/app/r", filepath.Join(out, "rl"))
		read("rl/secret", "container\n")
		for _, src := range []string{"/app/x", "/app/d/secret", "/app/r/secret"} {
			var stdout bytes.Buffer
			if code := l.runIO(strings.NewReader(""), &stdout, io.Discard, "cp", "-L", svc+":"+src, "-"); code != 0 {
				t.Errorf("%s: exit %d", step("cp -L "+src+" -"), code)
				continue
			}
			tr := tar.NewReader(&stdout)
			if _, err := tr.Next(); err != nil {
				t.Errorf("%s: %v", step("cp -L "+src+" -"), err)
			} else if b, _ := io.ReadAll(tr); string(b) != "container\n" {
				t.Errorf("%s: %q, want the container's file", step("cp -L "+src+" -"), b)
			}
		}
		can.check(step("copies out"))

		// Copied out twice, a tree whose links became a file and a
		// directory: the file replaces the host link (never written
		// through), the directory is refused, as docker refuses it.
		l.must("cp", svc+":/app/lnk", filepath.Join(out, "real"))
		if target, err := os.Readlink(filepath.Join(out, "real", "dd")); err != nil || target != C {
			t.Errorf("%s: real/dd %q %v, want a link to %s", step("cp /app/lnk"), target, err, C)
		}
		fails(step("cp /app/real over links"), "cp", svc+":/app/real", out)
		read("real/a2", "real\n")
		can.check(step("cp /app/real over links"))

		// Into the container: the destination named resolves inside the
		// container; a file written under it replaces a link, a directory
		// is refused.
		l.must("cp", filepath.Join(host, "file"), svc+":/app/d/")
		can.check(step("cp file /app/d/"))
		l.must("cp", filepath.Join(host, "file"), svc+":/app/r/rfile")
		can.check(step("cp file /app/r/rfile"))
		l.must("cp", filepath.Join(host, "dir"), svc+":/app")
		can.check(step("cp dir /app"))
		l.must("cp", "-a", filepath.Join(host, "rel"), svc+":/app/")
		can.check(step("cp -a rel /app/"))
		fails(step("cp dd /app/dir/"), "cp", filepath.Join(host, "dd"), svc+":/app/dir/")
		fails(step("cp dd /app/rel"), "cp", filepath.Join(host, "dd"), svc+":/app/rel")
		can.check(step("cp dd over links"))
		stream := tarOf(t, "tar/x2", "tar/dd/tnew", "tar/l -> "+C, "tar/l/pwn")
		if code := l.runIO(stream, io.Discard, io.Discard, "cp", "-", svc+":/app"); code != 0 {
			t.Errorf("%s: exit %d", step("cp - /app"), code)
		}
		can.check(step("cp - /app"))
		for _, entries := range [][]string{{"tar/dd/"}, {"../../../../../../.." + C + "/escape"}} {
			if code := l.runIO(tarOf(t, entries...), io.Discard, io.Discard, "cp", "-", svc+":/app"); code == 0 {
				t.Errorf("%s: %q accepted, want an error", step("cp - /app"), entries)
			}
			can.check(step(fmt.Sprintf("cp - /app %q", entries)))
		}
		l.must("cp", filepath.Join(host, "file"), svc+":/app/x")
		can.check(step("cp file /app/x"))

		// Plain copies, with docker's path forms: "dir/" is dir, "dir/."
		// its content.
		l.must("cp", filepath.Join(host, "dd")+"/", svc+":/app/plain")
		l.must("cp", filepath.Join(host, "more")+"/.", svc+":/app/plain")
		l.must("cp", svc+":/app/plain/.", filepath.Join(out, "plain"))
		read("plain/new", "from host\n")
		read("plain/m", "more\n")
		l.must("cp", svc+":/app/plain", out+"/")
		read("plain/new", "from host\n")
		can.check(step("plain copies"))
	}

	// What the containers see: links replaced by the copied files, links
	// left where a directory was refused, and the destinations named
	// resolved to the container's own directory.
	l.must("start", "stopped")
	l.waitReady("stopped")
	const check = `
for d in dir rel tar; do
  [ -f /app/$d/x2 ] && [ ! -L /app/$d/x2 ] && echo "$d/x2 $(cat /app/$d/x2)"
  [ -L /app/$d/dd ] && echo "$d/dd link"
done
[ -L /app/x ] && [ -L /app/d ] && [ -L /app/r ] && [ -L /app/tar/l ] && echo links kept
ls %[1]s | tr '\n' ' '; echo
cat %[1]s/secret %[1]s/file %[1]s/rfile %[1]s/tnew %[1]s/pwn /app/plain/new /app/plain/m
stat -c %%u:%%g /app/dir/x2 /app/rel/x2
`
	want := "dir/x2 from host\ndir/dd link\nrel/x2 from host\nrel/dd link\ntar/x2 tar/x2\ntar/dd link\n" +
		"links kept\nfile pwn rfile secret tnew \n" +
		"from host\nfrom host\nfrom host\ntar/dd/tnew\ntar/l/pwn\nfrom host\nmore\n0:0\n1234:1234\n"
	for _, svc := range []string{"run", "stopped"} {
		if got, _ := l.must("exec", "-T", svc, "sh", "-c", fmt.Sprintf(check, C)); got != want {
			t.Errorf("%s after the copies:\n%s\nwant:\n%s", svc, got, want)
		}
	}
	can.check("end")
	// The calling thread's mounts, as TestCpRootStoppedContainers reads them.
	if b, err := os.ReadFile("/proc/thread-self/mountinfo"); err != nil || strings.Contains(string(b), l.root) {
		t.Errorf("mounts under the root after cp: %v", err)
	}
}

// cpRaceCompose swaps /app/race between a directory and a symlink to the
// host's canary directory, as fast as it can: the attack of
// CVE-2018-15664 on a path checked before it is used.
const cpRaceCompose = `
services:
  race:
    image: 127.0.0.1:5000/busybox:1
    command:
      - sh
      - -c
      - |
        mkdir -p %[1]s /app/race.d && echo container > %[1]s/secret && echo container > /app/race.d/secret
        touch /app/ready
        while :; do
          mv /app/race.d /app/race; mv /app/race /app/race.d
          ln -s %[1]s /app/race; rm /app/race
        done
`

// TestCpRootSymlinkRace: a container swapping a directory for a symlink to
// a host directory while cp reads and writes through it gets neither the
// host's file nor a file written on the host.
func TestCpRootSymlinkRace(t *testing.T) {
	l := newLifecycle(t, "cprace")
	can := newCanary(t)
	l.write(fmt.Sprintf(cpRaceCompose, can.dir))
	host := t.TempDir()
	in := filepath.Join(host, "in")
	if err := os.WriteFile(in, []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l.must("up", "-d")
	l.waitReady("race")
	out := filepath.Join(host, "out")
	copied := 0
	for i := range 300 {
		os.Remove(out)
		if _, _, code := l.run("cp", "race:/app/race/secret", out); code == 0 {
			copied++
			if b, err := os.ReadFile(out); err != nil || string(b) != "container\n" {
				t.Fatalf("read %d through the swapped directory: %q %v, want the container's file", i, b, err)
			}
		}
		l.run("cp", in, "race:/app/race/new")
		if _, err := os.Lstat(filepath.Join(can.dir, "new")); err == nil {
			t.Fatalf("write %d through the swapped directory created %s on the host", i, filepath.Join(can.dir, "new"))
		}
	}
	can.check("race")
	t.Logf("%d of 300 reads copied the container's file (the others met the path missing)", copied)
}
