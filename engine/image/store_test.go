package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berthdev/berth/engine/testutil"
)

// tarDir archives a directory (for OCI layouts written by ggcr).
func tarDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = tw.Close()
	return buf.Bytes()
}

// tarEntries lists a tarball's file names and reads manifest.json.
func tarEntries(t *testing.T, data []byte) ([]string, []saveManifest) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	var m []saveManifest
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "manifest.json" {
			if err := json.NewDecoder(tr).Decode(&m); err != nil {
				t.Fatal(err)
			}
		}
	}
	return names, m
}

func TestSaveLoadRoundTrip(t *testing.T) {
	reg := newTestRegistry(t)
	img := testImage(t, false, v1.Config{Cmd: []string{"run"}, Env: []string{"K=v"}}, "linux/amd64",
		makeLayer(t, gzipDocker, tarOf(t, "etc/", "", "etc/a", "1")), makeLayer(t, zstdOCI, tarOf(t, "etc/b", "2")))
	reg.push(t, "app/round:1", img)
	ctx := context.Background()
	a := newTestStore(t, Options{})
	orig, err := a.Pull(ctx, reg.host+"/app/round:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := a.Save(ctx, []string{reg.host + "/app/round:1"}, &buf); err != nil {
		t.Fatal(err)
	}
	names, manifests := tarEntries(t, buf.Bytes())
	for _, want := range []string{"manifest.json", "index.json", "oci-layout", "repositories", "blobs/sha256/" + strings.TrimPrefix(orig.ID, "sha256:")} {
		if !slices.Contains(names, want) {
			t.Fatalf("saved archive lacks %s: %v", want, names)
		}
	}
	if len(manifests) != 1 || !slices.Equal(manifests[0].RepoTags, []string{reg.host + "/app/round:1"}) || len(manifests[0].Layers) != 2 {
		t.Fatalf("manifest.json = %+v", manifests)
	}

	b := newTestStore(t, Options{})
	lines, err := b.Load(ctx, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lines, []string{"Loaded image: " + reg.host + "/app/round:1"}) {
		t.Fatalf("load lines %v", lines)
	}
	got, err := b.Get(ctx, reg.host+"/app/round:1")
	if err != nil || got.ID != orig.ID || !slices.Equal(got.ChainIDs, orig.ChainIDs) || !slices.Equal(got.Config.Cmd, []string{"run"}) {
		t.Fatalf("loaded %+v, %v; want %+v", got, err, orig)
	}
	if snapshotFile(t, b, got, "etc/b") != "2" {
		t.Fatal("loaded layer content")
	}

	// go-containerregistry's tarball (docker save's legacy layout), gzipped.
	ref, _ := name.ParseReference("example.com/legacy:2")
	var legacy bytes.Buffer
	zw := gzip.NewWriter(&legacy)
	if err := tarball.Write(ref, img, zw); err != nil {
		t.Fatal(err)
	}
	_ = zw.Close()
	c := newTestStore(t, Options{})
	lines, err = c.Load(ctx, &legacy)
	if err != nil || !slices.Equal(lines, []string{"Loaded image: example.com/legacy:2"}) {
		t.Fatalf("legacy load: %v %v", lines, err)
	}
	if got, err := c.Get(ctx, "example.com/legacy:2"); err != nil || got.ID != orig.ID {
		t.Fatalf("legacy image: %v %v", got, err)
	}

	// An OCI layout archive named by annotation.
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{annotationRefName: "example.com/oci:3"})); err != nil {
		t.Fatal(err)
	}
	d := newTestStore(t, Options{})
	lines, err = d.Load(ctx, bytes.NewReader(tarDir(t, dir)))
	if err != nil || !slices.Equal(lines, []string{"Loaded image: example.com/oci:3"}) {
		t.Fatalf("OCI load: %v %v", lines, err)
	}

	if _, err := d.Load(ctx, strings.NewReader("not a tar")); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("garbage load: %v", err)
	}
}

