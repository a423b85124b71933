package scheduler

import (
	"sort"
	"strconv"
	"time"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
)

// Observed is what exists of one project: its containers, networks and
// volumes as the engine and the managers report them. It is built by
// observe (one List per kind) and is the planner's only view of the world.
type Observed struct {
	Project    string
	Containers []ObservedContainer
	// Networks and Volumes are keyed by their real name ("app_default").
	Networks map[string]ObservedNetwork
	Volumes  map[string]ObservedVolume
}

// ObservedContainer is one container of the project, read from its labels
// and state.
type ObservedContainer struct {
	ID      string
	Name    string
	Service string
	// Number is the replica number (container-number label); 0 for one-offs.
	Number int
	OneOff bool
	// ConfigHash is the config-hash label the container was created with.
	ConfigHash string
	// ImageID is the image the container was created from ("sha256:…").
	ImageID string
	Status  engine.Status
	// Health is "", "starting", "healthy" or "unhealthy".
	Health   string
	ExitCode int
	Created  time.Time
	Labels   map[string]string
	// Networks are the networks the container joins (real names, from its
	// spec); Volumes the named volumes it mounts.
	Networks []string
	Volumes  []string
}

// Running reports whether the container's process is up (paused and
// restarting count as up: up leaves them alone).
func (c ObservedContainer) Running() bool {
	switch c.Status {
	case engine.StatusRunning, engine.StatusPaused, engine.StatusRestarting:
		return true
	}
	return false
}

// ObservedNetwork is a network of the project (or an external one).
type ObservedNetwork struct {
	Name   string
	ID     string
	Labels map[string]string
}

// ObservedVolume is a volume of the project (or an external one).
type ObservedVolume struct {
	Name   string
	Labels map[string]string
}

// observedFromContainer reads the compose labels of c.
func observedFromContainer(c *engine.Container) ObservedContainer {
	l := c.Spec.Labels
	n, _ := strconv.Atoi(l[compose.LabelNumber])
	oc := ObservedContainer{
		ID:         c.ID,
		Name:       c.Name,
		Service:    l[compose.LabelService],
		Number:     n,
		OneOff:     l[compose.LabelOneoff] == "True",
		ConfigHash: l[compose.LabelConfigHash],
		ImageID:    l[compose.LabelImage],
		Status:     c.State.Status,
		ExitCode:   c.State.ExitCode,
		Created:    c.Created,
		Labels:     l,
	}
	if c.State.Health != nil {
		oc.Health = c.State.Health.Status
	}
	if c.Spec.Network.Mode == "" || c.Spec.Network.Mode == "bridge" {
		for _, i := range c.Spec.Network.Interfaces {
			oc.Networks = append(oc.Networks, i.Network)
		}
	}
	for _, m := range c.Spec.Mounts {
		if m.Volume != "" {
			oc.Volumes = append(oc.Volumes, m.Volume)
		}
	}
	return oc
}

// byService groups the non-one-off containers by service, each group
// sorted by number then creation time.
func (o *Observed) byService() map[string][]ObservedContainer {
	m := map[string][]ObservedContainer{}
	for _, c := range o.Containers {
		if c.OneOff {
			continue
		}
		m[c.Service] = append(m[c.Service], c)
	}
	for _, cs := range m {
		sort.SliceStable(cs, func(i, j int) bool {
			if cs[i].Number != cs[j].Number {
				return cs[i].Number < cs[j].Number
			}
			return cs[i].Created.Before(cs[j].Created)
		})
	}
	return m
}
