package ipam

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine/state"
)

// Store keeps the address leases of networks, one file per network in Dir.
// It is safe for concurrent use by many processes.
type Store struct {
	dir string
}

// NewStore returns a lease store in dir (created on first write).
func NewStore(dir string) *Store { return &Store{dir: dir} }

// leaseFile is the on-disk form of one network's leases.
type leaseFile struct {
	// Leases maps an address to its owner (a container ID).
	Leases map[netip.Addr]string `json:"leases"`
	// Last is the last address handed out per family ("4", "6").
	Last map[string]netip.Addr `json:"last,omitempty"`
}

func (s *Store) path(network string) string { return filepath.Join(s.dir, network+".json") }
func (s *Store) lock(network string) string { return filepath.Join(s.dir, network+".lock") }

// update runs fn on the network's leases under its lock and writes them back
// when fn reports a change.
func (s *Store) update(ctx context.Context, network string, fn func(*leaseFile) (bool, error)) error {
	l, err := state.Lock(ctx, s.lock(network))
	if err != nil {
		return err
	}
	defer l.Unlock()
	lf, err := s.read(network)
	if err != nil {
		return err
	}
	changed, err := fn(lf)
	if err != nil || !changed {
		return err
	}
	// The lease directory is volatile (under the run dir): atomic rename
	// is enough, no fsync.
	return state.WriteJSON(s.path(network), lf, false)
}

func (s *Store) read(network string) (*leaseFile, error) {
	lf := &leaseFile{}
	if err := state.ReadJSON(s.path(network), lf); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if lf.Leases == nil {
		lf.Leases = map[netip.Addr]string{}
	}
	if lf.Last == nil {
		lf.Last = map[string]netip.Addr{}
	}
	return lf, nil
}

// Allocate leases one address of sub to owner: want when it is valid (an
// ErrConflict naming the holder if another owner has it), else the next
// free one. An owner that already holds an address in sub gets it back, so
// a retried attach is idempotent.
func (s *Store) Allocate(ctx context.Context, network string, sub Subnet, owner string, want netip.Addr) (netip.Addr, error) {
	var got netip.Addr
	err := s.update(ctx, network, func(lf *leaseFile) (bool, error) {
		for a, o := range lf.Leases {
			if o == owner && sub.Prefix.Contains(a) && (!want.IsValid() || a == want) {
				got = a
				return false, nil
			}
		}
		if want.IsValid() {
			if err := sub.Check(want); err != nil {
				return false, err
			}
			if o, ok := lf.Leases[want]; ok {
				return false, fmt.Errorf("address %s is already in use by container %s: %w", want, short(o), errdefs.ErrConflict)
			}
			got = want
		} else {
			fam := family(sub.Prefix.Addr())
			a, err := sub.Next(lf.Last[fam], func(a netip.Addr) bool { _, ok := lf.Leases[a]; return ok })
			if err != nil {
				return false, fmt.Errorf("network %s: %w", network, err)
			}
			got = a
			lf.Last[fam] = a
		}
		lf.Leases[got] = owner
		return true, nil
	})
	return got, err
}

// Release frees every address owner holds on network. Releasing nothing is
// success.
func (s *Store) Release(ctx context.Context, network, owner string) error {
	return s.Prune(ctx, network, func(o string) bool { return o != owner })
}

// Prune frees the leases whose owner keep rejects.
func (s *Store) Prune(ctx context.Context, network string, keep func(owner string) bool) error {
	if _, err := os.Stat(s.path(network)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return s.update(ctx, network, func(lf *leaseFile) (bool, error) {
		changed := false
		for a, o := range lf.Leases {
			if !keep(o) {
				delete(lf.Leases, a)
				changed = true
			}
		}
		return changed, nil
	})
}

// Leases returns network's leases (address → owner), read without a lock.
func (s *Store) Leases(network string) (map[netip.Addr]string, error) {
	lf, err := s.read(network)
	if err != nil {
		return nil, err
	}
	return lf.Leases, nil
}

// Networks lists the networks that have a lease file.
func (s *Store) Networks() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); filepath.Ext(n) == ".json" && n[0] != '.' {
			out = append(out, n[:len(n)-len(".json")])
		}
	}
	sort.Strings(out)
	return out, nil
}

// Drop removes network's lease and lock files (the network is gone; the
// caller makes sure nothing attaches to it any more).
func (s *Store) Drop(ctx context.Context, network string) error {
	l, err := state.Lock(ctx, s.lock(network))
	if err != nil {
		return err
	}
	defer l.Unlock()
	removeTemps(s.path(network))
	for _, p := range []string{s.path(network), s.lock(network)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Clean removes the temporary files a writer killed mid-write left for
// network (taking the network's lock, so no write is in flight).
func (s *Store) Clean(ctx context.Context, network string) error {
	l, err := state.Lock(ctx, s.lock(network))
	if err != nil {
		return err
	}
	defer l.Unlock()
	removeTemps(s.path(network))
	return nil
}

// removeTemps removes the temporary files state.WriteFile makes for path.
func removeTemps(path string) {
	ms, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp*"))
	for _, m := range ms {
		_ = os.Remove(m)
	}
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "4"
	}
	return "6"
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
