package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/engine/state"
	"github.com/containerd/errdefs"
)

// recordVersion is the version of config.json.
const recordVersion = 1

// record is a container's config.json: what Create resolved, written once
// (atomically, synced) and read by every later operation and by the
// monitor (the "monitor" part).
type record struct {
	recordHead
	// Monitor is what the container's monitor runs.
	Monitor monitor.Config `json:"monitor"`
}

// recordHead is a record without its "monitor" part (the same JSON, its
// fields inline): what a Container shows. List decodes only this: the
// monitor's part is nine tenths of the file (the init's seccomp program,
// mounts, limits), and decoding it for every container was most of the
// JSON work of a short-lived command that lists a project.
type recordHead struct {
	Version int           `json:"version"`
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Created time.Time     `json:"created"`
	Spec    ContainerSpec `json:"spec"`
	ImageID string        `json:"image_id"`
	Path    string        `json:"path"`
	Args    []string      `json:"args"`
}

func (e *Engine) configPath(id string) string {
	return filepath.Join(e.paths.Container(id), monitor.ConfigFile)
}

// load reads container id's record: ErrNotFound when there is none (a
// container being created, or removed, has none either).
func (e *Engine) load(id string) (*record, error) {
	var rec record
	if err := e.readRecord(id, &rec, &rec.recordHead); err != nil {
		return nil, err
	}
	return &rec, nil
}

// loadHead is load without the monitor's part.
func (e *Engine) loadHead(id string) (*recordHead, error) {
	var h recordHead
	if err := e.readRecord(id, &h, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// readRecord decodes container id's config.json into v, whose head is h.
func (e *Engine) readRecord(id string, v any, h *recordHead) error {
	if err := state.ReadJSON(e.configPath(id), v); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no such container: %s: %w", id, errdefs.ErrNotFound)
		}
		return fmt.Errorf("container %s: %w", id, err)
	}
	if h.Version != recordVersion {
		return fmt.Errorf("container %s was created by a berth with config v%d (this one reads v%d): %w", id, h.Version, recordVersion, errdefs.ErrFailedPrecondition)
	}
	return nil
}

// resolve finds a container by full id, name, or unique id prefix (docker's
// order) and returns its record.
func (e *Engine) resolve(idOrName string) (*record, error) {
	return resolveAs(e, idOrName, e.load, func(r *record) string { return r.Name })
}

// resolveHead is resolve without the monitor's part of the record.
func (e *Engine) resolveHead(idOrName string) (*recordHead, error) {
	return resolveAs(e, idOrName, e.loadHead, func(h *recordHead) string { return h.Name })
}

