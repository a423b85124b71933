package scheduler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/state"
	"github.com/berthdev/berth/volumes"
)

// renderMounts prints mounts one a line with host paths shortened:
// $DIR (project directory), $VOL (volumes root), $HOME, and anonymous
// volume names as <anon>.
func renderMounts(ms []engine.Mount, dir, vol, home string) string {
	anon := regexp.MustCompile(`[0-9a-f]{64}`)
	short := func(s string) string {
		s = strings.ReplaceAll(s, vol, "$VOL")
		s = strings.ReplaceAll(s, dir, "$DIR")
		s = strings.ReplaceAll(s, home, "$HOME")
		return anon.ReplaceAllString(s, "<anon>")
	}
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s %s", m.Target, m.Type)
		if m.Source != "" {
			fmt.Fprintf(&b, " src=%s", short(m.Source))
		}
		if m.Volume != "" {
			fmt.Fprintf(&b, " vol=%s", short(m.Volume))
		}
		if m.ReadOnly {
			b.WriteString(" ro")
		}
		if m.CopyUp {
			b.WriteString(" copyup")
		}
		if m.Propagation != "" {
			fmt.Fprintf(&b, " prop=%s", m.Propagation)
		}
		if m.TmpfsSize != 0 {
			fmt.Fprintf(&b, " size=%d", m.TmpfsSize)
		}
		if m.TmpfsMode != 0 {
			fmt.Fprintf(&b, " mode=%o", m.TmpfsMode)
		}
		if len(m.Options) > 0 {
			fmt.Fprintf(&b, " opts=%s", strings.Join(m.Options, ","))
		}
		b.WriteString("\n")
	}
	return b.String()
}

type mountsEnv struct {
	vols *volumes.Manager
	home string
}

