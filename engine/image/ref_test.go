package image

import (
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// TestNormalizeRef: Docker-Hub-shaped references resolve to the right
// registry and repository (no network).
func TestNormalizeRef(t *testing.T) {
	const d = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	tests := []struct {
		in, want, registry, repo string
	}{
		{"postgres", "docker.io/library/postgres:latest", "docker.io", "library/postgres"},
		{"postgres:16", "docker.io/library/postgres:16", "docker.io", "library/postgres"},
		{"library/postgres:16", "docker.io/library/postgres:16", "docker.io", "library/postgres"},
		{"docker.io/postgres", "docker.io/library/postgres:latest", "docker.io", "library/postgres"},
		{"index.docker.io/library/redis:7", "docker.io/library/redis:7", "docker.io", "library/redis"},
		{"bitnami/redis", "docker.io/bitnami/redis:latest", "docker.io", "bitnami/redis"},
		{"ghcr.io/org/app", "ghcr.io/org/app:latest", "ghcr.io", "org/app"},
		{"localhost:5000/app:dev", "localhost:5000/app:dev", "localhost:5000", "app"},
		{"127.0.0.1:5000/debian-pg:15", "127.0.0.1:5000/debian-pg:15", "127.0.0.1:5000", "debian-pg"},
		{"registry.example.com/a/b/c:1.0", "registry.example.com/a/b/c:1.0", "registry.example.com", "a/b/c"},
		{"postgres@" + d, "docker.io/library/postgres@" + d, "docker.io", "library/postgres"},
		{"postgres:16@" + d, "docker.io/library/postgres:16@" + d, "docker.io", "library/postgres"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeRef(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeRef(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			named, _ := parseRef(tc.in)
			if registryHost(named) != tc.registry || repoPath(named) != tc.repo {
				t.Fatalf("registry %q repo %q", registryHost(named), repoPath(named))
			}
		})
	}
	for _, bad := range []string{"", "Postgres", "a:b:c", "repo/UPPER", "x@sha256:12", "-leading"} {
		if _, err := NormalizeRef(bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("NormalizeRef(%q) err = %v, want invalid argument", bad, err)
		}
	}
	if r, tag := SplitFamiliar("docker.io/library/postgres:16"); r != "postgres" || tag != "16" {
		t.Errorf("SplitFamiliar = %q %q", r, tag)
	}
	if f := FamiliarString("docker.io/bitnami/redis:7"); f != "bitnami/redis:7" {
		t.Errorf("FamiliarString = %q", f)
	}
}

func TestEndpoints(t *testing.T) {
	s := &Store{reg: registryConfig{Mirrors: []string{"https://mirror.example", "http://10.1.2.3:5000"}, Insecure: []string{"10.0.0.0/8", "myreg:5000"}}}
	named, _ := reference.ParseNormalizedNamed("postgres")
	eps, err := s.endpoints(reference.TagNameOnly(named))
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 3 || eps[0].repo.String() != "mirror.example/library/postgres" || eps[1].registry.Scheme() != "http" ||
		eps[2].registry.RegistryStr() != "index.docker.io" || eps[2].mirror || !eps[0].mirror {
		t.Fatalf("endpoints: %+v", eps)
	}
	named, _ = reference.ParseNormalizedNamed("ghcr.io/o/r")
	if eps, _ := s.endpoints(named); len(eps) != 1 {
		t.Fatalf("mirrors apply to docker.io only: %+v", eps)
	}
	for host, want := range map[string]bool{"localhost:5000": true, "127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true,
		"10.9.9.9:443": true, "myreg:5000": true, "myreg": false, "ghcr.io": false, "192.168.1.1:5000": false} {
		if got := s.reg.isInsecure(host); got != want {
			t.Errorf("isInsecure(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestShouldPull(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	fresh := &Image{LastPull: now.Add(-time.Hour)}
	old := &Image{LastPull: now.Add(-8 * 24 * time.Hour)}
	tests := []struct {
		policy string
		img    *Image
		want   bool
		err    func(error) bool
	}{
		{"", nil, true, nil},
		{"missing", fresh, false, nil},
		{"if_not_present", nil, true, nil},
		{"always", fresh, true, nil},
		{"never", fresh, false, nil},
		{"never", nil, false, errdefs.IsNotFound},
		{"build", nil, false, nil},
		{"daily", fresh, false, nil},
		{"daily", old, true, nil},
		{"weekly", fresh, false, nil},
		{"weekly", old, true, nil},
		{"every_30m", fresh, true, nil},
		{"every_2h", fresh, false, nil},
		{"every_2d", old, true, nil},
		{"every_xyz", fresh, false, errdefs.IsInvalidArgument},
		{"sometimes", fresh, false, errdefs.IsInvalidArgument},
	}
	for _, tc := range tests {
		got, err := ShouldPull(tc.policy, tc.img, now)
		if tc.err != nil {
			if !tc.err(err) {
				t.Errorf("ShouldPull(%q) err = %v", tc.policy, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ShouldPull(%q, %v) = %v, %v; want %v", tc.policy, tc.img != nil, got, err, tc.want)
		}
	}
}

func TestApplyChange(t *testing.T) {
	cfg := map[string]any{}
	for _, c := range []string{`CMD ["/api", "-v"]`, `ENTRYPOINT /bin/run it`, `ENV A=1 B="two words"`, `ENV C 3 4`,
		`WORKDIR /srv`, `USER nobody`, `EXPOSE 8080 53/udp`, `LABEL a=b "c d"=e`, `VOLUME ["/data"]`, `STOPSIGNAL SIGINT`} {
		if err := applyChange(cfg, c); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
	}
	if got := cfg["Cmd"].([]string); len(got) != 2 || got[0] != "/api" {
		t.Errorf("Cmd %v", got)
	}
	if got := cfg["Entrypoint"].([]string); len(got) != 3 || got[2] != "/bin/run it" {
		t.Errorf("Entrypoint %v", got)
	}
	if got := cfg["Env"].([]string); len(got) != 3 || got[1] != "B=two words" || got[2] != "C=3 4" {
		t.Errorf("Env %v", got)
	}
	if got := cfg["Labels"].(map[string]string); got["a"] != "b" || got["c d"] != "e" {
		t.Errorf("Labels %v", got)
	}
	if _, ok := cfg["ExposedPorts"].(map[string]struct{})["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts %v", cfg["ExposedPorts"])
	}
	for _, bad := range []string{"RUN make", "CMD", `ENV "unterminated`, "ADD . /"} {
		if err := applyChange(map[string]any{}, bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// FuzzNormalizeRef: references are parsed without panics, and a
// normalized reference normalizes to itself.
func FuzzNormalizeRef(f *testing.F) {
	for _, s := range []string{"postgres", "ghcr.io/a/b:1", "x@sha256:0123456789012345678901234567890123456789012345678901234567890123", "localhost:5000/a", "::", "a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		n, err := NormalizeRef(ref)
		if err != nil {
			return
		}
		again, err := NormalizeRef(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeRef(%q) = %q, then %q %v", ref, n, again, err)
		}
	})
}

// FuzzParseConfig: image configs are decoded without panics.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"ExposedPorts":{"80":{}}},"rootfs":{"type":"layers","diff_ids":[]}}`))
	f.Add([]byte(`{"config":{"Healthcheck":{"Test":["NONE"],"Interval":-1}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cf, err := parseConfig(raw)
		if err != nil {
			return
		}
		_ = cf.engineConfig()
		_ = cf.platform()
	})
}
