package compose

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
)

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{ContainerName("shop", "web", 1), "shop-web-1"},
		{ContainerName("shop", "web", 12), "shop-web-12"},
		{OneoffName("shop", "web", "0123456789abcdef0123"), "shop-web-run-0123456789ab"},
		{OneoffName("shop", "web", "abc"), "shop-web-run-abc"},
		{ServiceContainerName("shop", types.ServiceConfig{Name: "web", ContainerName: "mine"}, 3), "mine"},
		{ServiceContainerName("shop", types.ServiceConfig{Name: "web"}, 3), "shop-web-3"},
		{ImageName("shop", types.ServiceConfig{Name: "api"}), "shop-api"},
		{ImageName("shop", types.ServiceConfig{Name: "api", Image: "x:1"}), "x:1"},
		{DependsOnLabel(types.ServiceConfig{DependsOn: types.DependsOnConfig{
			"db": {Condition: "service_healthy", Restart: true}, "cache": {Condition: "service_started"}}}),
			"cache:service_started:false,db:service_healthy:true"},
		{NormalizeProjectName("My App.1"), "myapp1"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestServiceHash(t *testing.T) {
	two, three := 2, 3
	one := 1
	base := types.ServiceConfig{Name: "foo", Image: "bar", Deploy: &types.DeployConfig{Replicas: &one}}
	h, err := ServiceHash(base)
	if err != nil {
		t.Fatal(err)
	}
	// Regression guard: the hash of a fixed service with compose-go
	// v2.9.1. If it changes, every container would be recreated on `up`.
	const golden = "ab0698d5a104ec2d9b0f004bffce794dca42665c49259b0ed2f446f8e516f31c"
	if h != golden {
		t.Errorf("hash %q, want %q", h, golden)
	}
	ignored := base
	ignored.Scale = &two
	ignored.Deploy = &types.DeployConfig{Replicas: &three}
	ignored.DependsOn = types.DependsOnConfig{"db": {Condition: "service_started"}}
	ignored.Profiles = []string{"dev"}
	ignored.Build = &types.BuildConfig{Context: "."}
	ignored.PullPolicy = "always"
	h2, _ := ServiceHash(ignored)
	if h2 != h {
		t.Errorf("scale, replicas, depends_on, profiles, build, pull_policy changed the hash")
	}
	if ignored.Deploy.Replicas == nil {
		t.Error("ServiceHash modified its argument's deploy")
	}
	changed := base
	changed.Environment = types.MappingWithEquals{"A": nil}
	if h3, _ := ServiceHash(changed); h3 == h {
		t.Error("environment did not change the hash")
	}
}

func TestYAMLSyntaxError(t *testing.T) {
	err := YAMLSyntaxError("c.yaml", []byte("a:\n  b: 1\n c: 2\n"))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 3 || se.Column != 2 || !errdefs.IsInvalidArgument(err) {
		t.Fatalf("err = %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "c.yaml:3:2: invalid YAML: ") || !strings.HasSuffix(err.Error(), "   3 |  c: 2\n     |  ^") {
		t.Errorf("message:\n%s", err)
	}
	if err := YAMLSyntaxError("ok.yaml", []byte("a: 1\n---\nb: 2\n")); err != nil {
		t.Errorf("valid multi-document YAML: %v", err)
	}
}

func TestLoadModelAndSelection(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `services:
  web: {image: "nginx:${TAG}", depends_on: [api]}
  api: {image: api, env_file: [api.env]}
  other: {image: other}
`)
	writeFile(t, filepath.Join(dir, "api.env"), "FROM_FILE=1\n")
	ctx := context.Background()
	m, err := LoadModel(ctx, LoadOptions{WorkingDir: dir, Environment: map[string]string{}, NoInterpolate: true})
	if err != nil {
		t.Fatal(err)
	}
	web := m["services"].(map[string]any)["web"].(map[string]any)
	if web["image"] != "nginx:${TAG}" {
		t.Errorf("model image = %v", web["image"])
	}
	p, err := Load(ctx, LoadOptions{WorkingDir: dir, Environment: map[string]string{"TAG": "1"}, Services: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.ServiceNames(), ","); got != "api,web" {
		t.Errorf("selected %s, want api,web", got)
	}
	if v := p.Services["api"].Environment["FROM_FILE"]; v == nil || *v != "1" || p.Services["api"].EnvFiles != nil {
		t.Errorf("env_file not resolved: %v %v", p.Services["api"].Environment, p.Services["api"].EnvFiles)
	}
	os.Remove(filepath.Join(dir, "api.env"))
	if _, err := Load(ctx, LoadOptions{WorkingDir: dir, Environment: map[string]string{}}); err == nil {
		t.Error("missing env_file did not fail")
	}
	if _, err := Load(ctx, LoadOptions{WorkingDir: dir, Environment: map[string]string{}, NoResolveEnvironment: true}); err != nil {
		t.Errorf("NoResolveEnvironment still reads env_file: %v", err)
	}
}
