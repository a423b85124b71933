package scheduler

import (
	"slices"
	"testing"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
)

func TestWithRestartDependents(t *testing.T) {
	ctr := func(svc, deps string) *engine.Container {
		return &engine.Container{Spec: engine.ContainerSpec{Labels: map[string]string{
			compose.LabelService: svc, compose.LabelDependsOn: deps}}}
	}
	cs := []*engine.Container{
		ctr("db", ""),
		ctr("api", "db:service_healthy:true"),
		ctr("worker", "api:service_started:true,cache:service_started:false"),
		ctr("web", "api:service_started:false"),
		ctr("cache", ""),
	}
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"db"}, []string{"db", "api", "worker"}},
		{[]string{"api"}, []string{"api", "worker"}},
		{[]string{"cache"}, []string{"cache"}},
		{[]string{"web"}, []string{"web"}},
	} {
		got := withRestartDependents(cs, tc.in)
		slices.Sort(got)
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("restart %v: %v, want %v", tc.in, got, tc.want)
		}
	}
}
