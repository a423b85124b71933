package network

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTableGenerationsAndTornFiles(t *testing.T) {
	tb := &table{base: filepath.Join(t.TempDir(), "endpoints")}
	ctx := context.Background()
	put := func(id string) {
		t.Helper()
		err := tb.update(ctx, func(d *tableDoc) (bool, error) {
			d.Endpoints[id] = &endpointRecord{ContainerID: id}
			return true, nil
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
