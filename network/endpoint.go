package network

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine/state"
)

// Endpoint is a container's place on one network.
type Endpoint struct {
	Network       string `json:"network"`
	ContainerID   string `json:"container_id"`
	ContainerName string `json:"container_name"`
	// Interface is the name inside the container ("eth0"); HostVeth the
	// host-side end ("bv…").
	Interface string `json:"interface"`
	HostVeth  string `json:"host_veth"`
	IPv4      string `json:"ipv4"`
	PrefixLen int    `json:"prefix_len"`
	Gateway   string `json:"gateway"`
	IPv6      string `json:"ipv6,omitempty"`
	// IPv6PrefixLen and IPv6Gateway are set with IPv6.
	IPv6PrefixLen int      `json:"ipv6_prefix_len,omitempty"`
	IPv6Gateway   string   `json:"ipv6_gateway,omitempty"`
	MAC           string   `json:"mac"`
	Aliases       []string `json:"aliases,omitempty"`
}

// endpointRecord is one container's attachment on disk. The first version
// is written before any kernel object is made (Networks and Pid set), so
// that whatever a killed Attach made can be found and removed.
type endpointRecord struct {
	ContainerID string `json:"container_id"`
	Name        string `json:"name"`
	Project     string `json:"project,omitempty"`
	Pid         int    `json:"pid"`
	// PidStart is the pid's start time (/proc/PID/stat field 22): a reused
	// pid does not make a dead container look alive.
	PidStart  uint64            `json:"pid_start"`
	Networks  []string          `json:"networks"`
	Endpoints []Endpoint        `json:"endpoints,omitempty"`
	Ports     []PortOptions     `json:"ports,omitempty"`
	Links     map[string]string `json:"links,omitempty"`
	Upstreams []string          `json:"upstreams,omitempty"`
	// Complete is set once Attach finished.
	Complete bool `json:"complete"`
}

// validID restricts container IDs to what is safe in file and rule names.
func validID(id string) error {
	if id == "" || len(id) > 128 || strings.Trim(id, "0123456789abcdefABCDEF-_") != "" {
		return fmt.Errorf("container id %q: only hex digits, '-' and '_' are allowed: %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (m *Manager) readEndpoint(id string) (*endpointRecord, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	r := &endpointRecord{}
	if err := state.ReadJSON(m.endpointFile(id), r); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("container %s has no network endpoints: %w", id, errdefs.ErrNotFound)
		}
		return nil, err
	}
	return r, nil
}

func (m *Manager) endpointLock(id string) string {
	return filepath.Join(m.endpointDir(), id+".lock")
}

// lockEndpoint takes a container's endpoint lock, held by whoever attaches
// or detaches it.
func (m *Manager) lockEndpoint(ctx context.Context, id string) (*state.FileLock, error) {
	return state.Lock(ctx, m.endpointLock(id))
}

// tryDetach detaches a container unless someone holds its endpoint lock
// (an attach or detach in flight); it reports whether it did.
func (m *Manager) tryDetach(ctx context.Context, id string, keep func(*endpointRecord) bool) (bool, error) {
	l, err := state.TryLock(m.endpointLock(id))
	if errors.Is(err, state.ErrLocked) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer l.Unlock()
	if rec, err := m.readEndpoint(id); err == nil && keep != nil && keep(rec) {
		return false, nil
	}
	if err := m.detachLocked(ctx, id); err != nil {
		return false, err
	}
	return true, m.dropEndpointFiles(id)
}

// dropEndpointFiles removes a detached container's lock file and any
// temporary file a killed writer left; the caller holds the lock.
func (m *Manager) dropEndpointFiles(id string) error {
	ms, _ := filepath.Glob(filepath.Join(m.endpointDir(), "."+id+".json.tmp*"))
	for _, p := range append(ms, m.endpointLock(id)) {
		if err := removeFile(p); err != nil {
			return err
		}
	}
	return nil
}

