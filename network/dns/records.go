// Package dns is berth's embedded resolver: one server per container,
// listening on 127.0.0.11:53 (UDP and TCP) inside the container's network
// namespace, answering the names of the containers that share a network
// with it and forwarding every other name to upstream resolvers from the
// host's namespace (so a host resolver on 127.0.0.53 works).
//
// Records are kept in one JSON file per network (Store), written atomically
// under an flock by whoever attaches or detaches a container; every server
// re-reads a file when its modification time or size changes, so names
// appear and disappear without signalling anyone. Answers for container
// names have TTL 0 (the addresses change when containers are re-created);
// several containers with one name (replicas of a service) all answer, in
// random order; a name that exists with no IPv6 address gets an empty
// NOERROR (NODATA) answer to AAAA, never NXDOMAIN.
package dns

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/berthdev/berth/engine/state"
)

// Record is one container's names and addresses on one network.
type Record struct {
	// ID is the container ID; Name the container name.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Names are every name the container answers to on this network
	// (container name, service name, aliases), lower case.
	Names []string `json:"names"`
	IPv4  string   `json:"ipv4,omitempty"`
	IPv6  string   `json:"ipv6,omitempty"`
}

// Store keeps the records of networks, one file per network in a directory.
type Store struct {
	dir string
}

// NewStore returns a record store in dir (created on first write).
func NewStore(dir string) *Store { return &Store{dir: dir} }

type recordFile struct {
	Records []Record `json:"records"`
}

// Path is the file holding network's records.
func (s *Store) Path(network string) string { return filepath.Join(s.dir, network+".json") }
func (s *Store) lock(network string) string { return filepath.Join(s.dir, network+".lock") }

func (s *Store) update(ctx context.Context, network string, fn func([]Record) []Record) error {
	l, err := state.Lock(ctx, s.lock(network))
	if err != nil {
		return err
	}
	defer l.Unlock()
	rs, err := s.Read(network)
	if err != nil {
		return err
	}
	out := fn(rs)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return state.WriteJSON(s.Path(network), recordFile{Records: out}, false)
}

// Put adds or replaces the record of r.ID on network.
func (s *Store) Put(ctx context.Context, network string, r Record) error {
	return s.update(ctx, network, func(rs []Record) []Record {
		rs = slices.DeleteFunc(rs, func(x Record) bool { return x.ID == r.ID })
		return append(rs, r)
	})
}

// Delete removes container id's record from network (none is success).
func (s *Store) Delete(ctx context.Context, network, id string) error {
	if _, err := os.Stat(s.Path(network)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return s.update(ctx, network, func(rs []Record) []Record {
		return slices.DeleteFunc(rs, func(x Record) bool { return x.ID == id })
	})
}

// Read returns network's records (none when it has no file), without a lock.
func (s *Store) Read(network string) ([]Record, error) {
	var f recordFile
	if err := state.ReadJSON(s.Path(network), &f); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return f.Records, nil
}

// Drop removes network's record file.
func (s *Store) Drop(ctx context.Context, network string) error {
	l, err := state.Lock(ctx, s.lock(network))
	if err != nil {
		return err
	}
	defer l.Unlock()
	removeTemps(s.Path(network))
	for _, p := range []string{s.Path(network), s.lock(network)} {
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
	removeTemps(s.Path(network))
	return nil
}

func removeTemps(path string) {
	ms, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp*"))
	for _, m := range ms {
		_ = os.Remove(m)
	}
}

// Networks lists the networks that have a record file.
func (s *Store) Networks() []string {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