// TestLoadDockerLegacyLayout: the classic docker save layout with
// uncompressed <id>/layer.tar files, a duplicate layer as a symlink.
func TestLoadDockerLegacyLayout(t *testing.T) {
	l1 := tarOf(t, "f", "same")
	diff := digestBytes(l1)
	config := []byte(`{"architecture":"amd64","os":"linux","config":{"Cmd":["x"]},"rootfs":{"type":"layers","diff_ids":["` + diff + `","` + diff + `"]}}`)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data []byte) {
		h.Size = int64(len(data))
		if h.Typeflag == 0 {
			h.Typeflag, h.Mode = tar.TypeReg, 0o644
		}
		_ = tw.WriteHeader(h)
		_, _ = tw.Write(data)
	}
	add(&tar.Header{Name: "aaa/layer.tar"}, l1)
	add(&tar.Header{Name: "bbb/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../aaa/layer.tar"}, nil)
	add(&tar.Header{Name: "cfg.json"}, config)
	add(&tar.Header{Name: "manifest.json"}, []byte(`[{"Config":"cfg.json","RepoTags":["legacy:1"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}]`))
	_ = tw.Close()
	s := newTestStore(t, Options{})
	lines, err := s.Load(context.Background(), &buf)
	if err != nil || !slices.Equal(lines, []string{"Loaded image: legacy:1"}) {
		t.Fatalf("%v %v", lines, err)
	}
	img, err := s.Get(context.Background(), "docker.io/library/legacy:1")
	if err != nil || len(img.ChainIDs) != 2 || img.ID != digestBytes(config) {
		t.Fatalf("%+v %v", img, err)
	}
}

