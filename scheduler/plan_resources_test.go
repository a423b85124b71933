package scheduler

import (
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
)

// divergedObserved is runningObserved with every container on app_default
// (db mounting app_data, plus a running one-off on the network) and the
// network and volume labelled with the given config hashes ("" for none).
func divergedObserved(p *types.Project, netHash, volHash string) *Observed {
	o := runningObserved(p)
	label := func(h string) map[string]string {
		if h == "" {
			return map[string]string{}
		}
		return map[string]string{compose.LabelConfigHash: h}
	}
	o.Networks["app_default"] = ObservedNetwork{Name: "app_default", Labels: label(netHash)}
	o.Volumes["app_data"] = ObservedVolume{Name: "app_data", Labels: label(volHash)}
	for i := range o.Containers {
		o.Containers[i].Networks = []string{"app_default"}
		if o.Containers[i].Service == "db" {
			o.Containers[i].Volumes = []string{"app_data"}
		}
	}
	run := ctr("web", 0, engine.StatusRunning, "h-web")
	run.OneOff, run.Name, run.ID, run.Networks = true, "app-web-run-1", "id-run", []string{"app_default"}
	o.Containers = append(o.Containers, run)
	return o
}

func currentHashes(t *testing.T, p *types.Project) (string, string) {
	t.Helper()
	n, err := networkHash(p.Networks["default"])
	if err != nil {
		t.Fatal(err)
	}
	v, err := volumeHash(p.Volumes["data"])
	if err != nil {
		t.Fatal(err)
	}
	return n, v
}

func TestMakePlanDivergedResources(t *testing.T) {
	p := loadTestProject(t, webstack)
	netHash, volHash := currentHashes(t, p)
	tests := []struct {
		name             string
		netHash, volHash string
		opts             PlanOptions
		want             string
	}{
		{
			name: "same hashes: nothing to do", netHash: netHash, volHash: volHash,
			want: `service:db:1 Keep app-db-1: up to date
service:migrate:1 StartContainer app-migrate-1: not running (exited 0)
service:api:1 Keep app-api-1: up to date
service:web:1 Keep app-web-1: up to date
`,
		},
		{
			name: "no config-hash labels (older resources): kept as they are",
			want: `service:db:1 Keep app-db-1: up to date
service:migrate:1 StartContainer app-migrate-1: not running (exited 0)
service:api:1 Keep app-api-1: up to date
service:web:1 Keep app-web-1: up to date
`,
		},
		{
			name:    "network changed: its running containers stop, it is recreated, they start again (one-offs are left)",
			netHash: "stale", volHash: volHash,
			want: `service:api:1 StopContainer app-api-1: network app_default is recreated
service:db:1 StopContainer app-db-1: network app_default is recreated
service:web:1 StopContainer app-web-1: network app_default is recreated
network:default RecreateNetwork app_default: config hash changed
service:db:1 StartContainer app-db-1: restart after network app_default was recreated
service:migrate:1 StartContainer app-migrate-1: not running (exited 0)
service:api:1 StartContainer app-api-1: restart after network app_default was recreated
service:web:1 StartContainer app-web-1: restart after network app_default was recreated
`,
		},
		{
			name:    "network changed with --no-start: stopped, not started",
			netHash: "stale", volHash: volHash, opts: PlanOptions{NoStart: true},
			want: `service:api:1 StopContainer app-api-1: network app_default is recreated
service:db:1 StopContainer app-db-1: network app_default is recreated
service:web:1 StopContainer app-web-1: network app_default is recreated
network:default RecreateNetwork app_default: config hash changed
service:db:1 Keep app-db-1: up to date
service:migrate:1 Keep app-migrate-1: up to date
service:api:1 Keep app-api-1: up to date
service:web:1 Keep app-web-1: up to date
`,
		},
		{
			name:    "volume changed, not confirmed: kept, data and containers untouched",
			netHash: netHash, volHash: "stale",
			want: `service:db:1 Keep app-db-1: up to date
service:migrate:1 StartContainer app-migrate-1: not running (exited 0)
service:api:1 Keep app-api-1: up to date
service:web:1 Keep app-web-1: up to date
`,
		},
		{
			name:    "volume changed and confirmed: its container removed, the volume recreated, the container created again",
			netHash: netHash, volHash: "stale", opts: PlanOptions{RecreateVolumes: []string{"app_data"}},
			want: `service:db:1 RemoveContainer app-db-1: volume app_data is recreated
volume:data RecreateVolume app_data: config hash changed, recreation confirmed
service:api:1 StopContainer app-api-1: dependency db being recreated
service:db:1 CreateContainer app-db-1: volume app_data was recreated
service:db:1 StartContainer app-db-1: created
service:migrate:1 StartContainer app-migrate-1: not running (exited 0)
service:api:1 StartContainer app-api-1: restart after dependency db was recreated
service:web:1 Keep app-web-1: up to date
`,
		},
		{
			name:    "both changed: removal wins over the stop for a container in the way of both",
			netHash: "stale", volHash: "stale", opts: PlanOptions{RecreateVolumes: []string{"app_data"}},
			want: `service:api:1 StopContainer app-api-1: network app_default is recreated
service:db:1 RemoveContainer app-db-1: volume app_data is recreated
service:web:1 StopContainer app-web-1: network app_default is recreated
network:default RecreateNetwork app_default: config hash changed
volume:data RecreateVolume app_data: config hash changed, recreation confirmed
service:db:1 CreateContainer app-db-1: volume app_data was recreated
service:db:1 StartContainer app-db-1: created
service:migrate:1 StartContainer app-migrate-1: not running (exited 0)
service:api:1 StartContainer app-api-1: restart after network app_default was recreated
service:web:1 StartContainer app-web-1: restart after network app_default was recreated
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := MakePlan(Desired{Project: p, Hashes: hashes(p, nil)}, divergedObserved(p, tc.netHash, tc.volHash), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := plan.String(); got != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestDivergedVolumes(t *testing.T) {
	p := loadTestProject(t, webstack+`  ext: {external: true}
`)
	_, volHash := currentHashes(t, p)
	stale := map[string]string{compose.LabelConfigHash: "stale"}
	tests := []struct {
		name string
		vols map[string]ObservedVolume
		want []string
	}{
		{"missing", map[string]ObservedVolume{}, nil},
		{"same hash", map[string]ObservedVolume{"app_data": {Labels: map[string]string{compose.LabelConfigHash: volHash}}}, nil},
		{"no label", map[string]ObservedVolume{"app_data": {}}, nil},
		{"changed", map[string]ObservedVolume{"app_data": {Labels: stale}}, []string{"app_data"}},
		{"external never", map[string]ObservedVolume{"ext": {Labels: stale}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DivergedVolumes(p, &Observed{Volumes: tc.vols})
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// A changed label or driver_opts changes the hash, as docker compose's.
	changed := loadTestProject(t, strings.Replace(webstack, "data: {}", "data: {labels: {a: b}}", 1))
	if h, _ := volumeHash(changed.Volumes["data"]); h == volHash {
		t.Error("labels do not change the volume hash")
	}
}
