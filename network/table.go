package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"

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
//     one, and a half-written file does not decode (its checksum fails);
//   - a writer killed in the middle loses its own change only.
//
// Every attach updates the table twice (its intent, then its record), in
// its container's short-lived monitor process, and the table holds every
// container of the root; so a record stays the JSON it was read as until
// someone asks for it (tableDoc), the document is cut into records by
// lines and checked by a CRC instead of being parsed (encode), and the
// last document this process read or wrote is used again while the
// generation at the head of its file says it is still the one there.
type table struct {
	base string

	mu   sync.Mutex
	last *tableDoc // read or written by this process; never modified
}

// tableDoc is the document: the records by container ID, each one the JSON
// it was read or written as. Only the records asked for are decoded (get,
// records); RawMessage values are never written into, so copies of the
// map share them.
type tableDoc struct {
	Gen       uint64                     `json:"gen"`
	Endpoints map[string]json.RawMessage `json:"endpoints"`
	slot      int                        // the file it was read from
}

// get decodes the record of a container (nil when it has none).
func (d *tableDoc) get(id string) (*endpointRecord, error) {
	raw, ok := d.Endpoints[id]
	if !ok {
		return nil, nil
	}
	r := &endpointRecord{}
	if err := json.Unmarshal(raw, r); err != nil {
		return nil, fmt.Errorf("endpoint record of %s: %w", id, err)
	}
	return r, nil
}

// put stores r as its container's record.
func (d *tableDoc) put(r *endpointRecord) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("endpoint record of %s: %w", r.ContainerID, err)
	}
	d.Endpoints[r.ContainerID] = raw
	return nil
}