func TestImport(t *testing.T) {
	var raw bytes.Buffer
	zw := gzip.NewWriter(&raw)
	_, _ = zw.Write(tarOf(t, "./", "", "./api", "#!binary", "./etc/", "", "./etc/passwd", "nobody:x:65534:65534::/:/api\n"))
	_ = zw.Close()
	s := newTestStore(t, Options{})
	img, err := s.Import(context.Background(), &raw, ImportOptions{Ref: "berth-example/api:dev", Message: "hi",
		Changes: []string{`CMD ["/api"]`, "EXPOSE 8080", "LABEL org.example.sum=abc", "USER nobody"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(img.Config.Cmd, []string{"/api"}) || !slices.Equal(img.Config.ExposedPorts, []string{"8080/tcp"}) ||
		img.Config.Labels["org.example.sum"] != "abc" || img.Config.User != "nobody" || img.Comment != "hi" ||
		!slices.Equal(img.RepoTags, []string{"docker.io/berth-example/api:dev"}) || img.Platform != "linux/amd64" {
		t.Fatalf("imported %+v", img)
	}
	if snapshotFile(t, s, img, "api") != "#!binary" {
		t.Fatal("imported content")
	}
	if _, err := s.Import(context.Background(), strings.NewReader(""), ImportOptions{Changes: []string{"RUN x"}}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("bad change: %v", err)
	}
}

func TestRemovePruneGC(t *testing.T) {
	reg := newTestRegistry(t)
	shared := makeLayer(t, gzipOCI, tarOf(t, "shared", "s"))
	reg.push(t, "one:1", testImage(t, true, v1.Config{Cmd: []string{"1"}}, "linux/amd64", shared, makeLayer(t, gzipOCI, tarOf(t, "one", "1"))))
	reg.push(t, "two:1", testImage(t, true, v1.Config{Cmd: []string{"2"}}, "linux/amd64", shared, makeLayer(t, gzipOCI, tarOf(t, "two", "2"))))
	s := newTestStore(t, Options{})
	ctx := context.Background()
	one, err := s.Pull(ctx, reg.host+"/one:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	two, err := s.Pull(ctx, reg.host+"/two:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, reg.host+"/one:1", "alias:x"); err != nil {
		t.Fatal(err)
	}
	lines, err := s.Remove(ctx, "alias:x", RemoveOptions{})
	if err != nil || !slices.Equal(lines, []string{"Untagged: alias:x"}) {
		t.Fatalf("untag: %v %v", lines, err)
	}
	if err := s.Tag(ctx, one.ID, "alias:x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(ctx, one.ShortID(), RemoveOptions{}); !errdefs.IsConflict(err) {
		t.Fatalf("rm by ID with two tags: %v", err)
	}
	lines, err = s.Remove(ctx, one.ShortID(), RemoveOptions{Force: true})
	if err != nil || lines[len(lines)-1] != "Deleted: "+one.ID {
		t.Fatalf("forced rm: %v %v", lines, err)
	}
	if s.snaps.Has(one.ChainIDs[1]) || s.hasBlob(one.Layers[1].Digest) || s.hasBlob(one.ID) {
		t.Fatal("the removed image's own layer or config is still stored")
	}
	if !s.snaps.Has(two.ChainIDs[0]) || !s.hasBlob(two.Layers[0].Digest) {
		t.Fatal("the layer shared with another image was removed")
	}

	// In use by a container: refused, or untagged only with force.
	s.SetInUse(func(context.Context) (map[string]bool, error) { return map[string]bool{two.ID: true}, nil })
	if _, err := s.Remove(ctx, reg.host+"/two:1", RemoveOptions{}); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "used by a container") {
		t.Fatalf("rm of an image in use: %v", err)
	}
	if _, err := s.Remove(ctx, reg.host+"/two:1", RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if img, err := s.Get(ctx, two.ID); err != nil || len(img.RepoTags) != 0 || !s.snaps.Has(two.ChainIDs[1]) {
		t.Fatalf("an image in use must stay (dangling): %v %v", img, err)
	}
	rep, err := s.Prune(ctx, PruneOptions{})
	if err != nil || len(rep.Lines) != 0 {
		t.Fatalf("prune removed an image in use: %+v %v", rep, err)
	}
	s.SetInUse(nil)
	rep, err = s.Prune(ctx, PruneOptions{})
	if err != nil || !slices.Contains(rep.Lines, "deleted: "+two.ID) || rep.Reclaimed <= 0 {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	if snaps, _ := s.snaps.List(ctx); len(snaps) != 0 {
		t.Fatalf("snapshots left: %v", snaps)
	}
	if blobs, _ := os.ReadDir(filepath.Join(s.root, "blobs", "sha256")); len(blobs) != 0 {
		t.Fatalf("blobs left: %v", blobs)
	}
	// prune -a removes tagged images too.
	if _, err := s.Pull(ctx, reg.host+"/one:1", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Prune(ctx, PruneOptions{All: true}); err != nil || len(rep.Lines) != 3 {
		t.Fatalf("prune -a: %+v %v", rep, err)
	}
	if _, err := s.Remove(ctx, "nosuch:1", RemoveOptions{}); !errdefs.IsNotFound(err) {
		t.Fatalf("rm of a missing image: %v", err)
	}
	if u, err := s.DiskUsage(ctx); err != nil || u.Images != 0 || u.Size != 0 {
		t.Fatalf("usage after prune: %+v %v", u, err)
	}
}

// TestPullFixtures pulls the fixture images from the real registry
// (CNCF distribution) on 127.0.0.1:5000.
func TestPullFixtures(t *testing.T) {
	testutil.RequiresRegistry(t)
	if testing.Short() {
		t.Skip("pulls 60 MB")
	}
	s := newTestStore(t, Options{})
	ctx := context.Background()
	busybox, err := s.Pull(ctx, testutil.BusyboxImage, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(busybox.Config.Cmd, []string{"sh"}) || !strings.Contains(snapshotFile(t, s, busybox, "var/www/index.html"), "busybox") {
		t.Fatalf("busybox: %+v", busybox.Config)
	}
	nginx, err := s.Pull(ctx, testutil.NginxImage, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nginx.Config.Cmd, []string{"nginx", "-g", "daemon off;"}) {
		t.Fatalf("nginx: %+v", nginx.Config)
	}
	if fi, err := os.Stat(filepath.Join(mustPath(t, s, nginx), "usr/sbin/nginx")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("nginx binary: %v %v", fi, err)
	}
	if u, err := s.DiskUsage(ctx); err != nil || u.Images != 2 || u.Size < nginx.Size {
		t.Fatalf("usage %+v %v", u, err)
	}
}

func mustPath(t *testing.T, s *Store, img *Image) string {
	p, err := s.snaps.Path(img.ChainIDs[len(img.ChainIDs)-1])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPush pushes a loaded image to a registry and pulls it back into
// another store.
func TestPush(t *testing.T) {
	reg := newTestRegistry(t)
	s := newTestStore(t, Options{})
	ctx := context.Background()
	imported, err := s.Import(ctx, bytes.NewReader(tarOf(t, "hello", "world")), ImportOptions{Ref: reg.host + "/pushed:1", Changes: []string{"CMD /hello"}})
	if err != nil {
		t.Fatal(err)
	}
	var last Progress
	if err := s.Push(ctx, reg.host+"/pushed:1", PushOptions{Progress: func(p Progress) { last = p }}); err != nil {
		t.Fatal(err)
	}
	if last.Total == 0 || last.Current != last.Total {
		t.Fatalf("push progress: %+v", last)
	}
	other := newTestStore(t, Options{})
	img, err := other.Pull(ctx, reg.host+"/pushed:1", PullOptions{})
	if err != nil || img.ID != imported.ID || snapshotFile(t, other, img, "hello") != "world" {
		t.Fatalf("pulled back: %+v %v", img, err)
	}
	if err := s.Push(ctx, "nosuch:1", PushOptions{}); !errdefs.IsNotFound(err) {
		t.Fatalf("push of a missing image: %v", err)
	}
}
