package scheduler

import (
	"strings"
	"testing"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/scheduler/graph"
)

func TestHealthyAndCompleted(t *testing.T) {
	hc := &engine.Healthcheck{Test: []string{"CMD", "true"}}
	mk := func(st engine.Status, code int, health string, check *engine.Healthcheck) *engine.Container {
		c := &engine.Container{Name: "app-db-1", Spec: engine.ContainerSpec{Healthcheck: check}}
		c.State.Status, c.State.ExitCode = st, code
		c.State.Running = st == engine.StatusRunning
		if health != "" {
			c.State.Health = &engine.Health{Status: health}
		}
		return c
	}
	tests := []struct {
		name     string
		c        *engine.Container
		fallback bool
		ok       bool
		err      string
	}{
		{"healthy", mk(engine.StatusRunning, 0, engine.HealthHealthy, hc), false, true, ""},
		{"starting", mk(engine.StatusRunning, 0, engine.HealthStarting, hc), false, false, ""},
		{"not reported yet", mk(engine.StatusRunning, 0, "", hc), false, false, ""},
		{"unhealthy", mk(engine.StatusRunning, 0, engine.HealthUnhealthy, hc), false, false, "container app-db-1 is unhealthy"},
		{"exited", mk(engine.StatusExited, 3, "", hc), false, false, "container app-db-1 exited (3)"},
		{"no healthcheck", mk(engine.StatusRunning, 0, "", nil), false, false, "container app-db-1 has no healthcheck configured"},
		{"healthcheck NONE", mk(engine.StatusRunning, 0, "", &engine.Healthcheck{Test: []string{"NONE"}}), false, false, "container app-db-1 has no healthcheck configured"},
		{"running without healthcheck (--wait)", mk(engine.StatusRunning, 0, "", nil), true, true, ""},
		{"created without healthcheck (--wait)", mk(engine.StatusCreated, 0, "", nil), true, false, ""},
	}
	for _, tc := range tests {
		ok, err := healthy(tc.c, tc.fallback)
		if ok != tc.ok || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%s: got %v, %v; want %v, %q", tc.name, ok, err, tc.ok, tc.err)
		}
	}
	if ok, err := completed("migrate", mk(engine.StatusRunning, 0, "", nil)); ok || err != nil {
		t.Errorf("running job completed: %v %v", ok, err)
	}
	if ok, err := completed("migrate", mk(engine.StatusExited, 0, "", nil)); !ok || err != nil {
		t.Errorf("exit 0: %v %v", ok, err)
	}
	if _, err := completed("migrate", mk(engine.StatusExited, 2, "", nil)); err == nil ||
		err.Error() != `service "migrate" didn't complete successfully: exit 2` {
		t.Errorf("exit 2: %v", err)
	}
}

func TestContainerGraphFromLabels(t *testing.T) {
	mk := func(svc, deps string) *engine.Container {
		return &engine.Container{Name: "app-" + svc + "-1", Spec: engine.ContainerSpec{Labels: map[string]string{
			"com.docker.compose.service": svc, "com.docker.compose.depends_on": deps}}}
	}
	cs := []*engine.Container{mk("web", "api:service_started:false"), mk("api", "db:service_healthy:true,gone:service_started:false"), mk("db", "")}
	g, by, err := containerGraph(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(g.Order(graph.Down), " "); got != "web api db" {
		t.Errorf("down order %q", got)
	}
	if len(by["api"]) != 1 {
		t.Errorf("grouping: %v", by)
	}
}

func TestCommandLine(t *testing.T) {
	c := &engine.Container{Path: "nginx", Args: []string{"-g", "daemon off;"}}
	if got := commandLine(c); got != `"nginx -g 'daemon off;'"` {
		t.Errorf("commandLine = %s", got)
	}
	c = &engine.Container{Spec: engine.ContainerSpec{Cmd: []string{"sh", "-c", "exit 0"}}}
	if got := commandLine(c); got != `"sh -c 'exit 0'"` {
		t.Errorf("commandLine = %s", got)
	}
}