// resolveAs is resolve with load reading the record.
func resolveAs[T any](e *Engine, idOrName string, load func(string) (T, error), nameOf func(T) string) (T, error) {
	var none T
	if idOrName == "" {
		return none, fmt.Errorf("container name or id is empty: %w", errdefs.ErrInvalidArgument)
	}
	if isID(idOrName) {
		return load(idOrName)
	}
	name := strings.TrimPrefix(idOrName, "/")
	if validName(name) == nil {
		if b, err := os.ReadFile(monitor.NamePath(e.paths, name)); err == nil {
			if rec, err := load(string(b)); err == nil && nameOf(rec) == name {
				return rec, nil
			}
		}
	}
	if len(idOrName) < 64 && isHex(idOrName) {
		ids, err := e.ids()
		if err != nil {
			return none, err
		}
		var match []string
		for _, id := range ids {
			if strings.HasPrefix(id, idOrName) {
				match = append(match, id)
			}
		}
		if len(match) > 1 {
			return none, fmt.Errorf("container id prefix %q matches %d containers; give more of the id: %w", idOrName, len(match), errdefs.ErrInvalidArgument)
		}
		if len(match) == 1 {
			return load(match[0])
		}
	}
	return none, fmt.Errorf("no such container: %s: %w", idOrName, errdefs.ErrNotFound)
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// ids lists the container directories (complete or not), sorted.
func (e *Engine) ids() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(e.paths.Root, "containers"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var ids []string
	for _, de := range ents {
		if de.IsDir() && isID(de.Name()) {
			ids = append(ids, de.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// observed is a container's state as read from disk, with what it means.
type observed struct {
	st           monitor.State
	monitorAlive bool
	// orphan: the monitor is gone but the container's process lives.
	orphan bool
}

// observe reads container id's state: the monitor's live copy when it is
// from this boot, else the persistent copy; a container whose monitor is
// gone is checked against its process.
func (e *Engine) observe(id string) observed {
	var o observed
	o.monitorAlive = e.monitorAlive(id)
	var live monitor.State
	err := state.ReadJSON(filepath.Join(e.paths.ContainerRun(id), monitor.StateFile), &live)
	if err == nil && (live.BootID == "" || live.BootID == e.boot) {
		o.st = live
	} else {
		var last monitor.State
		if err := state.ReadJSON(filepath.Join(e.paths.Container(id), monitor.LastStateFile), &last); err != nil {
			o.st = monitor.State{Status: monitor.StatusCreated}
			return o
		}
		o.st = last
		if last.BootID != "" && last.BootID != e.boot && active(last.Status) {
			// It was running when the machine went down.
			o.st.Status, o.st.ExitCode, o.st.Pid, o.st.Health = monitor.StatusExited, 255, 0, nil
			o.st.Error = "the host restarted while the container ran"
			return o
		}
	}
	if o.monitorAlive || !active(o.st.Status) {
		return o
	}
	// The monitor died (SIGKILL, OOM) while the container was up.
	if monitor.ProcessAlive(o.st.Pid, o.st.PidStart) {
		o.orphan = true
		if o.st.Status == monitor.StatusRestarting {
			o.st.Status = monitor.StatusRunning
		}
		return o
	}
	o.st.Status, o.st.ExitCode, o.st.Pid = monitor.StatusExited, 255, 0
	o.st.Error = "the container's monitor died; its exit code is unknown"
	return o
}

// active is true for statuses with a process (or one coming).
func active(status string) bool {
	return status == monitor.StatusRunning || status == monitor.StatusPaused || status == monitor.StatusRestarting
}

// container builds the public view of rec with its observed state.
func (e *Engine) container(rec *recordHead, o observed) *Container {
	st := o.st
	c := &Container{
		ID: rec.ID, Name: rec.Name, Created: rec.Created, Spec: rec.Spec,
		ImageID: rec.ImageID, Path: rec.Path, Args: rec.Args,
		Networks: st.Networks, Ports: st.Ports,
	}
	c.State = ContainerState{
		Status:       Status(st.Status),
		Running:      st.Status == monitor.StatusRunning || st.Status == monitor.StatusPaused,
		Paused:       st.Status == monitor.StatusPaused,
		Restarting:   st.Status == monitor.StatusRestarting,
		OOMKilled:    st.OOMKilled,
		Pid:          st.Pid,
		ExitCode:     st.ExitCode,
		Error:        st.Error,
		StartedAt:    st.StartedAt,
		FinishedAt:   st.FinishedAt,
		RestartCount: st.RestartCount,
		MonitorAlive: o.monitorAlive,
	}
	if c.State.Status == "" {
		c.State.Status = StatusCreated
	}
	if st.Health != nil {
		h := &Health{Status: st.Health.Status, FailingStreak: st.Health.FailingStreak}
		for _, p := range st.Health.Log {
			h.Log = append(h.Log, HealthProbe(p))
		}
		c.State.Health = h
	}
	return c
}

// Inspect returns the container named by full id, name or unique id prefix.
func (e *Engine) Inspect(ctx context.Context, idOrName string) (*Container, error) {
	rec, err := e.resolveHead(idOrName)
	if err != nil {
		return nil, err
	}
	return e.container(rec, e.observe(rec.ID)), nil
}

// List returns the containers (running ones unless opts.All) that carry
// opts.Labels, oldest first.
func (e *Engine) List(ctx context.Context, opts ListOptions) ([]*Container, error) {
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := e.loadHead(id)
		if err != nil {
			continue // being created or removed
		}
		if !hasLabels(rec.Spec.Labels, opts.Labels) {
			continue
		}
		c := e.container(rec, e.observe(id))
		if !opts.All && !c.State.Running && !c.State.Restarting {
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		got, ok := have[k]
		if !ok || v != "" && got != v {
			return false
		}
	}
	return true
}