// records decodes every record, by container ID.
func (d *tableDoc) records() ([]*endpointRecord, error) {
	out := make([]*endpointRecord, 0, len(d.Endpoints))
	for _, id := range d.ids() {
		r, err := d.get(id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ids are the containers with a record, sorted.
func (d *tableDoc) ids() []string {
	return slices.Sorted(maps.Keys(d.Endpoints))
}

// clone is a copy of d whose map the caller may change.
func (d *tableDoc) clone() *tableDoc {
	return &tableDoc{Gen: d.Gen, Endpoints: maps.Clone(d.Endpoints), slot: d.slot}
}

func (t *table) slotPath(i int) string { return t.base + "." + strconv.Itoa(i) }

// read returns the newest document (empty when there is none), a copy the
// caller may change. It decodes one file only when it can (the generation
// is the document's first field, read from the head of each file), and
// none when that generation of that file is the one this process last read
// or wrote.
func (t *table) read() (*tableDoc, error) {
	gen, ok, err := t.heads()
	if err != nil {
		return nil, err
	}
	order := []int{0, 1}
	if !ok[0] || (ok[1] && gen[1] > gen[0]) {
		order = []int{1, 0}
	}
	for _, i := range order {
		if !ok[i] {
			continue
		}
		if d := t.cached(i, gen[i]); d != nil {
			return d, nil
		}
		b, err := os.ReadFile(t.slotPath(i))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("endpoint table: %w", err)
		}
		if d, err := decodeDoc(b); err == nil {
			d.slot = i
			t.remember(d)
			return d.clone(), nil
		}
		// torn, or being written: the other one
	}
	return &tableDoc{slot: 1, Endpoints: map[string]json.RawMessage{}}, nil
}

// cached is a copy of the document this process last read or wrote, if
// it is generation gen of file slot.
func (t *table) cached(slot int, gen uint64) *tableDoc {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil || t.last.slot != slot || t.last.Gen != gen {
		return nil
	}
	return t.last.clone()
}

// remember keeps d, which nobody may change any more, as the document
// this process last read or wrote.
func (t *table) remember(d *tableDoc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = d
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
// fn may change the document but not keep it.
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
	data := d.encode()
	older := d.slot
	d.slot = 1 - older
	if err := writeInPlace(t.slotPath(d.slot), data); err != nil {
		return fmt.Errorf("endpoint table: %w", err)
	}
	if len(d.Endpoints) == 0 {
		// Nothing attached any more: the older file must not keep what
		// was (`down` leaves no trace of a project).
		if err := writeInPlace(t.slotPath(older), data); err != nil {
			return fmt.Errorf("endpoint table: %w", err)
		}
	}
	t.remember(d)
	return nil
}

// castagnoli is the CRC-32C table (computed by the CPU where it can).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encode writes the document as
//
//	{"gen":G,"len":L,"endpoints":{
//	"id1":{...},
//	"id2":{...}
//	},"crc":C}
//
// with the records by ID, one a line (compact JSON has no newline), L the
// length of the endpoints object and C the CRC-32C of all that comes
// before ,"crc": — JSON that any decoder reads as before, with the
// generation first for peekGen.
func (d *tableDoc) encode() []byte {
	ids := d.ids()
	n := 2 // the endpoints object's length: {}
	for _, id := range ids {
		// \n"id":{...} and a comma, or the \n before } after the last
		n += 3 + keyLen(id) + len(d.Endpoints[id])
	}
	b := make([]byte, 0, n+80)
	b = append(b, `{"gen":`...)
	b = strconv.AppendUint(b, d.Gen, 10)
	b = append(b, `,"len":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"endpoints":{`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '\n')
		b = appendKey(b, id)
		b = append(b, ':')
		b = append(b, d.Endpoints[id]...)
	}
	if len(ids) > 0 {
		b = append(b, '\n')
	}
	b = append(b, '}')
	sum := crc32.Checksum(b, castagnoli)
	b = append(b, `,"crc":`...)
	b = strconv.AppendUint(b, uint64(sum), 10)
	return append(b, "}\n"...)
}

// appendKey appends id as a JSON string.
func appendKey(b []byte, id string) []byte {
	if !plainKey(id) {
		q, _ := json.Marshal(id) // a string always encodes
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, id...)
	return append(b, '"')
}

// keyLen is the length of what appendKey appends.
func keyLen(id string) int {
	if !plainKey(id) {
		return len(appendKey(nil, id))
	}
	return len(id) + 2
}

// plainKey reports whether id is a JSON string once quoted, as container
// IDs are.
func plainKey(id string) bool {
	for i := range len(id) {
		if c := id[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// errTorn is a document that is not whole: a write was cut short, or is
// under way.
var errTorn = errors.New("endpoint table: torn document")

// decodeDoc reads a document: the table's own format by its lines once
// the checksum holds, any other JSON (files of earlier versions) with
// encoding/json. What follows the document is ignored, as a JSON decoder
// does: a writer truncates the file after writing it.
func decodeDoc(b []byte) (*tableDoc, error) {
	gen, rest, ok := cutUint(b, `{"gen":`)
	if !ok {
		return nil, errTorn
	}
	n, rest, ok := cutUint(rest, `,"len":`)
	if !ok {
		return decodeJSONDoc(b)
	}
	rest, ok = bytes.CutPrefix(rest, []byte(`,"endpoints":`))
	if !ok || uint64(len(rest)) < n {
		return nil, errTorn
	}
	body := rest[:n]
	signed := b[:len(b)-len(rest)+len(body)]
	sum, rest, ok := cutUint(rest[n:], `,"crc":`)
	if !ok || !bytes.HasPrefix(rest, []byte("}")) || sum != uint64(crc32.Checksum(signed, castagnoli)) {
		return nil, errTorn
	}
	eps, err := splitRecords(body)
	if err != nil {
		return nil, err
	}
	return &tableDoc{Gen: gen, Endpoints: eps}, nil
}

// cutUint cuts prefix and the number after it from the head of b.
func cutUint(b []byte, prefix string) (uint64, []byte, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(prefix))
	if !ok {
		return 0, nil, false
	}
	end := 0
	for end < len(rest) && end < 20 && '0' <= rest[end] && rest[end] <= '9' {
		end++
	}
	v, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	return v, rest[end:], err == nil
}

// splitRecords cuts the endpoints object written by encode into its
// records, one a line. The values share b's memory, capped so that no
// append can write into it.
func splitRecords(b []byte) (map[string]json.RawMessage, error) {
	inner, open := bytes.CutPrefix(b, []byte("{"))
	inner, closed := bytes.CutSuffix(inner, []byte("}"))
	if !open || !closed {
		return nil, errors.New("endpoint table: the endpoints are not an object")
	}
	out := make(map[string]json.RawMessage, bytes.Count(inner, []byte("\n")))
	for line := range bytes.Lines(inner) {
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte(","))
		if len(line) == 0 {
			continue
		}
		id, raw, err := splitRecord(line)
		if err != nil {
			return nil, err
		}
		out[id] = raw
	}
	return out, nil
}

// splitRecord cuts one line, "id":{...}, into the ID and the record.
func splitRecord(line []byte) (string, json.RawMessage, error) {
	end := 1
	for end < len(line) && line[end] != '"' {
		if line[end] == '\\' {
			end++
		}
		end++
	}
	if len(line) == 0 || line[0] != '"' || end+1 >= len(line) || line[end+1] != ':' {
		return "", nil, fmt.Errorf("endpoint table: bad record line %.40q", line)
	}
	key, raw := line[:end+1], line[end+2:]
	var id string
	if bytes.IndexByte(key, '\\') < 0 {
		id = string(key[1:end])
	} else if err := json.Unmarshal(key, &id); err != nil {
		return "", nil, fmt.Errorf("endpoint table: bad record key %q: %w", key, err)
	}
	return id, raw[:len(raw):len(raw)], nil
}

// decodeJSONDoc decodes a document that is not in the table's own format
// (as written before it had one). The records are compacted, so that each
// fits on one line when written again.
func decodeJSONDoc(b []byte) (*tableDoc, error) {
	d := &tableDoc{}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(d); err != nil {
		return nil, fmt.Errorf("endpoint table: %w", err)
	}
	if d.Endpoints == nil {
		d.Endpoints = map[string]json.RawMessage{}
	}
	for id, raw := range d.Endpoints {
		if bytes.IndexByte(raw, '\n') >= 0 {
			var c bytes.Buffer
			if err := json.Compact(&c, raw); err != nil {
				return nil, fmt.Errorf("endpoint table: record of %s: %w", id, err)
			}
			d.Endpoints[id] = c.Bytes()
		}
	}
	return d, nil
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

// heads reads the generation at the head of each file without decoding
// it (ok[i] false when file i has none).
func (t *table) heads() (gen [2]uint64, ok [2]bool, err error) {
	buf := make([]byte, 32)
	for i := range 2 {
		f, err := os.Open(t.slotPath(i))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return gen, ok, fmt.Errorf("endpoint table: %w", err)
		}
		n, _ := f.ReadAt(buf, 0)
		_ = f.Close()
		gen[i], ok[i] = peekGen(buf[:n])
	}
	return gen, ok, nil
}

// newestGen reads the highest generation at the head of the two files
// without decoding them (false when neither has one). A reader that
// decoded generation G and sees G here again knows the table is unchanged.
func (t *table) newestGen() (uint64, bool) {
	gen, ok, _ := t.heads()
	switch {
	case ok[0] && ok[1]:
		return max(gen[0], gen[1]), true
	case ok[0]:
		return gen[0], true
	default:
		return gen[1], ok[1]
	}
}
