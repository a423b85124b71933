package mount

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/testutil"
)

// inMountNS runs fn on a locked thread in a private mount namespace of its
// own (the thread is thrown away afterwards): the way the container init
// calls Mount, and test mounts never reach the host's namespace.
func inMountNS(t *testing.T, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestMountManyLayers mounts a 300-layer overlay through each technique.
func TestMountManyLayers(t *testing.T) {
	testutil.RequiresRoot(t)
	base := t.TempDir()
	var lowers []string
	for i := 300; i >= 1; i-- {
		d := filepath.Join(base, "snapshots", fmt.Sprintf("%d", i), "fs")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		lowers = append(lowers, d)
	}
	data := []string{"lowerdir=" + strings.Join(lowers, ":"),
		"upperdir=" + filepath.Join(base, "upper"), "workdir=" + filepath.Join(base, "work")}
	if len(strings.Join(data, ",")) < os.Getpagesize() {
		t.Fatalf("options too short for the test: %d bytes", len(strings.Join(data, ",")))
	}
	for name, fn := range map[string]func(target string) error{
		"auto": func(target string) error {
			return Mount{Type: "overlay", Source: "overlay", Options: data}.Mount(target)
		},
		"fsconfig": func(target string) error { return mountOverlayFsconfig(target, 0, data) },
		"compact":  func(target string) error { return mountOverlayCompact("overlay", target, 0, data) },
	} {
		t.Run(name, func(t *testing.T) {
			for _, d := range []string{"upper", "work", "m-" + name} {
				_ = os.RemoveAll(filepath.Join(base, d))
				if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			target := filepath.Join(base, "m-"+name)
			inMountNS(t, func() error {
				if err := fn(target); err != nil {
					return err
				}
				for _, f := range []string{"f1", "f150", "f300"} {
					if _, err := os.Stat(filepath.Join(target, f)); err != nil {
						return err
					}
				}
				return Unmount(target)
			})
		})
	}
}

func TestCommonDir(t *testing.T) {
	tests := []struct {
		paths []string
		want  string
	}{
		{[]string{"/a/b/1/fs", "/a/b/2/fs", "/a/b/upper"}, "/a/b"},
		{[]string{"/a/b/1/fs", "/a/b/1/fs"}, "/a/b/1"},
		{[]string{"/x/1", "/y/2"}, "/"},
		{[]string{"/a/bc/1", "/a/b/2"}, "/a"},
	}
	for _, tc := range tests {
		if got := commonDir(tc.paths); got != tc.want {
			t.Errorf("commonDir(%v) = %q, want %q", tc.paths, got, tc.want)
		}
	}
}

func TestParseOptions(t *testing.T) {
	flags, data := parseOptions([]string{"ro", "nosuid", "lowerdir=/a", "rw", "size=10m"})
	if flags != unix.MS_NOSUID || strings.Join(data, ",") != "lowerdir=/a,size=10m" {
		t.Fatalf("flags %x data %v", flags, data)
	}
}
