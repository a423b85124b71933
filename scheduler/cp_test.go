package scheduler

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestResolveIn: container paths resolve inside the root whatever the
// symlinks on the way (absolute, or climbing above the root); the last one
// is followed only when asked, and a loop is an error.
func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"tmp", "etc"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "made"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct{ name, target string }{
		{"esc", "../../../../../../tmp"},
		{"abs", "/etc"},
		{"link", "/made"},
		{"chain", "esc/../link"},
		{"loop", "loop"},
	} {
		if err := os.Symlink(l.target, filepath.Join(root, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	rootDir, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer rootDir.Close()
	tests := []struct {
		path          string
		follow        bool
		dir, name, to string // dir: the host directory under root
	}{
		{"/esc/x", false, "tmp", "x", "/esc/x"},
		{"esc/../../x", false, "", "x", "/x"},
		{"/abs/passwd", false, "etc", "passwd", "/abs/passwd"},
		{"/link", false, "", "link", "/link"},
		{"/link", true, "", "made", "/made"},
		{"/esc", true, "", "tmp", "/tmp"},
		{"/chain", true, "", "made", "/made"},
		{"/", false, "", ".", "/"},
	}
	for _, tc := range tests {
		dir, name, to, err := resolveIn(rootDir, tc.path, tc.follow)
		if err != nil {
			t.Fatalf("resolveIn(%q, follow=%v): %v", tc.path, tc.follow, err)
		}
		var got, want unix.Stat_t
		if err := unix.Fstat(int(dir.Fd()), &got); err != nil {
			t.Fatal(err)
		}
		dir.Close()
		if err := unix.Stat(filepath.Join(root, tc.dir), &want); err != nil {
			t.Fatal(err)
		}
		if got.Ino != want.Ino || name != tc.name || to != tc.to {
			t.Errorf("resolveIn(%q, follow=%v) = (inode %d, %q, %q), want (%s inode %d, %q, %q)",
				tc.path, tc.follow, got.Ino, name, to, filepath.Join(root, tc.dir), want.Ino, tc.name, tc.to)
		}
	}
	if _, _, _, err := resolveIn(rootDir, "/loop", true); !errors.Is(err, unix.ELOOP) {
		t.Errorf("resolveIn(/loop): %v, want ELOOP", err)
	}
}

func TestHideRoot(t *testing.T) {
	root := t.TempDir()
	_, err := os.Open(filepath.Join(root, "no", "such"))
	err = hideRoot(err, root)
	if !errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), root) || !strings.Contains(err.Error(), "/no/such") {
		t.Errorf("hideRoot: %v", err)
	}
	if got := containerPathError(&missingPath{path: "/x", err: fs.ErrNotExist}, "app-a-1"); got.Error() != "Could not find the file /x in container app-a-1" {
		t.Errorf("missing path: %v", got)
	}
}
