package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// fuzzSeeds are hostile and ordinary layers; the corpus in
// testdata/fuzz/FuzzUnpack is written from them (BERTH_UPDATE_FUZZ=1).
func fuzzSeeds(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"ordinary":        layerTar(t, dir("etc/"), file("etc/a", "a"), symlink("lnk", "/etc/a"), hardlink("h", "etc/a")),
		"whiteouts":       layerTar(t, whiteout("etc/.wh.a"), whiteout("etc/.wh..wh..opq"), whiteout(".wh.gone")),
		"dotdot":          layerTar(t, file("../escape", "x"), file("a/../../b", "x")),
		"symlink-abs":     layerTar(t, symlink("evil", "/"), file("evil/tmp/pwned", "x")),
		"symlink-rel":     layerTar(t, symlink("evil", "../../../.."), file("evil/pwned", "x")),
		"symlink-parent":  layerTar(t, file("up/pwned", "x"), file("abs/pwned", "x")),
		"hardlink-out":    layerTar(t, hardlink("h", "../../../etc/passwd")),
		"hardlink-link":   layerTar(t, symlink("s", "/etc"), hardlink("h", "s/passwd")),
		"whiteout-dotdot": layerTar(t, dir("a/"), whiteout("a/.wh..."), whiteout("a/.wh.."), whiteout(".wh.")),
		"dev":             layerTar(t, entry{name: "null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3}),
		"dir-over-link":   layerTar(t, symlink("d", "/tmp"), dir("d/"), file("d/x", "x")),
		"overlay-xattr":   layerTar(t, entry{name: "o/", typ: tar.TypeDir, mode: 0o755, xattrs: map[string]string{"trusted.overlay.redirect": "/etc"}}),
	}
}

// TestWriteFuzzSeeds regenerates the seed corpus when BERTH_UPDATE_FUZZ=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("BERTH_UPDATE_FUZZ") == "" {
		t.Skip("set BERTH_UPDATE_FUZZ=1 to rewrite testdata/fuzz/FuzzUnpack")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzUnpack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range fuzzSeeds(t) {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshotTree lists every path under root with its type and size, to
// compare before and after an unpack.
func snapshotTree(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %v %d", p, fi.Mode(), fi.Size()))
		return nil
	})
	return out, err
}

// FuzzUnpack feeds arbitrary tar streams to the unpacker over a parent
// layer holding symbolic links out of the sandbox: it must never panic and
// never write outside the layer directory.
func FuzzUnpack(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sandbox := t.TempDir()
		outside := filepath.Join(sandbox, "outside")
		parent := filepath.Join(sandbox, "parent")
		layer := filepath.Join(sandbox, "layer")
		for _, d := range []string{outside, parent, layer} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(outside, "canary"), []byte("canary"), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = os.Symlink("../outside", filepath.Join(parent, "up"))
		_ = os.Symlink(outside, filepath.Join(parent, "abs"))
		before, err := snapshotTree(outside)
		if err != nil {
			t.Fatal(err)
		}
		parentBefore, _ := snapshotTree(parent)
		above, _ := os.ReadDir(filepath.Dir(sandbox))

		for _, format := range []string{FormatOverlay, FormatList} {
			if format == FormatOverlay && os.Geteuid() != 0 {
				continue
			}
			_ = removeAll(layer)
			_ = os.Mkdir(layer, 0o755)
			info := Info{Format: format}
			_, err := unpack(context.Background(), layer, bytes.NewReader(data), []string{parent}, &info,
				ApplyOptions{Image: "fuzz", Layer: "sha256:fuzz"})
			var ee *EntryError
			if errors.As(err, &ee) && ee.Image != "fuzz" {
				t.Fatalf("entry error without the image: %v", err)
			}
		}

		after, err := snapshotTree(outside)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(before, after) {
			t.Fatalf("written outside the layer:\nbefore %v\nafter  %v", before, after)
		}
		if b, _ := os.ReadFile(filepath.Join(outside, "canary")); string(b) != "canary" {
			t.Fatal("canary changed")
		}
		if parentAfter, _ := snapshotTree(parent); !slices.Equal(parentBefore, parentAfter) {
			t.Fatalf("the parent layer changed:\n%v\n%v", parentBefore, parentAfter)
		}
		top, _ := os.ReadDir(sandbox)
		if len(top) != 3 {
			t.Fatalf("written into the sandbox: %v", top)
		}
		if now, _ := os.ReadDir(filepath.Dir(sandbox)); len(now) != len(above) {
			t.Fatalf("written next to the sandbox: %v", now)
		}
		_ = removeAll(layer)
	})
}