// writeIntent writes rec into the held endpoint lock file (in place: the
// lock file is never renamed). A reader tolerates a torn write: an intent
// that does not decode stands for "unknown", and everything is cleaned.
func writeIntent(l *state.FileLock, rec *endpointRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	f := l.File()
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(data, 0)
	return err
}

// readIntent reads the intent an attach left in the lock file: nil when
// there is none (no file, or an empty one), a record naming every network
// of the root when it does not decode.
func (m *Manager) readIntent(id string) (*endpointRecord, error) {
	data, err := os.ReadFile(m.endpointLock(id))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(data) == 0) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	r := &endpointRecord{}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(r); err != nil || r.ContainerID != id {
		r = &endpointRecord{ContainerID: id, Name: id}
		r.Networks, _ = m.allNetworks()
	}
	return r, nil
}

// allNetworks are the names of the root's networks and of networks that
// still have leases.
func (m *Manager) allNetworks() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	ls, _ := m.leases.Networks()
	ents, err := os.ReadDir(m.netDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !strings.HasPrefix(n, ".") {
			ls = append(ls, n)
		}
	}
	for _, n := range ls {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

func (m *Manager) writeEndpoint(r *endpointRecord) error {
	// Volatile (run dir): rename is enough, no fsync.
	return state.WriteJSON(m.endpointFile(r.ContainerID), r, false)
}

// records lists every endpoint record of the root.
func (m *Manager) endpointRecords() ([]*endpointRecord, error) {
	ents, err := os.ReadDir(m.endpointDir())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []*endpointRecord
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(id, ".") {
			continue
		}
		r, err := m.readEndpoint(id)
		if err != nil {
			continue // removed meanwhile, or not ours
		}
		out = append(out, r)
	}
	return out, nil
}

// endpointsOf lists the endpoints on one network, including attaches in
// flight or killed (known from their intent).
func (m *Manager) endpointsOf(network string) ([]Endpoint, error) {
	recs, err := m.endpointRecords()
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, r := range recs {
		have[r.ContainerID] = true
	}
	ids, err := m.endpointIDs()
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if !have[id] {
			if r, err := m.readIntent(id); err == nil && r != nil {
				recs = append(recs, r)
			}
		}
	}
	var out []Endpoint
	for _, r := range recs {
		found := false
		for _, ep := range r.Endpoints {
			if ep.Network == network {
				out = append(out, ep)
				found = true
			}
		}
		if !found && !r.Complete {
			for _, n := range r.Networks {
				if n == network { // a half-made attach: still holds things
					out = append(out, Endpoint{Network: network, ContainerID: r.ContainerID, ContainerName: r.Name})
				}
			}
		}
	}
	return out, nil
}

// alive reports whether the process whose namespace the container uses
// still exists (same pid, same start time).
func (r *endpointRecord) alive() bool {
	st, err := pidStart(r.Pid)
	return err == nil && st == r.PidStart
}

// pidStart reads a process's start time in clock ticks since boot.
func pidStart(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("pid %d: %w", pid, errdefs.ErrInvalidArgument)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, errdefs.ErrNotFound)
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("process %d: bad stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("process %d: bad stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22
}

// hostVethName is the host-side veth of a container on a network: fixed by
// the pair, so a sweep finds it without any record.
func hostVethName(containerID, network string) string {
	h := sha256.Sum256([]byte(containerID + "\x00" + network))
	return "bv" + hex.EncodeToString(h[:6])
}

// recoverLeases rebuilds a network's leases from the attached containers'
// records (ipam calls it when a lease file was torn by a killed writer).
// Attaches in flight have no addresses in their intent: their retry or
// the sweep sorts them out.
func (m *Manager) recoverLeases(network string) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	recs, _ := m.endpointRecords()
	for _, r := range recs {
		for _, e := range r.Endpoints {
			if e.Network != network {
				continue
			}
			for _, s := range []string{e.IPv4, e.IPv6} {
				if a, err := netip.ParseAddr(s); err == nil {
					out[a] = r.ContainerID
				}
			}
		}
	}
	m.log.Warn("network: lease file was damaged; rebuilt from the attached containers", "network", network, "leases", len(out))
	return out
}
