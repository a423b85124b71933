package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/engine/mount"
	"golang.org/x/sys/unix"
)

func TestLinuxReadonlyAndTmpfs(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	in := spec(t, "sh", "-c", `touch /x 2>&1; touch /run/ok && echo RUN_OK; grep ' /run ' /proc/self/mounts; touch /dev/shm/ok && echo SHM_OK; pwd`)
	in.ReadOnly = true
	in.ShmSize = 8 << 20
	in.Cwd = "/work/dir" // created although the root is read-only
	in.Mounts = []Mount{{Type: "tmpfs", Target: "/run", Options: []string{"size=1m"}}}
	out, code := run(t, build(t, in))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"Read-only file system", "RUN_OK", "tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k", "SHM_OK", "/work/dir"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _ = run(t, build(t, func() SpecInput {
		in := spec(t, "grep", " /dev/shm ", "/proc/self/mounts")
		in.ShmSize = 8 << 20
		return in
	}()))
	if !strings.Contains(out, "size=8192k") {
		t.Errorf("shm_size: %s", out)
	}
}

func TestLinuxBindsAndFiles(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "hello"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost ctr\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := spec(t, "sh", "-c", `cat /data/hello /etc/hosts; echo new > /data/new; echo x > /ro/y; grep -E ' /(data|ro|etc/hosts) ' /proc/self/mounts | cut -d' ' -f2,4`)
	in.Mounts = []Mount{
		{Type: "bind", Source: vol, Target: "/data"},
		{Type: "bind", Source: vol, Target: "/ro", Options: []string{"ro"}},
	}
	in.Files = []Mount{{Type: "bind", Source: hosts, Target: "/etc/hosts"}}
	out, _ := run(t, build(t, in))
	for _, want := range []string{"from host", "127.0.0.1 localhost ctr", "Read-only file system", "/data rw", "/ro ro", "/etc/hosts rw"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(vol, "new")); err != nil || string(b) != "new\n" {
		t.Errorf("write through the bind: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(busyboxRootfs(t), "etc/hosts")); err == nil {
		// The mount point was created in the image; it must stay empty.
		if b, _ := os.ReadFile(filepath.Join(busyboxRootfs(t), "etc/hosts")); len(b) != 0 {
			t.Errorf("the image's /etc/hosts was written: %q", b)
		}
	}
}

// imageRootfs is a container rootfs with extra content over the busybox
// fixture (an overlay, as the snapshotter makes one), prepared by fn.
func imageRootfs(t *testing.T, fn func(layer string)) ([]mount.Mount, string) {
	t.Helper()
	dir := t.TempDir()
	layer, upper, work := filepath.Join(dir, "layer"), filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{layer, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fn(layer)
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + layer + ":" + busyboxRootfs(t), "upperdir=" + upper, "workdir=" + work,
	}}}, layer
}

func TestLinuxSymlinkEscapeRefused(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	outside := t.TempDir() // a host directory a naive join would reach
	rootfs, _ := imageRootfs(t, func(layer string) {
		rel, _ := filepath.Rel(filepath.Join(layer, "x"), outside)
		must(t, os.Mkdir(filepath.Join(layer, "x"), 0o755))
		must(t, os.Symlink(rel, filepath.Join(layer, "x/escape")))
		must(t, os.Symlink("../../../../../../../../../..", filepath.Join(layer, "up")))
		must(t, os.Symlink(outside, filepath.Join(layer, "abs")))
	})
	vol := t.TempDir()
	for _, target := range []string{"/x/escape/vol", "/up/tmp/vol"} {
		in := spec(t, "true")
		in.Rootfs = rootfs
		in.Mounts = []Mount{{Type: "bind", Source: vol, Target: target}}
		_, _, err := tryRun(t, build(t, in))
		if err == nil || !strings.Contains(err.Error(), "leaves the container's root filesystem") {
			t.Fatalf("target %s: err = %v, want a refusal", target, err)
		}
	}
	// An absolute symlink is followed inside the root, as docker does.
	in := spec(t, "sh", "-c", "ls -d "+outside+"/vol")
	in.Rootfs = rootfs
	in.Mounts = []Mount{{Type: "bind", Source: vol, Target: "/abs/vol"}}
	out, code := run(t, build(t, in))
	if code != 0 {
		t.Fatalf("absolute symlink target: exit %d: %s", code, out)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("a mount point was made outside the root: %v", entries)
	}
	// Mounting over /proc is refused.
	in = spec(t, "true")
	in.Mounts = []Mount{{Type: "bind", Source: vol, Target: "/proc/sys"}}
	if _, _, err := tryRun(t, build(t, in)); err == nil || !strings.Contains(err.Error(), "mounting over /proc/sys is not allowed") {
		t.Fatalf("/proc target: err = %v", err)
	}
}

