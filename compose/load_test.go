package compose

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDiscoversParentAndDotEnv(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My_App")
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  web:\n    image: ${IMG}\n")
	writeFile(t, filepath.Join(dir, "compose.override.yaml"), "services:\n  web:\n    environment:\n      A: b\n")
	writeFile(t, filepath.Join(dir, ".env"), "IMG=busybox:1\n")
	sub := filepath.Join(dir, "sub", "deeper")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := Load(context.Background(), LoadOptions{WorkingDir: sub, Environment: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "my_app" {
		t.Errorf("name = %q, want my_app", p.Name)
	}
	if p.WorkingDir != dir {
		t.Errorf("working dir = %q, want %q", p.WorkingDir, dir)
	}
	web := p.Services["web"]
	if web.Image != "busybox:1" {
		t.Errorf("image = %q", web.Image)
	}
	if v := web.Environment["A"]; v == nil || *v != "b" {
		t.Errorf("override not merged: %v", web.Environment)
	}
	if web.CustomLabels[LabelProject] != "my_app" || web.CustomLabels[LabelService] != "web" {
		t.Errorf("labels = %v", web.CustomLabels)
	}
}

func TestLoadEnvironmentPrecedence(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  web:\n    image: ${IMG}\n    profiles: [dev]\n  db:\n    image: db\n")
	writeFile(t, filepath.Join(dir, ".env"), "IMG=fromdotenv\nCOMPOSE_PROJECT_NAME=fromenvfile\nCOMPOSE_PROFILES=dev\n")
	p, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environment: map[string]string{"IMG": "fromenv"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "fromenvfile" {
		t.Errorf("name = %q", p.Name)
	}
	if got := p.Services["web"].Image; got != "fromenv" {
		t.Errorf("image = %q, want the environment's value", got)
	}
	p, err = Load(context.Background(), LoadOptions{WorkingDir: dir, ProjectName: "x", Profiles: []string{"none"}, Environment: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Services["web"]; ok || p.Name != "x" {
		t.Errorf("profile filtering or -p failed: %q %v", p.Name, p.ServiceNames())
	}
}

func TestLoadNoFile(t *testing.T) {
	_, err := Load(context.Background(), LoadOptions{WorkingDir: t.TempDir(), Environment: map[string]string{}})
	if err == nil || err.Error() != "no configuration file provided: not found" {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadEnvFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  web:\n    image: ${IMG:-unset}\n")
	writeFile(t, filepath.Join(dir, ".env"), "IMG=dotenv\n")
	writeFile(t, filepath.Join(dir, "a.env"), "IMG=a\n")
	writeFile(t, filepath.Join(dir, "b.env"), "IMG=b\n")
	ctx := context.Background()
	tests := []struct {
		name     string
		opts     LoadOptions
		img      string
		envLabel string
	}{
		{"project .env", LoadOptions{}, "dotenv", ""},
		{"--env-file, the last wins", LoadOptions{EnvFiles: []string{"a.env", "b.env"}}, "b",
			filepath.Join(dir, "a.env") + "," + filepath.Join(dir, "b.env")},
		{"COMPOSE_ENV_FILES", LoadOptions{Environment: map[string]string{"COMPOSE_ENV_FILES": "a.env"}}, "a", filepath.Join(dir, "a.env")},
		{"COMPOSE_DISABLE_ENV_FILE", LoadOptions{Environment: map[string]string{"COMPOSE_DISABLE_ENV_FILE": "true"}}, "unset", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.WorkingDir = dir
			if opts.Environment == nil {
				opts.Environment = map[string]string{}
			}
			p, err := Load(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			web := p.Services["web"]
			if web.Image != tc.img || web.CustomLabels[LabelEnvironmentFile] != tc.envLabel {
				t.Errorf("image %q label %q, want %q %q", web.Image, web.CustomLabels[LabelEnvironmentFile], tc.img, tc.envLabel)
			}
		})
	}
}
