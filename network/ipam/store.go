package ipam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine/state"
)

// Store keeps the address leases of networks, one file per network in a
// directory. It is safe for concurrent use by many processes.
//
// Each network's file is both its lock (flock) and its data, rewritten in
// place under the lock: no temporary file, no rename, no new inode per
// change (an attach is on the path of every container start). Readers take
// the same lock. A rewrite puts the whole new JSON value at offset 0 and
// then truncates, so a writer killed after the write leaves a file whose
// first JSON value is the new state; one killed in the middle of a write
// (possible only for files over a page) leaves a file that does not decode,
// and the leases are then rebuilt with Recover.
type Store struct {
	dir     string
	recover func(network string) map[netip.Addr]string
}

// NewStore returns a lease store in dir (created on first write). recover
// rebuilds a network's leases from what the caller knows (the attached
// containers' addresses) when its file is damaged; nil means start empty.
func NewStore(dir string, recover func(network string) map[netip.Addr]string) *Store {
	return &Store{dir: dir, recover: recover}
}

// leaseFile is the on-disk form of one network's leases.
type leaseFile struct {
	// Leases maps an address to its owner (a container ID).
	Leases map[netip.Addr]string `json:"leases"`
	// Last is the last address handed out per family ("4", "6").
	Last map[string]netip.Addr `json:"last,omitempty"`
}

func (s *Store) path(network string) string { return filepath.Join(s.dir, network+".leases") }

// update runs fn on the network's leases under its lock and writes them back
// when fn reports a change.
func (s *Store) update(ctx context.Context, network string, fn func(*leaseFile) (bool, error)) error {
	l, err := state.Lock(ctx, s.path(network))
	if err != nil {
		return err
	}
	defer l.Unlock()
	f := l.File()
	lf, err := s.decode(network, f)
	if err != nil {
		return err
	}
	changed, err := fn(lf)
	if err != nil || !changed {
		return err
	}
	data, err := json.Marshal(lf)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(append(data, '\n'), 0); err != nil {
		return fmt.Errorf("leases of %s: %w", network, err)
	}
	return f.Truncate(int64(len(data) + 1))
}

// decode reads the leases from the locked file.
func (s *Store) decode(network string, f *os.File) (*leaseFile, error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<30))
	if err != nil {
		return nil, err
	}
	lf := &leaseFile{}
	if len(data) > 0 {
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(lf); err != nil {
			// Torn by a killed writer: rebuild from the owners' side.
			lf = &leaseFile{}
			if s.recover != nil {
				lf.Leases = s.recover(network)
			}
		}
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

// Leases returns network's leases (address → owner).
func (s *Store) Leases(ctx context.Context, network string) (map[netip.Addr]string, error) {
	if _, err := os.Stat(s.path(network)); errors.Is(err, fs.ErrNotExist) {
		return map[netip.Addr]string{}, nil
	}
	var out map[netip.Addr]string
	err := s.update(ctx, network, func(lf *leaseFile) (bool, error) {
		out = lf.Leases
		return false, nil
	})
	return out, err
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
		if n := e.Name(); filepath.Ext(n) == ".leases" && n[0] != '.' {
			out = append(out, n[:len(n)-len(".leases")])
		}
	}
	sort.Strings(out)
	return out, nil
}

// Drop removes network's lease file (the network is gone; the caller makes
// sure nothing attaches to it any more).
func (s *Store) Drop(ctx context.Context, network string) error {
	l, err := state.Lock(ctx, s.path(network))
	if err != nil {
		return err
	}
	defer l.Unlock()
	if err := os.Remove(s.path(network)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
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
