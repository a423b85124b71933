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

// read returns the newest document (empty when there is none).
func (t *table) read() (*tableDoc, error) {
	best, found := &tableDoc{slot: 1}, false
	for i := range 2 {
		data, err := os.ReadFile(t.slotPath(i))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		d := &tableDoc{slot: i}
		if json.NewDecoder(bytes.NewReader(data)).Decode(d) != nil {
			continue // torn, or being written
		}
		if !found || d.Gen > best.Gen {
			best, found = d, true
		}
	}
	if best.Endpoints == nil {
		best.Endpoints = map[string]*endpointRecord{}
	}
	return best, nil
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
	f, err := os.OpenFile(t.slotPath(1-d.slot), os.O_RDWR|os.O_CREATE, 0o600)
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
