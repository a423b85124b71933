package volumes_test

import (
	"context"
	"strings"
	"testing"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/testutil"
	"github.com/berthdev/berth/volumes"
)

// TestLinuxTmpfsVolume: a volume made with driver_opts type=tmpfs,
// device=tmpfs, o=size=… is a tmpfs of that size in the container. .
func TestLinuxTmpfsVolume(t *testing.T) {
	env := newEngineEnv(t)
	env.pull(testutil.BusyboxImage)
	v, err := env.vols.Create(context.Background(), volumes.Spec{Name: "tv_scratch",
		DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0700"}})
	if err != nil {
		t.Fatal(err)
	}
	vm, err := v.Mount("")
	if err != nil {
		t.Fatal(err)
	}
	m := engine.Mount{Type: vm.Type, Source: vm.Source, Target: "/scratch", Volume: v.Name, Options: vm.Options}
	_, out := env.mustRun("df", testutil.BusyboxImage, "grep ' /scratch ' /proc/mounts; stat -c %a /scratch", m)
	if !strings.Contains(out, "tmpfs /scratch tmpfs") || !strings.Contains(out, "size=1024k") || !strings.HasSuffix(out, "700\n") {
		t.Fatalf("tmpfs volume in the container:\n%s", out)
	}
}
