package scheduler

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveIn: container paths stay inside the root whatever the
// symlinks on the way; the last one is followed only when asked.
func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	for _, l := range []struct{ name, target string }{
		{"esc", "../../../../../../tmp"},
		{"abs", "/etc"},
		{"link", "/made"},
	} {
		if err := os.Symlink(l.target, filepath.Join(root, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		path   string
		follow bool
		want   string
	}{
		{"/esc/x", false, "tmp/x"},
		{"esc/../../x", false, "x"},
		{"/abs/passwd", false, "etc/passwd"},
		{"/link", false, "link"},
		{"/link", true, "made"},
		{"/", false, ""},
	}
	for _, tc := range tests {
		got, err := resolveIn(root, tc.path, tc.follow)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(root, tc.want); got != want {
			t.Errorf("resolveIn(%q, follow=%v) = %q, want %q", tc.path, tc.follow, got, want)
		}
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
