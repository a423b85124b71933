package image

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestProcessConfig: a decoded base config's values take the Go types the
// --change instructions work on, and the container's settings go over
// them as docker commit puts them.
func TestProcessConfig(t *testing.T) {
	var config map[string]any
	if err := json.Unmarshal([]byte(`{"config":{"Env":["PATH=/bin","A=1"],"Cmd":["sh"],
		"Labels":{"k":"v"},"ExposedPorts":{"80/tcp":{}},"WorkingDir":"/srv"}}`), &config); err != nil {
		t.Fatal(err)
	}
	cfg := processConfig(config, Config{Env: []string{"A=2", "B=3"}, Cmd: []string{"run"}, User: "app"})
	for _, c := range []string{"ENV C=4", "LABEL stage=one", "EXPOSE 443"} {
		if err := applyChange(cfg, c); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]any{
		"Env":          []string{"PATH=/bin", "A=2", "B=3", "C=4"},
		"Cmd":          []string{"run"},
		"Labels":       map[string]string{"k": "v", "stage": "one"},
		"ExposedPorts": map[string]struct{}{"80/tcp": {}, "443/tcp": {}},
		"WorkingDir":   "/srv",
		"User":         "app",
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config\n got %#v\nwant %#v", cfg, want)
	}
}