func TestLinuxCopyUp(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	rootfs, _ := imageRootfs(t, func(layer string) {
		data := filepath.Join(layer, "var/lib/app")
		must(t, os.MkdirAll(filepath.Join(data, "sub"), 0o755))
		must(t, os.WriteFile(filepath.Join(data, "conf"), []byte("image content\n"), 0o640))
		must(t, os.Chown(filepath.Join(data, "conf"), 1000, 2000))
		must(t, os.WriteFile(filepath.Join(data, "sub/tool"), []byte("#!/bin/sh\n"), 0o755))
		must(t, os.Chown(filepath.Join(data, "sub/tool"), 1000, 1000))
		must(t, unix.Chmod(filepath.Join(data, "sub/tool"), 0o4755))
		must(t, os.Symlink("conf", filepath.Join(data, "link")))
		must(t, os.Link(filepath.Join(data, "conf"), filepath.Join(data, "hard")))
		must(t, unix.Setxattr(filepath.Join(data, "conf"), "user.berth", []byte("kept"), 0))
		must(t, os.Chown(data, 1000, 1000))
		must(t, os.Chmod(data, 0o750))
	})
	vol := t.TempDir()
	in := spec(t, "cat", "/var/lib/app/conf")
	in.Rootfs = rootfs
	in.Mounts = []Mount{{Type: "bind", Source: vol, Target: "/var/lib/app", CopyUp: true}}
	out, code := run(t, build(t, in))
	if code != 0 || out != "image content\n" {
		t.Fatalf("exit %d: %q", code, out)
	}
	check := func(rel string, uid, gid uint32, mode uint32) {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(vol, rel), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != uid || st.Gid != gid || st.Mode&0o7777 != mode {
			t.Errorf("%s: %d:%d %o, want %d:%d %o", rel, st.Uid, st.Gid, st.Mode&0o7777, uid, gid, mode)
		}
	}
	check(".", 1000, 1000, 0o750)
	check("conf", 1000, 2000, 0o640)
	check("sub/tool", 1000, 1000, 0o4755)
	check("sub", 0, 0, 0o755)
	if l, err := os.Readlink(filepath.Join(vol, "link")); err != nil || l != "conf" {
		t.Errorf("symlink: %q %v", l, err)
	}
	var a, b unix.Stat_t
	if unix.Stat(filepath.Join(vol, "conf"), &a) != nil || unix.Stat(filepath.Join(vol, "hard"), &b) != nil || a.Ino != b.Ino {
		t.Errorf("hard link not kept")
	}
	buf := make([]byte, 16)
	if n, err := unix.Getxattr(filepath.Join(vol, "conf"), "user.berth", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("xattr: %q %v", buf[:n], err)
	}

	// A volume with a filesystem of its own (driver_opts type=…) gets the
	// copy inside the new mount.
	fsIn := spec(t, "sh", "-c", "cat /var/lib/app/conf; ls -ln /var/lib/app/conf | awk '{print $3\":\"$4}'; grep ' /var/lib/app ' /proc/self/mounts | cut -d' ' -f3")
	fsIn.Rootfs = rootfs
	fsIn.Mounts = []Mount{{Type: "ramfs", Source: "ramfs", Target: "/var/lib/app", CopyUp: true}}
	out, code = run(t, build(t, fsIn))
	if code != 0 || out != "image content\n1000:2000\nramfs\n" {
		t.Fatalf("ramfs volume: exit %d: %q", code, out)
	}

	// A volume that is not empty is left as it is.
	must(t, os.WriteFile(filepath.Join(vol, "conf"), []byte("changed\n"), 0o640))
	out, _ = run(t, build(t, in))
	if out != "changed\n" {
		t.Fatalf("second start copied again: %q", out)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
