package graph

import (
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// FromProject builds the graph of the project's enabled services. A service
// depends on:
//   - each depends_on entry (condition, required and restart kept);
//   - each service in links ("db" or "db:alias");
//   - the service X of network_mode, ipc or pid "service:X";
//   - each service in volumes_from ("X", "X:ro"; "container:…" is not a
//     service and is skipped).
//
// Edges other than depends_on are required, with condition service_started.
func FromProject(p *types.Project) (*Graph, error) {
	nodes := make([]string, 0, len(p.Services))
	edges := make(map[string][]Edge, len(p.Services))
	for name, s := range p.Services {
		nodes = append(nodes, name)
		edges[name] = ServiceEdges(s)
	}
	return New(nodes, edges)
}

// ServiceEdges returns the dependencies of one service, as FromProject
// sees them, depends_on first (by name), then links, network_mode, ipc,
// pid and volumes_from in declaration order.
func ServiceEdges(s types.ServiceConfig) []Edge {
	var edges []Edge
	for _, name := range sortedKeys(s.DependsOn) {
		d := s.DependsOn[name]
		edges = append(edges, Edge{To: name, Required: d.Required, Kind: "depends_on", Condition: d.Condition, Restart: d.Restart})
	}
	started := func(to, kind string) Edge {
		return Edge{To: to, Required: true, Kind: kind, Condition: types.ServiceConditionStarted}
	}
	for _, l := range s.Links {
		name, _, _ := strings.Cut(l, ":")
		edges = append(edges, started(name, "links"))
	}
	for _, m := range []struct{ kind, mode string }{{"network_mode", s.NetworkMode}, {"ipc", s.Ipc}, {"pid", s.Pid}} {
		if name, ok := strings.CutPrefix(m.mode, types.ServicePrefix); ok && name != "" {
			edges = append(edges, started(name, m.kind))
		}
	}
	for _, v := range s.VolumesFrom {
		if strings.HasPrefix(v, types.ContainerPrefix) {
			continue
		}
		name, _, _ := strings.Cut(v, ":")
		edges = append(edges, started(name, "volumes_from"))
	}
	return edges
}
