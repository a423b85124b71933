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
// (the intent: Networks and Pid) is written before any kernel object is
// made, so that whatever a killed Attach made can be found and removed.
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
	// torn: the file did not decode (a writer killed mid-write).
	torn bool
}

// validID restricts container IDs to what is safe in file and rule names.
func validID(id string) error {
	if id == "" || len(id) > 128 || strings.Trim(id, "0123456789abcdefABCDEF-_") != "" {
		return fmt.Errorf("container id %q: only hex digits, '-' and '_' are allowed: %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

// One file per attached container, <run>/networks/endpoints/<id>.json, is
// both the container's endpoint lock (flock, held by whoever attaches or
// detaches it) and its record, rewritten in place under the lock: first the
// intent (pid, networks) before any kernel object is made, then the
// complete record. No temporary file, no rename: on a busy disk every
// metadata operation on an attach's path costs. A reader without the lock
// may catch a rewrite half done; it decodes the first JSON value and takes
// a file that does not decode for a record being written (or, under the
// lock, for one a killed writer tore: then everything is cleaned).

// readEndpoint reads a container's record: ErrNotFound when there is none
// (no file, or an empty one: an attach that wrote nothing yet), a record
// with Torn set when it does not decode.
func (m *Manager) readEndpoint(id string) (*endpointRecord, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(m.endpointFile(id))
	if (err != nil && errors.Is(err, fs.ErrNotExist)) || (err == nil && len(data) == 0) {
		return nil, fmt.Errorf("container %s has no network endpoints: %w", id, errdefs.ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	r := &endpointRecord{}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(r); err != nil || r.ContainerID != id {
		return &endpointRecord{ContainerID: id, Name: id, torn: true}, nil
	}
	return r, nil
}

// lockEndpoint takes a container's endpoint lock (creating its file).
func (m *Manager) lockEndpoint(ctx context.Context, id string) (*state.FileLock, error) {
	return state.Lock(ctx, m.endpointFile(id))
}

// tryDetach detaches a container unless someone holds its endpoint lock
// (an attach or detach in flight) or keep says to keep it; it reports
// whether it did.
func (m *Manager) tryDetach(ctx context.Context, id string, keep func(*endpointRecord) bool) (bool, error) {
	l, err := state.TryLock(m.endpointFile(id))
	if errors.Is(err, state.ErrLocked) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer l.Unlock()
	if rec, err := m.readEndpoint(id); err == nil && !rec.torn && keep != nil && keep(rec) {
		return false, nil
	}
	if err := m.detachLocked(ctx, id); err != nil {
		return false, err
	}
	return true, m.dropEndpointFiles(id)
}

// dropEndpointFiles removes a detached container's file; the caller holds
// its lock.
func (m *Manager) dropEndpointFiles(id string) error {
	return removeFile(m.endpointFile(id))
}

// writeRecord rewrites rec in the held endpoint file, in place.
func writeRecord(l *state.FileLock, rec *endpointRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	f := l.File()
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Truncate(int64(len(data)))
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

// endpointRecords lists the records of the root that decode (complete or
// not).
func (m *Manager) endpointRecords() ([]*endpointRecord, error) {
	ids, err := m.endpointIDs()
	if err != nil {
		return nil, err
	}
	var out []*endpointRecord
	for _, id := range ids {
		r, err := m.readEndpoint(id)
		if err != nil || r.torn {
			continue // removed meanwhile, being written, or not ours
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
