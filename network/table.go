package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berthdev/berth/engine/state"
)

// table is the root's endpoint records: one small JSON document kept in two
// files, <base>.0 and <base>.1, rewritten in place by turns under an flock
// on <base>.lock. Each write carries a generation one higher than the
// document it changed and goes to the file that does not hold that
// document; a reader takes the highest generation that decodes. So:
//   - no file is created, renamed or removed once both exist (on a busy
//     disk, metadata operations are what an attach would wait for);
//   - a reader needs no lock: the file being written is never the newest
//     one, and a half-written file does not decode;
//   - a writer killed in the middle loses its own change only.
type table struct {
	base string
}

// tableDoc is the document.
type tableDoc struct {
	Gen       uint64                     `json:"gen"`
	Endpoints map[string]*endpointRecord `json:"endpoints"`
	slot      int                        // the file it was read from
}

func (t *table) slotPath(i int) string { return t.base + "." + strconv.Itoa(i) }

// read returns the newest document (empty when there is none). It decodes
// one file only when it can: the generation is the document's first field,
// read from the head of each file.
func (t *table) read() (*tableDoc, error) {
	var data [2][]byte
	var gen [2]uint64
	var ok [2]bool
	for i := range 2 {
		b, err := os.ReadFile(t.slotPath(i))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		data[i] = b
		gen[i], ok[i] = peekGen(b)
	}
	order := []int{0, 1}
	if !ok[0] || (ok[1] && gen[1] > gen[0]) {
		order = []int{1, 0}
	}
	for _, i := range order {
		if !ok[i] {
			continue
		}
		d := &tableDoc{slot: i}
		if json.NewDecoder(bytes.NewReader(data[i])).Decode(d) == nil {
			if d.Endpoints == nil {
				d.Endpoints = map[string]*endpointRecord{}
			}
			return d, nil
		}
		// torn, or being written: the other one
	}
	return &tableDoc{slot: 1, Endpoints: map[string]*endpointRecord{}}, nil
}

// peekGen reads the generation from the head of a document, {"gen":N,...
func peekGen(b []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"gen":`))
	if !ok {
		return 0, false
	}
	end := bytes.IndexAny(rest, ",}")
	if end < 0 {
		return 0, false
	}
	g, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	return g, err == nil
}

// update runs fn on the newest document under the lock and writes it back,
// as the next generation into the other file, when fn reports a change.
func (t *table) update(ctx context.Context, fn func(*tableDoc) (bool, error)) error {
	l, err := state.Lock(ctx, t.base+".lock")
	if err != nil {
		return err
	}
	defer l.Unlock()
	d, err := t.read()
	if err != nil {
		return err
	}
	changed, err := fn(d)
	if err != nil || !changed {
		return err
	}
	d.Gen++
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := writeInPlace(t.slotPath(1-d.slot), data); err != nil {
		return err
	}
	if len(d.Endpoints) == 0 {
		// Nothing attached any more: the older file must not keep what
		// was (`down` leaves no trace of a project).
		return writeInPlace(t.slotPath(d.slot), data)
	}
	return nil
}

// writeInPlace overwrites path with data without replacing the file.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// files are the table's file names (for watching it).
func (t *table) files() (dir string, names []string) {
	return filepath.Dir(t.base), []string{filepath.Base(t.slotPath(0)), filepath.Base(t.slotPath(1))}
}

// newestGen reads the highest generation at the head of the two files
// without decoding them (false when neither has one). A reader that
// decoded generation G and sees G here again knows the table is unchanged.
func (t *table) newestGen() (uint64, bool) {
	var best uint64
	found := false
	buf := make([]byte, 32)
	for i := range 2 {
		f, err := os.Open(t.slotPath(i))
		if err != nil {
			continue
		}
		n, _ := f.ReadAt(buf, 0)
		_ = f.Close()
		if g, ok := peekGen(buf[:n]); ok && (!found || g > best) {
			best, found = g, true
		}
	}
	return best, found
}
