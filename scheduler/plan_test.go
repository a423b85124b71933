package scheduler

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthdev/berth/engine"
)

// loadTestProject loads a compose file given inline, as project "app".
func loadTestProject(t testing.TB, yaml string) *types.Project {
	t.Helper()
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  "/src/app",
		ConfigFiles: []types.ConfigFile{{Filename: "/src/app/compose.yaml", Content: []byte(yaml)}},
		Environment: map[string]string{},
	}, func(o *loader.Options) {
		o.SetProjectName("app", true)
		o.SkipConsistencyCheck = false
	})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

const webstack = `
services:
  db:
    image: pg
    volumes: [data:/var/lib/pg]
    healthcheck: {test: [CMD, "true"]}
  migrate:
    image: api
    depends_on: {db: {condition: service_healthy}}
  api:
    image: api
    depends_on:
      db: {condition: service_healthy, restart: true}
      migrate: {condition: service_completed_successfully}
  web:
    image: nginx
    depends_on: [api]
volumes:
  data: {}
`

// hashes gives every service of p the hash "h-<service>", with overrides.
func hashes(p *types.Project, over map[string]string) map[string]string {
	h := map[string]string{}
	for name := range p.Services {
		h[name] = "h-" + name
	}
	for k, v := range over {
		h[k] = v
	}
	return h
}

// ctr is an observed container of project app.
func ctr(service string, n int, status engine.Status, hash string) ObservedContainer {
	name := "app-" + service + "-" + string(rune('0'+n))
	return ObservedContainer{ID: "id-" + name, Name: name, Service: service, Number: n,
		ConfigHash: hash, Status: status, Created: time.Unix(int64(n), 0)}
}

func runningObserved(p *types.Project) *Observed {
	o := &Observed{Project: "app",
		Networks: map[string]ObservedNetwork{"app_default": {Name: "app_default"}},
		Volumes:  map[string]ObservedVolume{"app_data": {Name: "app_data"}},
	}
	for _, name := range sortedKeys(p.Services) {
		st := engine.StatusRunning
		if name == "migrate" {
			st = engine.StatusExited
		}
		o.Containers = append(o.Containers, ctr(name, 1, st, "h-"+name))
	}
	return o
}

