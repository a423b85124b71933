package scheduler

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// linesLog records watch's messages.
type linesLog struct{ out, err []string }

func (l *linesLog) Log(msg string) { l.out = append(l.out, msg) }
func (l *linesLog) Err(msg string) { l.err = append(l.err, msg) }

// String renders a batch plan, one line per service and action, sorted.
func (bp batchPlan) String() string {
	var lines []string
	for svc, maps := range bp.sync {
		for _, m := range maps {
			lines = append(lines, fmt.Sprintf("sync %s %s -> %s", svc, filepath.Base(m.host), m.container))
		}
	}
	for svc := range bp.restart {
		lines = append(lines, "restart "+svc)
	}
	for svc := range bp.rebuild {
		lines = append(lines, "rebuild "+svc)
	}
	for svc, ix := range bp.exec {
		lines = append(lines, fmt.Sprintf("exec %s %v", svc, ix))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func TestWatchPlan(t *testing.T) {
	dir := t.TempDir()
	src, conf, hooks := filepath.Join(dir, "src"), filepath.Join(dir, "conf"), filepath.Join(dir, "hooks")
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("src/build\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &types.Project{Name: "p", WorkingDir: dir, Services: types.Services{
		"web": {Name: "web", Build: &types.BuildConfig{Context: dir, Dockerfile: "Dockerfile"},
			Develop: &types.DevelopConfig{Watch: []types.Trigger{
				{Path: src, Target: "/app", Action: types.WatchActionSync, Ignore: []string{"*.tmp", "node_modules/"}},
				{Path: conf, Target: "/etc/app", Action: types.WatchActionSyncRestart, Include: []string{"*.conf"}},
				{Path: filepath.Join(dir, "package.json"), Action: types.WatchActionRebuild},
			}}},
		"worker": {Name: "worker",
			Develop: &types.DevelopConfig{Watch: []types.Trigger{
				{Path: hooks, Target: "/hooks", Action: types.WatchActionSyncExec,
					Exec: types.ServiceHook{Command: types.ShellCommand{"reload"}}},
				{Path: filepath.Join(dir, "worker.env"), Action: types.WatchActionRestart},
			}}},
		"db": {Name: "db"},
	}}
	w := &Watch{p: p, opts: WatchOptions{Log: &linesLog{}}}
	for _, name := range sortedKeys(p.Services) {
		if err := w.addService(p.Services[name]); err != nil {
			t.Fatal(err)
		}
	}
	if len(w.paths) != 5 {
		t.Errorf("watched paths: %v", w.paths)
	}

	tests := []struct {
		name  string
		batch []string
		want  string
	}{
		{"sync maps onto the target", []string{src + "/a.go", src + "/pkg/b.go"},
			"sync web a.go -> /app/a.go\nsync web b.go -> /app/pkg/b.go"},
		{"the rule's ignore", []string{src + "/x.tmp", src + "/node_modules/m/index.js"}, ""},
		{"the build context's .dockerignore", []string{src + "/build/out.js"}, ""},
		{".git and editor files", []string{src + "/.git/index", src + "/.a.go.swp", src + "/a.go~"}, ""},
		{"sync+restart with include", []string{conf + "/app.conf", conf + "/notes.txt"},
			"restart web\nsync web app.conf -> /etc/app/app.conf"},
		{"rebuild", []string{filepath.Join(dir, "package.json")}, "rebuild web"},
		{"sync+exec runs its command once", []string{hooks + "/a", hooks + "/b"},
			"exec worker [0]\nsync worker a -> /hooks/a\nsync worker b -> /hooks/b"},
		{"restart on a file", []string{filepath.Join(dir, "worker.env")}, "restart worker"},
		{"outside every rule", []string{filepath.Join(dir, "README.md"), dir + "/srcx/a"}, ""},
		{"the watched directory itself", []string{src}, "sync web src -> /app"},
	}
	// wanted (the filter before the debounce) agrees with the rules.
	for p, want := range map[string]bool{src + "/a.go": true, src + "/x.tmp": false, conf + "/notes.txt": false,
		filepath.Join(dir, "package.json"): true, filepath.Join(dir, "README.md"): false} {
		if got := w.wanted(p); got != want {
			t.Errorf("wanted(%s) = %v", p, got)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bp := w.plan(tc.batch)
			// exec holds rule indexes: make them the service's own.
			for svc, ix := range bp.exec {
				for i := range ix {
					ix[i] -= slices.IndexFunc(w.rules, func(r watchRule) bool { return r.service == svc })
				}
			}
			if got := bp.String(); got != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestWatchRulesRefused(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		svc  types.ServiceConfig
		want string
	}{
		{"rebuild without build", types.ServiceConfig{Name: "web", Develop: &types.DevelopConfig{Watch: []types.Trigger{
			{Path: dir, Action: types.WatchActionRebuild}}}},
			`can't watch service "web" with action rebuild without a build context`},
		{"sync+exec without command", types.ServiceConfig{Name: "web", Develop: &types.DevelopConfig{Watch: []types.Trigger{
			{Path: dir, Target: "/app", Action: types.WatchActionSyncExec}}}},
			`can't watch with action "sync+exec" on service web without a command`},
		{"unknown action", types.ServiceConfig{Name: "web", Develop: &types.DevelopConfig{Watch: []types.Trigger{
			{Path: dir, Target: "/app", Action: "copy"}}}},
			`service "web": unknown watch action "copy"`},
		{"bad pattern", types.ServiceConfig{Name: "web", Develop: &types.DevelopConfig{Watch: []types.Trigger{
			{Path: dir, Target: "/app", Action: types.WatchActionSync, Ignore: []string{"a["}}}}},
			`service "web": watch ignore`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &Watch{opts: WatchOptions{Log: &linesLog{}}}
			err := w.addService(tc.svc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestWatchBindMounted: a sync path a bind mount shows already is not
// watched, with docker compose's warning; its rule stays.
func TestWatchBindMounted(t *testing.T) {
	dir := t.TempDir()
	log := &linesLog{}
	w := &Watch{opts: WatchOptions{Log: log}}
	err := w.addService(types.ServiceConfig{Name: "web",
		Volumes: []types.ServiceVolumeConfig{{Type: types.VolumeTypeBind, Source: dir, Target: "/src"}},
		Develop: &types.DevelopConfig{Watch: []types.Trigger{
			{Path: filepath.Join(dir, "app"), Target: "/app", Action: types.WatchActionSync, InitialSync: true},
			{Path: filepath.Join(dir, "app"), Action: types.WatchActionRestart},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.paths) != 1 || len(w.rules) != 2 || len(w.initial) != 0 {
		t.Errorf("paths %v, %d rules, %d initial syncs", w.paths, len(w.rules), len(w.initial))
	}
	if len(log.err) != 1 || !strings.Contains(log.err[0], "also declared by a bind mount volume, this path won't be monitored") {
		t.Errorf("warnings: %q", log.err)
	}
}

func TestWatchRestartSet(t *testing.T) {
	p := &types.Project{Services: types.Services{
		"db":    {Name: "db"},
		"api":   {Name: "api", DependsOn: types.DependsOnConfig{"db": {Condition: "service_started", Restart: true}}},
		"web":   {Name: "web", DependsOn: types.DependsOnConfig{"api": {Condition: "service_started", Restart: true}}},
		"batch": {Name: "batch", DependsOn: types.DependsOnConfig{"db": {Condition: "service_started"}}},
	}}
	w := &Watch{p: p}
	if got := w.restartSet([]string{"db"}); !slices.Equal(got, []string{"api", "db", "web"}) {
		t.Errorf("restart set of db: %v", got)
	}
	if got := w.restartSet([]string{"batch"}); !slices.Equal(got, []string{"batch"}) {
		t.Errorf("restart set of batch: %v", got)
	}
}
