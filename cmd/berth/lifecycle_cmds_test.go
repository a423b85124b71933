package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthdev/berth/scheduler"
)

func TestPrintContainers(t *testing.T) {
	list := []scheduler.ContainerSummary{
		{ID: "abc", Name: "app-db-1", Image: "pg:15", Command: `"postgres -D /var/lib/postgresql/data"`, Service: "db",
			RunningFor: "2 minutes ago", Status: "Up 2 minutes (healthy)", State: "running"},
		{ID: "def", Name: "app-web-1", Image: "nginx", Command: `"nginx"`, Service: "web",
			RunningFor: "1 minute ago", Status: "Up 1 minute", State: "running", Ports: "127.0.0.1:8080->80/tcp"},
	}
	var b bytes.Buffer
	if err := printContainers(&b, list, "table", true); err != nil {
		t.Fatal(err)
	}
	want := `NAME        IMAGE     COMMAND                  SERVICE   CREATED         STATUS                   PORTS
app-db-1    pg:15     "postgres -D /var/li…"   db        2 minutes ago   Up 2 minutes (healthy)   
app-web-1   nginx     "nginx"                  web       1 minute ago    Up 1 minute              127.0.0.1:8080->80/tcp
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := printContainers(&b, list[:1], "{{.Name}} {{.State}}", true); err != nil {
		t.Fatal(err)
	}
	if b.String() != "app-db-1 running\n" {
		t.Errorf("template: %q", b.String())
	}
	b.Reset()
	if err := printContainers(&b, list[:1], "json", true); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), `{"ID":"abc","Name":"app-db-1",`) || strings.Count(b.String(), "\n") != 1 {
		t.Errorf("json: %s", b.String())
	}
	if err := printContainers(&b, list, "{{.Nope", true); err == nil {
		t.Error("bad template accepted")
	}
}

func TestParseTimeFlag(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"42m", now.Add(-42 * time.Minute)},
		{"2013-01-02T13:23:37Z", time.Date(2013, 1, 2, 13, 23, 37, 0, time.UTC)},
		{"1700000000", time.Unix(1700000000, 0)},
	}
	for _, tc := range tests {
		got, err := parseTimeFlag(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%q: %v %v, want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseTimeFlag("yesterday", now); err == nil {
		t.Error("garbage accepted")
	}
}

func TestApplyScaleAndServicePaths(t *testing.T) {
	p := &types.Project{Services: types.Services{"web": {Name: "web", Deploy: &types.DeployConfig{}}}}
	if err := applyScale(p, []string{"web=3"}); err != nil {
		t.Fatal(err)
	}
	if svc := p.Services["web"]; svc.GetScale() != 3 || *svc.Deploy.Replicas != 3 {
		t.Errorf("scale %d", svc.GetScale())
	}
	for _, bad := range []string{"web", "web=x", "nosuch=1", "web=-1"} {
		if err := applyScale(p, []string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for in, want := range map[string]bool{"db:/data": true, "./db:/x": false, "/tmp/a": false, "db": false, "a.b:/c": false} {
		if _, _, ok := splitServicePath(in); ok != want {
			t.Errorf("splitServicePath(%q) = %v", in, ok)
		}
	}
	if got := ellipsis("abcdefghijklmnopqrstuvwxyz", 20); got != "abcdefghijklmnopqrs…" {
		t.Errorf("ellipsis %q", got)
	}
}
