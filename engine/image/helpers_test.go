package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry is go-containerregistry's in-process registry on
// 127.0.0.1, behind an optional wrapper, counting requests by path.
type testRegistry struct {
	srv  *httptest.Server
	host string
	mu   sync.Mutex
	reqs []string
	// wrap, when set, serves instead of the registry (it gets the
	// registry as next).
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, r.Method+" "+r.URL.Path+" "+r.Header.Get("Range"))
		wrap := tr.wrap
		tr.mu.Unlock()
		if wrap != nil {
			wrap(w, r, reg)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

// setWrap installs (nil: removes) the wrapper.
func (tr *testRegistry) setWrap(fn func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	tr.mu.Lock()
	tr.wrap = fn
	tr.mu.Unlock()
}

// requests returns and clears the request log.
func (tr *testRegistry) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := tr.reqs
	tr.reqs = nil
	return out
}

func countPrefix(reqs []string, prefix string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// push writes img (or an index) to the registry under repo:tag.
func (tr *testRegistry) push(t *testing.T, repoTag string, img any) string {
	t.Helper()
	ref, err := name.ParseReference(tr.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	switch v := img.(type) {
	case v1.Image:
		if err := remote.Write(ref, v); err != nil {
			t.Fatal(err)
		}
		d, _ := v.Digest()
		return d.String()
	case v1.ImageIndex:
		if err := remote.WriteIndex(ref, v); err != nil {
			t.Fatal(err)
		}
		d, _ := v.Digest()
		return d.String()
	}
	t.Fatalf("push: %T", img)
	return ""
}

// tarOf builds an uncompressed tar of files (name → content; a name
// ending in "/" is a directory).
func tarOf(t testing.TB, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		name, body := files[i], files[i+1]
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}
		if strings.HasSuffix(name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			_, _ = tw.Write([]byte(body))
		}
	}
	_ = tw.Close()
	return buf.Bytes()
}

// layerKind is how a test layer is compressed and typed.
type layerKind int

const (
	gzipDocker layerKind = iota
	gzipOCI
	zstdOCI
	plainOCI
)

func makeLayer(t testing.TB, kind layerKind, tarBytes []byte) v1.Layer {
	t.Helper()
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil }
	var (
		l   v1.Layer
		err error
	)
	switch kind {
	case gzipDocker:
		l, err = tarball.LayerFromOpener(opener, tarball.WithMediaType(types.DockerLayer))
	case gzipOCI:
		l, err = tarball.LayerFromOpener(opener, tarball.WithMediaType(types.OCILayer))
	case zstdOCI:
		l, err = tarball.LayerFromOpener(opener, tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	case plainOCI:
		l = static.NewLayer(tarBytes, types.OCIUncompressedLayer)
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage makes an image of layers with cfg, as an OCI or Docker image.
func testImage(t testing.TB, oci bool, cfg v1.Config, plat string, layers ...v1.Layer) v1.Image {
	t.Helper()
	base := empty.Image
	if oci {
		base = mutate.MediaType(base, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	p, _ := v1.ParsePlatform(plat)
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// newTestStore returns a store in a fresh root that may only talk to
// 127.0.0.0/8 (a test must never reach a public registry).
func newTestStore(t testing.TB, opts Options) *Store {
	t.Helper()
	root := t.TempDir()
	if opts.Root == "" {
		opts.Root = filepath.Join(root, "images")
	}
	if opts.Snapshots == "" {
		opts.Snapshots = filepath.Join(root, "snapshots")
	}
	if opts.Transport == nil {
		opts.Transport = loopbackOnly()
	}
	if opts.Platform == "" {
		opts.Platform = "linux/amd64"
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loopbackOnly is an HTTP transport that refuses every address outside
// 127.0.0.0/8.
func loopbackOnly() http.RoundTripper {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ip := net.ParseIP(host)
			if ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("test transport: refusing to dial %s (tests talk to 127.0.0.0/8 only)", addr)
			}
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 8,
	}
}