func newMountsEnv(t *testing.T) mountsEnv {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home) // compose-go expands ~ with it
	vols, err := volumes.New(volumes.Options{Paths: state.Paths{Root: t.TempDir(), Run: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	return mountsEnv{vols: vols, home: home}
}

func TestResolveMounts(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// setup runs before resolving, with the project directory.
		setup        func(t *testing.T, env mountsEnv, dir string)
		imageVolumes []string
		opts         func(env mountsEnv) mountOptions
		want         string
		err          string
		errKind      func(error) bool
	}{
		{
			name: "short named volume",
			yaml: `
services:
  s: {image: x, volumes: ["data:/var/lib/pg"]}
volumes:
  data: {}`,
			want: "/var/lib/pg bind src=$VOL/app_data/_data vol=app_data copyup\n",
		},
		{
			name: "short named ro nocopy",
			yaml: `
services:
  s: {image: x, volumes: ["data:/d:ro,nocopy"]}
volumes:
  data: {}`,
			want: "/d bind src=$VOL/app_data/_data vol=app_data ro\n",
		},
		{
			name: "long named with name: and read_only",
			yaml: `
services:
  s:
    image: x
    volumes:
      - {type: volume, source: data, target: /d, read_only: true, volume: {nocopy: true}}
volumes:
  data: {name: shared-data}`,
			want: "/d bind src=$VOL/shared-data/_data vol=shared-data ro\n",
		},
		{
			name: "external volume that exists",
			yaml: `
services:
  s: {image: x, volumes: ["ext:/e"]}
volumes:
  ext: {external: true}`,
			setup: func(t *testing.T, env mountsEnv, dir string) {
				if _, err := env.vols.Create(context.Background(), volumes.Spec{Name: "ext"}); err != nil {
					t.Fatal(err)
				}
			},
			want: "/e bind src=$VOL/ext/_data vol=ext copyup\n",
		},
		{
			name: "external volume missing",
			yaml: `
services:
  s: {image: x, volumes: ["ext:/e"]}
volumes:
  ext: {external: true, name: theirs}`,
			err:     "external volume \"theirs\" not found: create it with `berth volume create theirs`",
			errKind: errdefs.IsNotFound,
		},
		{
			name: "anonymous short and long",
			yaml: `
services:
  s:
    image: x
    volumes:
      - /cache
      - {type: volume, target: /nocopy, volume: {nocopy: true}}`,
			want: "/cache bind src=$VOL/<anon>/_data vol=<anon> copyup\n/nocopy bind src=$VOL/<anon>/_data vol=<anon>\n",
		},
		{
			name: "binds: relative, home, absolute; missing sources created",
			yaml: `
services:
  s:
    image: x
    volumes:
      - ./src:/app
      - ~/cfg:/cfg:ro
      - {type: bind, source: ./long, target: /long}`,
			setup: func(t *testing.T, env mountsEnv, dir string) {
				t.Cleanup(func() {
					for _, p := range []string{filepath.Join(dir, "src"), filepath.Join(env.home, "cfg"), filepath.Join(dir, "long")} {
						if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
							t.Errorf("bind source %s not created: %v", p, err)
						}
					}
				})
			},
			want: "/app bind src=$DIR/src\n/cfg bind src=$HOME/cfg ro\n/long bind src=$DIR/long\n",
		},
		{
			name: "bind create_host_path false, missing",
			yaml: `
services:
  s:
    image: x
    volumes:
      - {type: bind, source: ./nosuch, target: /x, bind: {create_host_path: false}}`,
			err:     "bind source path does not exist: ",
			errKind: errdefs.IsNotFound,
		},
		{
			name: "bind create_host_path false, present; propagation; selinux accepted",
			yaml: `
services:
  s:
    image: x
    volumes:
      - {type: bind, source: ./there, target: /x, bind: {create_host_path: false, propagation: rshared}}
      - ./z:/z:z
      - ./zz:/zz:Z,ro`,
			setup: func(t *testing.T, env mountsEnv, dir string) {
				if err := os.Mkdir(filepath.Join(dir, "there"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: "/x bind src=$DIR/there prop=rshared\n/z bind src=$DIR/z\n/zz bind src=$DIR/zz ro\n",
		},
		{
			name: "bind of a file",
			yaml: `
services:
  s: {image: x, volumes: ["./app.conf:/etc/app.conf:ro"]}`,
			setup: func(t *testing.T, env mountsEnv, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "app.conf"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "/etc/app.conf bind src=$DIR/app.conf ro\n",
		},
		{
			name: "volume subpath",
			yaml: `
services:
  s:
    image: x
    volumes:
      - {type: volume, source: data, target: /pg, volume: {subpath: pg/main}}
volumes:
  data: {}`,
			setup: func(t *testing.T, env mountsEnv, dir string) {
				v, err := env.vols.Create(context.Background(), volumes.Spec{Name: "app_data"})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join(v.Mountpoint, "pg/main"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: "/pg bind src=$VOL/app_data/_data/pg/main vol=app_data\n",
		},
		{
			name: "volume subpath missing",
			yaml: `
services:
  s:
    image: x
    volumes:
      - {type: volume, source: data, target: /pg, volume: {subpath: nosuch}}
volumes:
  data: {}`,
			err:     `subpath "nosuch" does not exist in the volume`,
			errKind: errdefs.IsNotFound,
		},
		{
			name: "tmpfs long and short",
			yaml: `
services:
  s:
    image: x
    tmpfs:
      - /run
      - /tmp:size=64m,mode=1770,exec,uid=1000
      - /ro:ro,size=50%
    volumes:
      - {type: tmpfs, target: /cache, tmpfs: {size: 10m, mode: 0o700}}`,
			want: "/cache tmpfs src=tmpfs size=10485760 mode=700 opts=nosuid,nodev,noexec\n" +
				"/ro tmpfs src=tmpfs ro opts=nosuid,nodev,noexec,size=50%\n" +
				"/run tmpfs src=tmpfs opts=nosuid,nodev,noexec\n" +
				"/tmp tmpfs src=tmpfs size=67108864 mode=1770 opts=nosuid,nodev,exec,uid=1000\n",
		},
		{
			name: "tmpfs bad size",
			yaml: `
services:
  s: {image: x, tmpfs: ["/t:size=lots"]}`,
			err:     `size "lots" is not a size`,
			errKind: errdefs.IsInvalidArgument,
		},
		{
			name: "volumes_from service ro and container, overridden by own volume",
			yaml: `
services:
  src: {image: x}
  s:
    image: x
    volumes_from: ["src:ro", "container:other"]
    volumes: ["./mine:/shared2"]`,
			opts: func(env mountsEnv) mountOptions {
				return mountOptions{VolumesFrom: func(ctx context.Context, ref string) ([]engine.Mount, error) {
					switch ref {
					case "src":
						return []engine.Mount{
							{Type: "bind", Source: "/host/a", Target: "/shared", Volume: "app_a", CopyUp: true},
							{Type: "tmpfs", Target: "/tmp"},
						}, nil
					case "container:other":
						return []engine.Mount{{Type: "bind", Source: "/host/b", Target: "/shared2"}, {Type: "bind", Source: "/host/c", Target: "/c", ReadOnly: true}}, nil
					}
					return nil, fmt.Errorf("no container %s: %w", ref, errdefs.ErrNotFound)
				}}
			},
			want: "/c bind src=/host/c ro\n/shared bind src=/host/a vol=app_a ro\n/shared2 bind src=$DIR/mine\n",
		},
		{
			name: "image volumes: anonymous unless the service mounts there",
			yaml: `
services:
  s:
    image: x
    volumes: ["data:/var/lib/pg"]
volumes:
  data: {}`,
			imageVolumes: []string{"/var/lib/pg", "/var/log/app/"},
			want:         "/var/lib/pg bind src=$VOL/app_data/_data vol=app_data copyup\n/var/log/app bind src=$VOL/<anon>/_data vol=<anon> copyup\n",
		},
		{
			name: "mount order: parents first",
			yaml: `
services:
  s:
    image: x
    volumes: ["./b:/a/b/c", "./a:/a", "./ab:/a/b"]`,
			want: "/a bind src=$DIR/a\n/a/b bind src=$DIR/ab\n/a/b/c bind src=$DIR/b\n",
		},
		{
			name: "driver_opts volumes",
			yaml: `
services:
  s:
    image: x
    volumes: ["scratch:/scratch", "host:/host"]
volumes:
  scratch: {driver_opts: {type: tmpfs, device: tmpfs, o: "size=100m,uid=1000"}}
  host: {driver_opts: {type: none, o: "bind,ro", device: /}}`,
			want: "/host bind src=/ vol=app_host ro copyup\n/scratch tmpfs src=tmpfs vol=app_scratch opts=size=100m,uid=1000\n",
		},
		{
			name: "image mounts are not supported",
			yaml: `
services:
  s:
    image: x
    volumes: [{type: image, source: "alpine", target: /img}]`,
			err:     `mount type "image" is not supported`,
			errKind: errdefs.IsNotImplemented,
		},
		{
			name: "file secrets and configs",
			yaml: `
services:
  s:
    image: x
    secrets: [pw, {source: pw, target: other}]
    configs: [conf, {source: conf, target: /etc/app.conf}, inline]
secrets:
  pw: {file: ./pw.txt}
configs:
  conf: {file: ./conf.txt}
  inline: {content: "x"}`,
			setup: func(t *testing.T, env mountsEnv, dir string) {
				for _, f := range []string{"pw.txt", "conf.txt"} {
					if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			},
			want: "/conf bind src=$DIR/conf.txt ro\n/etc/app.conf bind src=$DIR/conf.txt ro\n/run/secrets/other bind src=$DIR/pw.txt ro\n/run/secrets/pw bind src=$DIR/pw.txt ro\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newMountsEnv(t)
			p := loadComposeProject(t, tc.yaml)
			if tc.setup != nil {
				tc.setup(t, env, p.WorkingDir)
			}
			var opts mountOptions
			if tc.opts != nil {
				opts = tc.opts(env)
			}
			got, err := resolveMountsFor(context.Background(), env.vols, p, p.Services["s"], tc.imageVolumes, opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || (tc.errKind != nil && !tc.errKind(err)) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			volRoot := filepath.Join(filepath.Dir(filepath.Dir(mustMountpoint(t, env.vols))), "")
			if r := renderMounts(got, p.WorkingDir, volRoot, env.home); r != tc.want {
				t.Fatalf("mounts:\n%s\nwant:\n%s", r, tc.want)
			}
		})
	}
}

// mustMountpoint returns the _data of a probe volume, to find the volumes root.
func mustMountpoint(t *testing.T, vols *volumes.Manager) string {
	t.Helper()
	v, err := vols.Create(context.Background(), volumes.Spec{Name: "zz-probe"})
	if err != nil {
		t.Fatal(err)
	}
	return v.Mountpoint
}

func TestResolveMountsVolumeLabels(t *testing.T) {
	env := newMountsEnv(t)
	p := loadComposeProject(t, `
services:
  s: {image: x, volumes: ["data:/d", "/anon"]}
volumes:
  data: {labels: {team: db}}`)
	ms, err := resolveMountsFor(context.Background(), env.vols, p, p.Services["s"], nil, mountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	named, err := env.vols.Get(ctx, "app_data")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{compose.LabelProject: "app", compose.LabelVolume: "data", "team": "db",
		compose.LabelVersion: compose.ComposeVersion} {
		if named.Labels[k] != want {
			t.Errorf("named volume label %s = %q, want %q (all: %v)", k, named.Labels[k], want, named.Labels)
		}
	}
	if len(named.Labels[compose.LabelConfigHash]) != 64 {
		t.Errorf("config hash label: %v", named.Labels)
	}
	var anonName string
	for _, m := range ms {
		if m.Target == "/anon" {
			anonName = m.Volume
		}
	}
	anon, err := env.vols.Get(ctx, anonName)
	if err != nil {
		t.Fatal(err)
	}
	if !anon.Anonymous() || anon.Labels[compose.LabelProject] != "app" || len(anon.Name) != 64 {
		t.Errorf("anonymous volume %s labels %v", anon.Name, anon.Labels)
	}
	// down -v removes both (by the project label), never an external one.
	ext, _ := env.vols.Create(ctx, volumes.Spec{Name: "app_ext", Labels: map[string]string{compose.LabelProject: "app"}})
	p.Volumes["ext"] = p.Volumes["data"]
	pe := p.Volumes["ext"]
	pe.External, pe.Name = true, ext.Name
	p.Volumes["ext"] = pe
	other, _ := env.vols.Create(ctx, volumes.Spec{Name: "other_data", Labels: map[string]string{compose.LabelProject: "other"}})
	down, err := downVolumes(ctx, env.vols, "app", p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{anon.Name, "app_data"}
	slices.Sort(want)
	if !slices.Equal(down, want) {
		t.Fatalf("down -v volumes = %v, want %v (never %s or %s)", down, want, ext.Name, other.Name)
	}
}

func TestResolveMountsKeepsAnonymousVolumes(t *testing.T) {
	ctx := context.Background()
	env := newMountsEnv(t)
	p := loadComposeProject(t, `
services:
  s: {image: x, volumes: ["/cache"]}`)
	svc := p.Services["s"]
	first, err := resolveMountsFor(ctx, env.vols, p, svc, []string{"/data"}, mountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].Volume == "" || first[1].Volume == "" {
		t.Fatalf("first: %+v", first)
	}
	// Recreate: the previous container's anonymous volumes are taken over.
	again, err := resolveMountsFor(ctx, env.vols, p, svc, []string{"/data"}, mountOptions{Previous: first})
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if again[i].Volume != first[i].Volume || again[i].Target != first[i].Target {
			t.Fatalf("recreate did not keep %s: %s -> %s", first[i].Target, first[i].Volume, again[i].Volume)
		}
	}
	if rel, err := releasedAnonymousVolumes(ctx, env.vols, first, again); err != nil || len(rel) != 0 {
		t.Fatalf("released after keep: %v %v", rel, err)
	}
	// A named volume at the target is never taken as anonymous.
	named, _ := env.vols.Create(ctx, volumes.Spec{Name: "named"})
	prev := []engine.Mount{{Type: "bind", Source: named.Mountpoint, Target: "/cache", Volume: "named"}}
	ms, err := resolveMountsFor(ctx, env.vols, p, svc, nil, mountOptions{Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Volume == "named" {
		t.Fatal("a named volume was reused as the anonymous one")
	}
	// --renew-anon-volumes: new ones, and the old ones are released.
	renewed, err := resolveMountsFor(ctx, env.vols, p, svc, []string{"/data"}, mountOptions{Previous: first, RenewAnonVolumes: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if renewed[i].Volume == first[i].Volume {
			t.Fatalf("renew kept %s", first[i].Volume)
		}
	}
	rel, err := releasedAnonymousVolumes(ctx, env.vols, first, renewed)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{first[0].Volume, first[1].Volume}
	slices.Sort(want)
	slices.Sort(rel)
	if !slices.Equal(rel, want) {
		t.Fatalf("released = %v, want %v", rel, want)
	}
	// Named volumes are never released.
	if rel, _ := releasedAnonymousVolumes(ctx, env.vols, prev, nil); len(rel) != 0 {
		t.Fatalf("named volume released: %v", rel)
	}
}

func TestCheckExternalVolumes(t *testing.T) {
	ctx := context.Background()
	env := newMountsEnv(t)
	p := loadComposeProject(t, `
services:
  s: {image: x, volumes: ["ext:/e"]}
volumes:
  ext: {external: true}`)
	err := checkExternalVolumes(ctx, env.vols, p)
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), `external volume "ext" not found`) {
		t.Fatalf("missing external: %v", err)
	}
	if vs, _ := env.vols.List(ctx, nil); len(vs) != 0 {
		t.Fatalf("checking created volumes: %v", vs)
	}
	if _, err := env.vols.Create(ctx, volumes.Spec{Name: "ext"}); err != nil {
		t.Fatal(err)
	}
	if err := checkExternalVolumes(ctx, env.vols, p); err != nil {
		t.Fatal(err)
	}
}

func TestParseTmpfsSize(t *testing.T) {
	tests := map[string]int64{"100": 100, "1k": 1024, "64m": 64 << 20, "2G": 2 << 30, "1gb": 1 << 30, "50%": -1}
	for in, want := range tests {
		got, err := parseTmpfsSize(in)
		if err != nil || got != want {
			t.Errorf("parseTmpfsSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1q"} {
		if _, err := parseTmpfsSize(bad); err == nil {
			t.Errorf("parseTmpfsSize(%q) accepted", bad)
		}
	}
}

// BenchmarkResolveMounts measures a service with a named volume (existing),
// two binds, a tmpfs and an image VOLUME taken over from the previous
// container: what one container costs at each up.
func BenchmarkResolveMounts(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(`
services:
  s:
    image: x
    volumes: ["data:/var/lib/data", "./src:/src", "./conf:/etc/app:ro"]
    tmpfs: [/run]
volumes:
  data: {}
`), 0o644); err != nil {
		b.Fatal(err)
	}
	p, err := compose.Load(ctx, compose.LoadOptions{WorkingDir: dir, ProjectName: "app", Environment: map[string]string{}})
	if err != nil {
		b.Fatal(err)
	}
	vols, err := volumes.New(volumes.Options{Paths: state.Paths{Root: b.TempDir()}})
	if err != nil {
		b.Fatal(err)
	}
	prev, err := resolveMountsFor(ctx, vols, p, p.Services["s"], []string{"/cache"}, mountOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := resolveMountsFor(ctx, vols, p, p.Services["s"], []string{"/cache"}, mountOptions{Previous: prev}); err != nil {
			b.Fatal(err)
		}
	}
}