func TestMakePlan(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		observed func(p *types.Project) *Observed
		hashes   map[string]string
		images   map[string]string
		opts     PlanOptions
		want     string
	}{
		{
			name:     "fresh project",
			yaml:     webstack,
			observed: func(*types.Project) *Observed { return &Observed{Project: "app"} },
			want: `network:default CreateNetwork app_default: not found
volume:data CreateVolume app_data: not found
service:db:1 CreateContainer app-db-1: no existing container
service:db:1 StartContainer app-db-1: created
service:migrate:1 CreateContainer app-migrate-1: no existing container
service:migrate:1 StartContainer app-migrate-1: created
service:api:1 CreateContainer app-api-1: no existing container
service:api:1 StartContainer app-api-1: created
service:web:1 CreateContainer app-web-1: no existing container
service:web:1 StartContainer app-web-1: created
`,
		},
		{
			name: "nothing changed (one-shot job exited 0 is run again, as docker compose)",
			yaml: webstack,
			want: `service:db:1 Keep app-db-1: up to date
service:migrate:1 StartContainer app-migrate-1: not running (exited 0)
service:api:1 Keep app-api-1: up to date
service:web:1 Keep app-web-1: up to date
`,
		},
		{
			name:   "changed dependency: restart:true dependents stopped first and started after",
			yaml:   webstack,
			hashes: map[string]string{"db": "h-db-2"},
			want: `service:api:1 StopContainer app-api-1: dependency db being recreated
service:db:1 RecreateContainer app-db-1: config hash changed
service:db:1 StartContainer app-db-1: recreated
service:migrate:1 StartContainer app-migrate-1: not running (exited 0)
service:api:1 StartContainer app-api-1: restart after dependency db was recreated
service:web:1 Keep app-web-1: up to date
`,
		},
		{
			name:   "image changed",
			yaml:   webstack,
			images: map[string]string{"web": "sha256:new"},
			observed: func(p *types.Project) *Observed {
				o := runningObserved(p)
				for i := range o.Containers {
					o.Containers[i].ImageID = "sha256:old"
				}
				return o
			},
			want: `service:db:1 Keep app-db-1: up to date
service:migrate:1 StartContainer app-migrate-1: not running (exited 0)
service:api:1 Keep app-api-1: up to date
service:web:1 RecreateContainer app-web-1: image changed
service:web:1 StartContainer app-web-1: recreated
`,
		},
		{
			name: "force recreate of named service only; no-start",
			yaml: webstack,
			opts: PlanOptions{Services: []string{"web"}, Recreate: RecreateForce, NoStart: true},
			want: `service:db:1 Keep app-db-1: up to date
service:migrate:1 Keep app-migrate-1: up to date
service:api:1 Keep app-api-1: up to date
service:web:1 RecreateContainer app-web-1: forced
`,
		},
		{
			name:   "always-recreate-deps forces dependencies too; no-recreate keeps changed named service",
			yaml:   webstack,
			hashes: map[string]string{"web": "h-web-2"},
			opts:   PlanOptions{Services: []string{"web"}, Recreate: RecreateNever, RecreateDependencies: RecreateForce, NoStart: true},
			want: `service:api:1 StopContainer app-api-1: dependency db being recreated
service:db:1 RecreateContainer app-db-1: forced
service:migrate:1 RecreateContainer app-migrate-1: forced
service:api:1 RecreateContainer app-api-1: forced
service:web:1 Keep app-web-1: up to date
`,
		},
		{
			name: "scale up and down with deploy.replicas and scale",
			yaml: `
services:
  w:
    image: x
    deploy: {replicas: 3}
  v:
    image: x
    scale: 1
`,
			observed: func(*types.Project) *Observed {
				return &Observed{Project: "app", Networks: map[string]ObservedNetwork{"app_default": {}},
					Containers: []ObservedContainer{
						ctr("w", 1, engine.StatusRunning, "h-w"),
						ctr("v", 1, engine.StatusRunning, "h-v"),
						ctr("v", 2, engine.StatusRunning, "h-v"),
						ctr("v", 3, engine.StatusRunning, "old"),
					}}
			},
			want: `service:v:2 RemoveContainer app-v-2: scale down
service:v:3 RemoveContainer app-v-3: scale down
service:v:1 Keep app-v-1: up to date
service:w:2 CreateContainer app-w-2: scale up
service:w:3 CreateContainer app-w-3: scale up
service:w:2 StartContainer app-w-2: created
service:w:3 StartContainer app-w-3: created
service:w:1 Keep app-w-1: up to date
`,
		},
		{
			name: "scale to zero removes; new numbers follow the highest",
			yaml: `
services:
  w:
    image: x
    scale: 2
  z:
    image: x
    scale: 0
`,
			observed: func(*types.Project) *Observed {
				return &Observed{Project: "app", Networks: map[string]ObservedNetwork{"app_default": {}},
					Containers: []ObservedContainer{
						ctr("w", 4, engine.StatusRunning, "h-w"),
						ctr("z", 1, engine.StatusExited, "h-z"),
					}}
			},
			want: `service:w:5 CreateContainer app-w-5: scale up
service:w:5 StartContainer app-w-5: created
service:w:4 Keep app-w-4: up to date
service:z:1 RemoveContainer app-z-1: scale down
`,
		},
		{
			name: "orphans removed with remove-orphans; one-offs are not orphans",
			yaml: `
services:
  a: {image: x}
`,
			opts: PlanOptions{RemoveOrphans: true},
			observed: func(*types.Project) *Observed {
				run := ctr("a", 0, engine.StatusExited, "h-a")
				run.OneOff, run.Name, run.ID = true, "app-a-run-1234", "id-run"
				return &Observed{Project: "app", Networks: map[string]ObservedNetwork{"app_default": {}},
					Containers: []ObservedContainer{
						ctr("a", 1, engine.StatusRunning, "h-a"),
						ctr("old", 1, engine.StatusRunning, "h-old"),
						run,
					}}
			},
			want: `service:a:1 Keep app-a-1: up to date
orphan:app-old-1 RemoveContainer app-old-1: orphaned container
`,
		},
		{
			name: "network_mode service: follows a recreated parent; container_name",
			yaml: `
services:
  vpn: {image: x}
  app:
    image: x
    network_mode: service:vpn
  named:
    image: x
    container_name: my-named
`,
			hashes: map[string]string{"vpn": "changed"},
			observed: func(*types.Project) *Observed {
				return &Observed{Project: "app", Networks: map[string]ObservedNetwork{"app_default": {}},
					Containers: []ObservedContainer{
						ctr("vpn", 1, engine.StatusRunning, "h-vpn"),
						ctr("app", 1, engine.StatusRunning, "h-app"),
					}}
			},
			want: `service:named:1 CreateContainer my-named: no existing container
service:named:1 StartContainer my-named: created
service:app:1 StopContainer app-app-1: dependency vpn being recreated
service:vpn:1 RecreateContainer app-vpn-1: config hash changed
service:vpn:1 StartContainer app-vpn-1: recreated
service:app:1 RecreateContainer app-app-1: service vpn it shares a namespace or volumes with is recreated
service:app:1 StartContainer app-app-1: recreated
`,
		},
		{
			name: "external network and volume are never created",
			yaml: `
services:
  a:
    image: x
    networks: [ext]
    volumes: [v:/v]
networks:
  ext: {external: true, name: shared}
volumes:
  v: {external: true}
`,
			observed: func(*types.Project) *Observed { return &Observed{Project: "app"} },
			want: `service:a:1 CreateContainer app-a-1: no existing container
service:a:1 StartContainer app-a-1: created
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := loadTestProject(t, tc.yaml)
			obs := runningObserved(p)
			if tc.observed != nil {
				obs = tc.observed(p)
			}
			plan, err := MakePlan(Desired{Project: p, Hashes: hashes(p, tc.hashes), ImageIDs: tc.images}, obs, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := plan.String(); got != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestMakePlanNothingChangedIsEmpty(t *testing.T) {
	p := loadTestProject(t, strings.ReplaceAll(webstack, "condition: service_completed_successfully", "condition: service_started"))
	obs := runningObserved(p)
	for i := range obs.Containers {
		obs.Containers[i].Status = engine.StatusRunning
	}
	plan, err := MakePlan(Desired{Project: p, Hashes: hashes(p, nil)}, obs, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Empty() {
		t.Errorf("plan not empty:\n%s", plan)
	}
}

func TestMakePlanOrphanWarning(t *testing.T) {
	p := loadTestProject(t, "services:\n  a: {image: x}\n")
	obs := &Observed{Project: "app", Networks: map[string]ObservedNetwork{"app_default": {}},
		Containers: []ObservedContainer{ctr("a", 1, engine.StatusRunning, "h-a"), ctr("gone", 1, engine.StatusExited, "x")}}
	plan, err := MakePlan(Desired{Project: p, Hashes: hashes(p, nil)}, obs, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Orphans) != 0 || strings.Join(plan.OrphanNames, ",") != "app-gone-1" {
		t.Errorf("orphans %v names %v", plan.Orphans, plan.OrphanNames)
	}
}

func TestServiceOrder(t *testing.T) {
	p := loadTestProject(t, webstack)
	order, err := serviceOrder(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, " "); got != "db migrate api web" {
		t.Errorf("order %q", got)
	}
}
