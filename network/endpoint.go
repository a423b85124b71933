package network

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
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
	// Attacher and AttacherStart identify the process that attaches (or
	// attached) the container: an incomplete record whose attacher is
	// alive is an attach in flight, one whose attacher is gone was killed.
	Attacher      int    `json:"attacher"`
	AttacherStart uint64 `json:"attacher_start"`
	// Token tells this attach's record from a later one's.
	Token string `json:"token"`
}

// inFlight reports whether the record is an attach still being made by a
// live process.
func (r *endpointRecord) inFlight() bool {
	if r.Complete {
		return false
	}
	st, err := pidStart(r.Attacher)
	return err == nil && st == r.AttacherStart
}

// validID restricts container IDs to what is safe in file and rule names.
func validID(id string) error {
	if id == "" || len(id) > 128 || strings.Trim(id, "0123456789abcdefABCDEF-_") != "" {
		return fmt.Errorf("container id %q: only hex digits, '-' and '_' are allowed: %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

// The records of the root's attached containers live in one table
// (table.go) at <run>/networks/endpoints.{0,1}: the intent (pid, networks,
// attacher) goes in before any kernel object is made, the complete record
// when Attach is done, and the entry goes when Detach is.

// readEndpoint reads a container's record (ErrNotFound when it has none).
func (m *Manager) readEndpoint(id string) (*endpointRecord, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	d, err := m.endpoints.read()
	if err != nil {
		return nil, err
	}
	r, err := d.get(id)
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, fmt.Errorf("container %s has no network endpoints: %w", id, errdefs.ErrNotFound)
	}
	return r, nil
}

// putEndpoint stores rec in place of the entry with token (or of none when
// token is ""); it fails when the entry is another attach's.
func (m *Manager) putEndpoint(ctx context.Context, rec *endpointRecord, token string) error {
	return m.endpoints.update(ctx, func(d *tableDoc) (bool, error) {
		cur, err := d.get(rec.ContainerID)
		if err != nil {
			return false, err
		} else if cur != nil && cur.Token != token {
			return false, fmt.Errorf("container %s: its network endpoints changed meanwhile (another attach?): %w", rec.Name, errdefs.ErrConflict)
		} else if cur == nil && token != "" {
			return false, fmt.Errorf("container %s: its network endpoints were removed meanwhile: %w", rec.Name, errdefs.ErrConflict)
		}
		return true, d.put(rec)
	})
}

// claimEndpoint stores an attach's intent. A record the container still
// has (a restart, a retried attach) is detached first.
func (m *Manager) claimEndpoint(ctx context.Context, rec *endpointRecord) error {
	for attempt := 0; ; attempt++ {
		var held bool
		err := m.endpoints.update(ctx, func(d *tableDoc) (bool, error) {
			if _, held = d.Endpoints[rec.ContainerID]; held {
				return false, nil
			}
			return true, d.put(rec)
		})
		if err != nil || !held {
			return err
		}
		if attempt > 0 {
			return fmt.Errorf("container %s is being attached by another process: %w", rec.Name, errdefs.ErrConflict)
		}
		if err := m.Detach(ctx, rec.ContainerID); err != nil {
			return err
		}
	}
}

// deleteEndpoint removes the entry with token (gone is success).
func (m *Manager) deleteEndpoint(ctx context.Context, id, token string) error {
	return m.endpoints.update(ctx, func(d *tableDoc) (bool, error) {
		if cur, err := d.get(id); err != nil || cur == nil || cur.Token != token {
			return false, err
		}
		delete(d.Endpoints, id)
		return true, nil
	})
}

// tryDetach detaches a container unless its attach is in flight or keep
// says to keep it; it reports whether it is detached.
func (m *Manager) tryDetach(ctx context.Context, id string, keep func(*endpointRecord) bool) (bool, error) {
	rec, err := m.readEndpoint(id)
	if errdefs.IsNotFound(err) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	if rec.inFlight() || (keep != nil && keep(rec)) {
		return false, nil
	}
	if err := m.cleanup(ctx, rec); err != nil {
		return false, err
	}
	return true, m.deleteEndpoint(ctx, id, rec.Token)
}

// endpointRecords lists the root's records (complete or not), by ID.
func (m *Manager) endpointRecords() ([]*endpointRecord, error) {
	d, err := m.endpoints.read()
	if err != nil {
		return nil, err
	}
	return d.records()
}

// endpointIDs lists the containers with a record.
func (m *Manager) endpointIDs() ([]string, error) {
	d, err := m.endpoints.read()
	if err != nil {
		return nil, err
	}
	return d.ids(), nil
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

// hostVethName is the host-side veth of one attach (its record's token) on
// a network: found from the intent alone, and new on every attach, so that
// a restarted container never meets the pair of its previous run, which
// the kernel may still be removing with the old namespace.
func hostVethName(token, network string) string {
	h := sha256.Sum256([]byte(token + "\x00" + network))
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
