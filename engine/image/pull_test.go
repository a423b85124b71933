package image

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/testutil"
)

// snapshotFile reads a file from the top snapshot of img (single-layer
// images in these tests, or a file of the top layer).
func snapshotFile(t *testing.T, s *Store, img *Image, name string) string {
	t.Helper()
	dir, err := s.snaps.Path(img.ChainIDs[len(img.ChainIDs)-1])
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("%s in the unpacked layer: %v", name, err)
	}
	return string(b)
}

func TestPullFormats(t *testing.T) {
	reg := newTestRegistry(t)
	cfg := v1.Config{
		Entrypoint: []string{"/entry"}, Cmd: []string{"serve", "--port", "80"},
		Env: []string{"PATH=/bin", "A=b"}, WorkingDir: "/app", User: "1000:1000",
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}}, Volumes: map[string]struct{}{"/data": {}},
		Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}, Interval: 2 * time.Second, Timeout: time.Second, Retries: 3, StartPeriod: 5 * time.Second},
		StopSignal:  "SIGQUIT", Labels: map[string]string{"x": "y"},
	}
	tests := []struct {
		name string
		oci  bool
		kind layerKind
	}{
		{"docker schema2 gzip", false, gzipDocker},
		{"oci gzip", true, gzipOCI},
		{"oci zstd", true, zstdOCI},
		{"oci uncompressed", true, plainOCI},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, Options{})
			base := makeLayer(t, tc.kind, tarOf(t, "etc/", "", "etc/a", "lower", "tmp/", ""))
			top := makeLayer(t, tc.kind, tarOf(t, "etc/a", tc.name, "etc/.wh.gone", ""))
			repo := "formats/" + strings.ReplaceAll(tc.name, " ", "-") + ":v" + string(rune('0'+i))
			reg.push(t, repo, testImage(t, tc.oci, cfg, "linux/amd64", base, top))
			var statuses []string
			var mu sync.Mutex
			img, err := s.Pull(context.Background(), reg.host+"/"+repo, PullOptions{Progress: func(p Progress) {
				mu.Lock()
				statuses = append(statuses, p.Status)
				mu.Unlock()
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got := snapshotFile(t, s, img, "etc/a"); got != tc.name {
				t.Fatalf("etc/a = %q", got)
			}
			want := Config{Entrypoint: []string{"/entry"}, Cmd: []string{"serve", "--port", "80"}, Env: []string{"PATH=/bin", "A=b"},
				WorkingDir: "/app", User: "1000:1000", ExposedPorts: []string{"53/udp", "80/tcp"}, Volumes: []string{"/data"},
				Healthcheck: &Healthcheck{Test: []string{"CMD", "true"}, Interval: 2 * time.Second, Timeout: time.Second, Retries: 3, StartPeriod: 5 * time.Second},
				StopSignal:  "SIGQUIT", Labels: map[string]string{"x": "y"}}
			if !configEqual(img.Config, want) {
				t.Fatalf("config = %+v\nwant %+v", img.Config, want)
			}
			if len(img.ChainIDs) != 2 || img.Platform != "linux/amd64" || img.Size <= 0 {
				t.Fatalf("image = %+v", img)
			}
			if !slices.Contains(img.RepoTags, reg.host+"/"+repo) || len(img.RepoDigests) != 1 {
				t.Fatalf("tags %v digests %v", img.RepoTags, img.RepoDigests)
			}
			for _, st := range []string{StatusPullingLayer, StatusDownloading, StatusPullComplete} {
				if !slices.Contains(statuses, st) {
					t.Errorf("no %q progress (got %v)", st, statuses)
				}
			}
			got, err := s.Get(context.Background(), img.ShortID())
			if err != nil || got.ID != img.ID {
				t.Fatalf("Get by short ID: %v %v", got, err)
			}
		})
	}
}

