package network

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestTableGenerationsAndTornFiles(t *testing.T) {
	tb := &table{base: filepath.Join(t.TempDir(), "endpoints")}
	ctx := context.Background()
	put := func(id string) {
		t.Helper()
		err := tb.update(ctx, func(d *tableDoc) (bool, error) {
			return true, d.put(&endpointRecord{ContainerID: id})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("a")
	put("b")
	put("c") // gen 3, in file 0; gen 2 (a, b) in file 1
	d, err := tb.read()
	if err != nil || d.Gen != 3 || len(d.Endpoints) != 3 {
		t.Fatalf("read = %+v, %v", d, err)
	}
	// A writer killed while writing gen 4 over file 1: the newest intact
	// document (gen 3) is read.
	if err := os.WriteFile(tb.slotPath(1), []byte(`{"gen":4,"endpoints":{"a":{"contai`), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, _ := tb.read(); d.Gen != 3 || len(d.Endpoints) != 3 {
		t.Fatalf("after a torn write: %+v", d)
	}
	put("d")
	if d, _ := tb.read(); d.Gen != 4 || len(d.Endpoints) != 4 {
		t.Fatalf("after the next write: gen %d, %d endpoints", d.Gen, len(d.Endpoints))
	}
	// Emptied: neither file keeps what was.
	err = tb.update(ctx, func(d *tableDoc) (bool, error) {
		clear(d.Endpoints)
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		b, _ := os.ReadFile(tb.slotPath(i))
		if strings.Contains(string(b), `"a"`) {
			t.Errorf("file %d still holds a record: %s", i, b)
		}
	}
}

// benchRecord is a complete record the size of a compose service's: one
// network, one published port, two aliases.
func benchRecord(i int) *endpointRecord {
	id := fmt.Sprintf("%064x", i+1)
	return &endpointRecord{ContainerID: id, Name: fmt.Sprintf("bench-svc%d-1", i), Project: "bench",
		Pid: 100000 + i, PidStart: 123456789, Networks: []string{"bench_default"},
		Endpoints: []Endpoint{{Network: "bench_default", ContainerID: id, ContainerName: fmt.Sprintf("bench-svc%d-1", i),
			Interface: "eth0", HostVeth: hostVethName(id, "bench_default"), IPv4: fmt.Sprintf("10.89.%d.%d", i/250, 2+i%250),
			PrefixLen: 16, Gateway: "10.89.0.1", MAC: "02:42:0a:59:00:02", Aliases: []string{fmt.Sprintf("svc%d", i), id[:12]}}},
		Ports:    []PortOptions{{ContainerPort: 80}},
		Complete: true, Attacher: 100000 + i, AttacherStart: 123456789, Token: fmt.Sprintf("%016x", i)}
}

// BenchmarkTableClaimPut is the table's part of one attach in a root with
// 200 attached containers: a fresh process (a new table value, as a
// container's monitor has) claims the entry, then puts the complete
// record. The entry is removed again by another table value, outside the
// timing, as another process's detach would.
func BenchmarkTableClaimPut(b *testing.B) {
	base := filepath.Join(b.TempDir(), "endpoints")
	ctx := context.Background()
	other := &table{base: base}
	err := other.update(ctx, func(d *tableDoc) (bool, error) {
		for i := range 200 {
			if err := d.put(benchRecord(i)); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	rec := benchRecord(200)
	b.ResetTimer()
	for range b.N {
		m := &Manager{endpoints: &table{base: base}}
		intent := *rec
		intent.Endpoints, intent.Complete = nil, false
		if err := m.claimEndpoint(ctx, &intent); err != nil {
			b.Fatal(err)
		}
		if err := m.putEndpoint(ctx, rec, rec.Token); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := (&Manager{endpoints: other}).deleteEndpoint(ctx, rec.ContainerID, rec.Token); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// putAll stores recs in the table in one update.
func putAll(t testing.TB, tb *table, recs ...*endpointRecord) {
	t.Helper()
	err := tb.update(context.Background(), func(d *tableDoc) (bool, error) {
		for _, r := range recs {
			if err := d.put(r); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readAll reads the table's records by ID with a table value of its own
// (no document of this process to reuse).
func readAll(t testing.TB, base string) map[string]*endpointRecord {
	t.Helper()
	d, err := (&table{base: base}).read()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := d.records()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*endpointRecord{}
	for _, r := range recs {
		out[r.ContainerID] = r
	}
	return out
}

func TestTableRecordsRoundTrip(t *testing.T) {
	base := filepath.Join(t.TempDir(), "endpoints")
	tb := &table{base: base}
	want := map[string]*endpointRecord{}
	for i := range 5 {
		r := benchRecord(i)
		want[r.ContainerID] = r
	}
	// IDs that need escaping still make one line each.
	for _, id := range []string{"with \"quotes\"", "two\nlines", "caf\u00e9\u2028"} {
		want[id] = &endpointRecord{ContainerID: id, Name: id + "\n", Links: map[string]string{"a\nb": "c"}}
	}
	putAll(t, tb, slices.Collect(maps.Values(want))...)
	putAll(t, tb, &endpointRecord{ContainerID: "gone"})
	err := tb.update(context.Background(), func(d *tableDoc) (bool, error) {
		delete(d.Endpoints, "gone")
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, base); !reflect.DeepEqual(got, want) {
		t.Fatalf("read back:\n%#v\nwant\n%#v", got, want)
	}
	// The files are JSON that encoding/json decodes as before.
	d, _ := tb.read()
	b, err := os.ReadFile(tb.slotPath(d.slot))
	if err != nil {
		t.Fatal(err)
	}
	var plain struct {
		Gen       uint64                     `json:"gen"`
		Endpoints map[string]*endpointRecord `json:"endpoints"`
	}
	if err := json.Unmarshal(b, &plain); err != nil || plain.Gen != d.Gen || !reflect.DeepEqual(plain.Endpoints, want) {
		t.Fatalf("as plain JSON: gen %d, %v, equal %v", plain.Gen, err, reflect.DeepEqual(plain.Endpoints, want))
	}
}

func TestTableReadsEarlierFormat(t *testing.T) {
	base := filepath.Join(t.TempDir(), "endpoints")
	want := map[string]*endpointRecord{}
	for i := range 3 {
		r := benchRecord(i)
		want[r.ContainerID] = r
	}
	// As the table wrote it before it had a format of its own, with the
	// records indented (as a hand-edited file may be) and the tail of a
	// longer earlier write.
	eps, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	old := `{"gen":7,"endpoints":` + string(eps) + "}\ntrailing bytes of a longer earlier write"
	if err := os.WriteFile(base+".0", []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, base); !reflect.DeepEqual(got, want) {
		t.Fatalf("read back:\n%#v\nwant\n%#v", got, want)
	}
	extra := benchRecord(3)
	putAll(t, &table{base: base}, extra)
	want[extra.ContainerID] = extra
	if got := readAll(t, base); !reflect.DeepEqual(got, want) {
		t.Fatalf("after an update:\n%#v\nwant\n%#v", got, want)
	}
	if d, _ := (&table{base: base}).read(); d.Gen != 8 || d.slot != 1 {
		t.Fatalf("after an update: gen %d in file %d, want 8 in 1", d.Gen, d.slot)
	}
}

func TestTableTornNewestFallsBack(t *testing.T) {
	base := filepath.Join(t.TempDir(), "endpoints")
	tb := &table{base: base}
	for i := range 20 {
		putAll(t, tb, benchRecord(i))
	}
	// gen 20 in file 1 (20 records), gen 19 in file 0 (19 records).
	older, err := os.ReadFile(tb.slotPath(0))
	if err != nil {
		t.Fatal(err)
	}
	// What a reader may meet while gen 21 is written over gen 19, or
	// after its writer was killed: gen 21's head with gen 19's tail.
	next := (&tableDoc{Gen: 21, Endpoints: map[string]json.RawMessage{}}).clone()
	d, _ := (&table{base: base}).read()
	maps.Copy(next.Endpoints, d.Endpoints)
	delete(next.Endpoints, benchRecord(0).ContainerID) // shorter: its tail is not gen 19's
	if err := next.put(benchRecord(20)); err != nil {
		t.Fatal(err)
	}
	written := next.encode()
	for _, cut := range []int{10, 40, len(written) / 2, len(written) - 20, len(written) - 3} {
		spliced := append(written[:cut:cut], older[min(cut, len(older)):]...)
		if err := os.WriteFile(tb.slotPath(0), spliced, 0o600); err != nil {
			t.Fatal(err)
		}
		if d, _ := (&table{base: base}).read(); d.Gen != 20 || len(d.Endpoints) != 20 {
			t.Fatalf("gen 21 cut at %d: read gen %d, %d records; want gen 20, 20", cut, d.Gen, len(d.Endpoints))
		}
		if d, _ := tb.read(); d.Gen != 20 || len(d.Endpoints) != 20 {
			t.Fatalf("gen 21 cut at %d, this process: read gen %d, %d records; want gen 20, 20", cut, d.Gen, len(d.Endpoints))
		}
	}
	// Written whole but not truncated (a writer killed in between): the
	// document is read, what follows ignored.
	if err := os.WriteFile(tb.slotPath(0), append(slices.Clip(written), older...), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, _ := (&table{base: base}).read(); d.Gen != 21 || len(d.Endpoints) != 20 {
		t.Fatalf("not truncated: read gen %d, %d records; want gen 21, 20", d.Gen, len(d.Endpoints))
	}
}

func TestTableCacheFollowsOtherWriters(t *testing.T) {
	base := filepath.Join(t.TempDir(), "endpoints")
	mine, theirs := &table{base: base}, &table{base: base}
	putAll(t, mine, benchRecord(0))
	// The generation this process wrote is not decoded again: a file
	// changed behind the table's back with the same generation (which no
	// writer does) goes unnoticed.
	d, _ := mine.read()
	forged := d.clone()
	if err := forged.put(benchRecord(1)); err != nil {
		t.Fatal(err)
	}
	if err := writeInPlace(mine.slotPath(d.slot), forged.encode()); err != nil {
		t.Fatal(err)
	}
	if d, _ := mine.read(); len(d.Endpoints) != 1 {
		t.Fatalf("decoded its own generation again: %d records", len(d.Endpoints))
	}
	if err := writeInPlace(mine.slotPath(d.slot), d.encode()); err != nil {
		t.Fatal(err)
	}
	// Another process writes: this one reads its change, and its own next
	// update keeps it.
	putAll(t, theirs, benchRecord(2))
	if d, _ := mine.read(); d.Gen != 2 || len(d.Endpoints) != 2 {
		t.Fatalf("after another writer: gen %d, %d records", d.Gen, len(d.Endpoints))
	}
	putAll(t, mine, benchRecord(3))
	putAll(t, theirs, benchRecord(4))
	putAll(t, mine, benchRecord(5))
	got := readAll(t, base)
	for _, i := range []int{0, 2, 3, 4, 5} {
		if got[benchRecord(i).ContainerID] == nil {
			t.Errorf("record %d lost", i)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d records, want 5", len(got))
	}
	// What a caller changes in its copy is not in the next one's.
	d, _ = mine.read()
	clear(d.Endpoints)
	if d, _ := mine.read(); len(d.Endpoints) != 5 {
		t.Fatalf("a caller's change leaked into the cache: %d records", len(d.Endpoints))
	}
}

func TestTableConcurrentWriters(t *testing.T) {
	base := filepath.Join(t.TempDir(), "endpoints")
	tables := []*table{{base: base}, {base: base}}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			tb := tables[i%2]
			ctx := context.Background()
			// Each one claims, then completes, as an attach does.
			rec := benchRecord(i)
			intent := *rec
			intent.Endpoints, intent.Complete = nil, false
			m := &Manager{endpoints: tb}
			if err := m.claimEndpoint(ctx, &intent); err != nil {
				errs <- err
				return
			}
			if _, err := tb.read(); err != nil { // a reader meanwhile
				errs <- err
				return
			}
			errs <- m.putEndpoint(ctx, rec, rec.Token)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, base)
	for i := range 100 {
		if r := got[benchRecord(i).ContainerID]; r == nil || !r.Complete {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	if d, _ := (&table{base: base}).read(); d.Gen != 200 {
		t.Errorf("gen %d, want 200 (one per update)", d.Gen)
	}
}
