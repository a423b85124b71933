package scheduler

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
)

// Ps lists the project's containers (running ones unless opts.All), as
// docker compose ps. One-off containers are included, as docker compose
// does.
func (s *Service) Ps(ctx context.Context, project string, opts PsOptions) ([]ContainerSummary, error) {
	cs, err := s.projectContainers(ctx, project, filter{services: opts.Services, oneOff: true, runningOnly: !opts.All})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]ContainerSummary, 0, len(cs))
	for _, c := range cs {
		out = append(out, summarize(c, now))
	}
	return out, nil
}

func summarize(c *engine.Container, now time.Time) ContainerSummary {
	l := c.Spec.Labels
	n, _ := strconv.Atoi(l[compose.LabelNumber])
	cs := ContainerSummary{
		ID: c.ID, Name: c.Name, Names: []string{c.Name}, Image: c.Spec.Image,
		Command:    commandLine(c),
		Project:    l[compose.LabelProject],
		Service:    l[compose.LabelService],
		Created:    c.Created.Unix(),
		State:      string(c.State.Status),
		Status:     StatusText(c.State, now),
		ExitCode:   c.State.ExitCode,
		Labels:     l,
		LabelsText: labelsText(l),
		Number:     n,
		RunningFor: units.HumanDuration(now.Sub(c.Created)) + " ago",
		Publishers: []PortPublisher{},
	}
	if c.State.Health != nil {
		cs.Health = c.State.Health.Status
	}
	var ports []string
	for _, p := range c.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		cs.Publishers = append(cs.Publishers, PortPublisher{URL: ip, TargetPort: int(p.ContainerPort),
			PublishedPort: int(p.HostPort), Protocol: proto})
		ports = append(ports, fmt.Sprintf("%s:%d->%d/%s", ip, p.HostPort, p.ContainerPort, proto))
	}
	cs.Ports = strings.Join(ports, ", ")
	return cs
}

func labelsText(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}

// commandLine is the container's process as ps shows it, quoted.
func commandLine(c *engine.Container) string {
	args := append([]string{c.Path}, c.Args...)
	if c.Path == "" {
		args = append(append([]string{}, c.Spec.Entrypoint...), c.Spec.Cmd...)
	}
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]#~") {
			args[i] = "'" + strings.ReplaceAll(a, "'", `'"'"'`) + "'"
		}
	}
	return strconv.Quote(strings.Join(args, " "))
}

// StatusText is docker's status column: "Up 5 minutes (healthy)",
// "Exited (0) 2 minutes ago", "Created", …
func StatusText(st engine.ContainerState, now time.Time) string {
	switch st.Status {
	case engine.StatusRunning, engine.StatusPaused:
		s := "Up " + units.HumanDuration(now.Sub(st.StartedAt))
		if st.Status == engine.StatusPaused {
			return s + " (Paused)"
		}
		if st.Health != nil {
			switch st.Health.Status {
			case engine.HealthStarting:
				s += " (health: starting)"
			case "":
			default:
				s += " (" + st.Health.Status + ")"
			}
		}
		if !st.MonitorAlive {
			s += " (monitor lost)"
		}
		return s
	case engine.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
	case engine.StatusExited:
		if st.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
	case engine.StatusCreated:
		return "Created"
	case engine.StatusRemoving:
		return "Removal In Progress"
	case engine.StatusDead:
		return "Dead"
	}
	return string(st.Status)
}

// ProjectSummary is one line of ls.
type ProjectSummary struct {
	Name        string `json:"Name"`
	Status      string `json:"Status"`
	ConfigFiles string `json:"ConfigFiles"`
}

// Ls lists every project with containers under this root, with its
// status ("running(2), exited(1)") and config files; only projects with a
// running container unless all.
func (s *Service) Ls(ctx context.Context, all bool) ([]ProjectSummary, error) {
	cs, err := s.engine.List(ctx, engine.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	type acc struct {
		states map[string]int
		files  []string
	}
	projects := map[string]*acc{}
	for _, c := range cs {
		name := c.Spec.Labels[compose.LabelProject]
		if name == "" {
			continue
		}
		a := projects[name]
		if a == nil {
			a = &acc{states: map[string]int{}}
			projects[name] = a
		}
		a.states[string(c.State.Status)]++
		if f := c.Spec.Labels[compose.LabelConfigFiles]; f != "" {
			for _, x := range strings.Split(f, ",") {
				if !contains(a.files, x) {
					a.files = append(a.files, x)
				}
			}
		}
	}
	var out []ProjectSummary
	for _, name := range sortedKeys(projects) {
		a := projects[name]
		if !all && a.states[string(engine.StatusRunning)] == 0 {
			continue
		}
		var parts []string
		for _, st := range sortedKeys(a.states) {
			parts = append(parts, fmt.Sprintf("%s(%d)", st, a.states[st]))
		}
		out = append(out, ProjectSummary{Name: name, Status: strings.Join(parts, ", "), ConfigFiles: strings.Join(a.files, ",")})
	}
	return out, nil
}