func configEqual(a, b Config) bool {
	return slices.Equal(a.Entrypoint, b.Entrypoint) && slices.Equal(a.Cmd, b.Cmd) && slices.Equal(a.Env, b.Env) &&
		a.WorkingDir == b.WorkingDir && a.User == b.User && slices.Equal(a.ExposedPorts, b.ExposedPorts) &&
		slices.Equal(a.Volumes, b.Volumes) && a.StopSignal == b.StopSignal && len(a.Labels) == len(b.Labels) &&
		a.Labels["x"] == b.Labels["x"] && (a.Healthcheck == nil) == (b.Healthcheck == nil) &&
		(a.Healthcheck == nil || (slices.Equal(a.Healthcheck.Test, b.Healthcheck.Test) && a.Healthcheck.Interval == b.Healthcheck.Interval &&
			a.Healthcheck.Timeout == b.Healthcheck.Timeout && a.Healthcheck.Retries == b.Healthcheck.Retries &&
			a.Healthcheck.StartPeriod == b.Healthcheck.StartPeriod))
}

func TestPullPlatforms(t *testing.T) {
	reg := newTestRegistry(t)
	amd := testImage(t, true, v1.Config{Cmd: []string{"amd"}}, "linux/amd64", makeLayer(t, gzipOCI, tarOf(t, "arch", "amd64")))
	arm := testImage(t, true, v1.Config{Cmd: []string{"arm"}}, "linux/arm64/v8", makeLayer(t, gzipOCI, tarOf(t, "arch", "arm64")))
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	indexDigest := reg.push(t, "multi:1", idx)
	s := newTestStore(t, Options{})
	ctx := context.Background()
	img, err := s.Pull(ctx, reg.host+"/multi:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotFile(t, s, img, "arch"); got != "amd64" || img.Platform != "linux/amd64" {
		t.Fatalf("default platform: arch %q platform %s", got, img.Platform)
	}
	if want := reg.host + "/multi@" + indexDigest; !slices.Contains(img.RepoDigests, want) {
		t.Fatalf("repo digests %v, want %s", img.RepoDigests, want)
	}
	img, err = s.Pull(ctx, reg.host+"/multi:1", PullOptions{Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotFile(t, s, img, "arch"); got != "arm64" {
		t.Fatalf("arm64: arch %q", got)
	}
	_, err = s.Pull(ctx, reg.host+"/multi:1", PullOptions{Platform: "linux/s390x"})
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "linux/amd64") || !strings.Contains(err.Error(), "linux/arm64/v8") {
		t.Fatalf("missing platform: %v", err)
	}
	// By digest of the index, already present: no request at all.
	reg.requests()
	if _, err := s.Pull(ctx, reg.host+"/multi@"+indexDigest, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if reqs := reg.requests(); len(reqs) != 0 {
		t.Fatalf("pull of a present digest made requests: %v", reqs)
	}
}

func TestPullPresentIsCheap(t *testing.T) {
	reg := newTestRegistry(t)
	reg.push(t, "cheap:1", testImage(t, false, v1.Config{Cmd: []string{"x"}}, "linux/amd64", makeLayer(t, gzipDocker, tarOf(t, "f", "1"))))
	s := newTestStore(t, Options{})
	ctx := context.Background()
	first, err := s.Pull(ctx, reg.host+"/cheap:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg.requests()
	again, err := s.Pull(ctx, reg.host+"/cheap:1", PullOptions{})
	if err != nil || again.ID != first.ID {
		t.Fatalf("second pull: %v %v", again, err)
	}
	reqs := reg.requests()
	if countPrefix(reqs, "GET /v2/cheap/blobs") != 0 || countPrefix(reqs, "GET /v2/cheap/manifests") != 0 || countPrefix(reqs, "HEAD /v2/cheap/manifests") != 1 {
		t.Fatalf("second pull requests: %v", reqs)
	}
	if !again.LastPull.After(first.LastPull) && !again.LastPull.Equal(first.LastPull) {
		t.Fatalf("LastPull not recorded: %v then %v", first.LastPull, again.LastPull)
	}
	// A new image under the same tag is pulled.
	reg.push(t, "cheap:1", testImage(t, false, v1.Config{Cmd: []string{"y"}}, "linux/amd64", makeLayer(t, gzipDocker, tarOf(t, "f", "2"))))
	third, err := s.Pull(ctx, reg.host+"/cheap:1", PullOptions{})
	if err != nil || third.ID == first.ID || snapshotFile(t, s, third, "f") != "2" {
		t.Fatalf("moved tag: %v %v", third, err)
	}
	old, err := s.Get(ctx, first.ID)
	if err != nil || len(old.RepoTags) != 0 {
		t.Fatalf("the old image should be dangling: %+v %v", old, err)
	}
}

func TestPullUnknown(t *testing.T) {
	reg := newTestRegistry(t)
	s := newTestStore(t, Options{})
	_, err := s.Pull(context.Background(), reg.host+"/nosuch", PullOptions{})
	if !errdefs.IsNotFound(err) {
		t.Fatalf("err = %v, want not found", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, reg.host+"/nosuch:latest") || !strings.Contains(msg, "NAME_UNKNOWN") {
		t.Fatalf("error does not name the reference and the registry's answer: %s", msg)
	}
	if _, err := s.Pull(context.Background(), "Bad:Ref:x", PullOptions{}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("bad reference: %v", err)
	}
}

func TestPullAuth(t *testing.T) {
	reg := newTestRegistry(t)
	reg.push(t, "private:1", testImage(t, false, v1.Config{Cmd: []string{"x"}}, "linux/amd64", makeLayer(t, gzipDocker, tarOf(t, "f", "secret"))))
	// Basic auth against credentials from DOCKER_CONFIG.
	reg.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	s := newTestStore(t, Options{})
	_, err := s.Pull(context.Background(), reg.host+"/private:1", PullOptions{})
	if !errdefs.IsUnauthorized(err) || !strings.Contains(err.Error(), "log in") {
		t.Fatalf("no credentials: %v", err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+reg.host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	img, err := s.Pull(context.Background(), reg.host+"/private:1", PullOptions{})
	if err != nil || snapshotFile(t, s, img, "f") != "secret" {
		t.Fatalf("with credentials: %v", err)
	}

	// Anonymous bearer tokens, as Docker Hub's.
	reg2 := newTestRegistry(t)
	reg2.push(t, "library/tok:1", testImage(t, false, v1.Config{Cmd: []string{"x"}}, "linux/amd64", makeLayer(t, gzipDocker, tarOf(t, "f", "tok"))))
	var tokens int
	var mu sync.Mutex
	reg2.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Path == "/token" {
			if !strings.Contains(r.URL.Query().Get("scope"), "repository:library/tok:pull") {
				http.Error(w, "bad scope "+r.URL.RawQuery, http.StatusBadRequest)
				return
			}
			mu.Lock()
			tokens++
			mu.Unlock()
			_, _ = w.Write([]byte(`{"token":"anon-token","expires_in":300}`))
			return
		}
		if r.Header.Get("Authorization") != "Bearer anon-token" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+reg2.host+`/token",service="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
	img, err = s.Pull(context.Background(), reg2.host+"/library/tok:1", PullOptions{})
	if err != nil || snapshotFile(t, s, img, "f") != "tok" || tokens == 0 {
		t.Fatalf("bearer: %v (tokens %d)", err, tokens)
	}
}

// TestPullCorruptAndBroken: a blob with the wrong content, a manifest that
// is not JSON, a manifest whose digest is wrong: each is refused, and
// nothing corrupt is kept.
func TestPullCorruptAndBroken(t *testing.T) {
	reg := newTestRegistry(t)
	layer := makeLayer(t, gzipDocker, tarOf(t, "f", strings.Repeat("data", 1000)))
	ld, _ := layer.Digest()
	md := reg.push(t, "corrupt:1", testImage(t, false, v1.Config{Cmd: []string{"x"}}, "linux/amd64", layer))
	s := newTestStore(t, Options{})
	ctx := context.Background()

	reg.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			rec := &captureWriter{header: http.Header{}}
			next.ServeHTTP(rec, r)
			body := rec.buf
			body[len(body)/2] ^= 0xff
			w.Header().Set("Content-Length", rec.header.Get("Content-Length"))
			w.WriteHeader(rec.code)
			_, _ = w.Write(body)
			return
		}
		next.ServeHTTP(w, r)
	})
	_, err := s.Pull(ctx, reg.host+"/corrupt:1", PullOptions{})
	if !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), "corrupt:1") {
		t.Fatalf("corrupt blob: %v", err)
	}
	if s.hasBlob(ld.String()) {
		t.Fatal("a corrupt blob was stored")
	}
	if entries, _ := os.ReadDir(filepath.Join(s.root, "ingest")); len(entries) != 0 {
		t.Fatalf("corrupt download kept in ingest: %v", entries)
	}
	if _, err := s.Get(ctx, reg.host+"/corrupt:1"); !errdefs.IsNotFound(err) {
		t.Fatalf("image recorded after a failed pull: %v", err)
	}
	if snaps, _ := s.snaps.List(ctx); len(snaps) != 0 {
		t.Fatalf("snapshots left: %v", snaps)
	}

	reg.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Content-Type", mediaDockerManifest)
			_, _ = w.Write([]byte("{not json"))
			return
		}
		next.ServeHTTP(w, r)
	})
	if _, err := s.Pull(ctx, reg.host+"/corrupt:1", PullOptions{}); !errdefs.IsInvalidArgument(err) && !errdefs.IsDataLoss(err) {
		t.Fatalf("broken manifest: %v", err)
	}
	if _, err := s.Pull(ctx, reg.host+"/corrupt@"+md, PullOptions{}); !errdefs.IsDataLoss(err) {
		t.Fatalf("manifest with a wrong digest: %v", err)
	}

	reg.setWrap(nil)
	if _, err := s.Pull(ctx, reg.host+"/corrupt:1", PullOptions{}); err != nil {
		t.Fatalf("healthy registry again: %v", err)
	}
}

type captureWriter struct {
	header http.Header
	code   int
	buf    []byte
}

func (c *captureWriter) Header() http.Header         { return c.header }
func (c *captureWriter) WriteHeader(code int)        { c.code = code }
func (c *captureWriter) Write(b []byte) (int, error) { c.buf = append(c.buf, b...); return len(b), nil }

// TestPullResume: a registry that dies mid-blob makes the pull fail after
// its retries; the part downloaded is kept, and the next pull resumes it
// with a Range request.
func TestPullResume(t *testing.T) {
	reg := newTestRegistry(t)
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i*7 + i/1000)
	}
	layer := makeLayer(t, plainOCI, tarOf(t, "big", string(big)))
	ld, _ := layer.Digest()
	size, _ := layer.Size()
	reg.push(t, "resume:1", testImage(t, true, v1.Config{Cmd: []string{"x"}}, "linux/amd64", layer))
	s := newTestStore(t, Options{})
	ctx := context.Background()
	// The registry dies after 1 MiB of every blob response.
	reg.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			rec := &captureWriter{header: http.Header{}}
			next.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.code)
			_, _ = w.Write(rec.buf[:min(len(rec.buf), 1<<20)])
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		next.ServeHTTP(w, r)
	})
	_, err := s.Pull(ctx, reg.host+"/resume:1", PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "pull again to resume") {
		t.Fatalf("dying registry: %v", err)
	}
	fi, err := os.Stat(s.ingestPath(strings.TrimPrefix(ld.String(), "sha256:")))
	if err != nil || fi.Size() < 1<<20 || fi.Size() >= size {
		t.Fatalf("partial download not kept: %v %v", fi, err)
	}
	reg.setWrap(nil)
	reg.requests()
	img, err := s.Pull(ctx, reg.host+"/resume:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotFile(t, s, img, "big"); got != string(big) {
		t.Fatal("resumed layer content differs")
	}
	reqs := reg.requests()
	if countPrefix(reqs, "GET /v2/resume/blobs/"+ld.String()+" bytes=") != 1 {
		t.Fatalf("no Range request on resume: %v", reqs)
	}
}

// TestConcurrentPullsDownloadOnce: two stores on one root (two processes'
// worth) pull the same image at once; each blob is fetched once.
func TestConcurrentPullsDownloadOnce(t *testing.T) {
	reg := newTestRegistry(t)
	var layers []v1.Layer
	for i := range 3 {
		layers = append(layers, makeLayer(t, gzipOCI, tarOf(t, "f"+string(rune('0'+i)), strings.Repeat("x", 100000*(i+1)))))
	}
	reg.push(t, "twice:1", testImage(t, true, v1.Config{Cmd: []string{"x"}}, "linux/amd64", layers...))
	a := newTestStore(t, Options{})
	b, err := New(Options{Root: a.root, Snapshots: a.snaps.Root(), Transport: loopbackOnly(), Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	reg.requests()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			_, errs[i] = s.Pull(context.Background(), reg.host+"/twice:1", PullOptions{})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	reqs := reg.requests()
	for _, l := range layers {
		d, _ := l.Digest()
		if n := countPrefix(reqs, "GET /v2/twice/blobs/"+d.String()); n != 1 {
			t.Fatalf("layer %s fetched %d times: %v", d, n, reqs)
		}
	}
}

func TestPullHostileLayer(t *testing.T) {
	reg := newTestRegistry(t)
	reg.push(t, "evil:1", testImage(t, false, v1.Config{Cmd: []string{"x"}}, "linux/amd64",
		makeLayer(t, gzipDocker, tarOf(t, "../../escape", "x"))))
	s := newTestStore(t, Options{})
	_, err := s.Pull(context.Background(), reg.host+"/evil:1", PullOptions{})
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "evil:1") || !strings.Contains(err.Error(), "../../escape") {
		t.Fatalf("hostile layer: %v", err)
	}
}

// TestMirror: docker.io images come from a configured mirror (and this
// test's transport would refuse Docker Hub itself).
func TestMirror(t *testing.T) {
	mirror := newTestRegistry(t)
	mirror.push(t, "library/mirrored:1", testImage(t, false, v1.Config{Cmd: []string{"x"}}, "linux/amd64",
		makeLayer(t, gzipDocker, tarOf(t, "from", "mirror"))))
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgPath, []byte(`{"registry-mirrors":["http://`+mirror.host+`"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t, Options{ConfigFile: cfgPath})
	img, err := s.Pull(context.Background(), "mirrored:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if snapshotFile(t, s, img, "from") != "mirror" || !slices.Contains(img.RepoTags, "docker.io/library/mirrored:1") {
		t.Fatalf("mirrored image: %+v", img)
	}
	if _, err := s.Get(context.Background(), "mirrored:1"); err != nil {
		t.Fatal(err)
	}
}

// TestPullNoSpace: a store on a full filesystem fails with a clear
// "no space" error, keeps nothing corrupt, and a pull works once there is
// room.
func TestPullNoSpace(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := newTestRegistry(t)
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(i * 31 / 7)
	}
	reg.push(t, "big:1", testImage(t, true, v1.Config{Cmd: []string{"x"}}, "linux/amd64", makeLayer(t, plainOCI, tarOf(t, "big", string(big)))))
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	s := newTestStore(t, Options{Root: filepath.Join(dir, "images"), Snapshots: filepath.Join(dir, "snapshots")})
	_, err := s.Pull(context.Background(), reg.host+"/big:1", PullOptions{})
	if !errdefs.IsResourceExhausted(err) || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "big:1") {
		t.Fatalf("full disk: %v", err)
	}
	if s.hasBlob(digestBytes(tarOf(t, "big", string(big)))) {
		t.Fatal("a partial blob is visible")
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT, "size=64m"); err != nil {
		t.Fatal(err)
	}
	img, err := s.Pull(context.Background(), reg.host+"/big:1", PullOptions{})
	if err != nil || snapshotFile(t, s, img, "big") != string(big) {
		t.Fatalf("after freeing space: %v", err)
	}
}
