package main

import (
	"strings"
	"testing"

	"github.com/berthdev/berth/engine/image"
)

func TestHistoryRows(t *testing.T) {
	img := &image.Image{ID: "sha256:" + strings.Repeat("ab", 32),
		Layers: []image.Layer{{UnpackedSize: 1000}, {UnpackedSize: 2_000_000}}}
	raw := []byte(`{"history":[
		{"created":"2026-01-01T00:00:00Z","created_by":"ADD rootfs.tar /"},
		{"created":"2026-01-01T00:00:01Z","created_by":"CMD [\"sh\"]","empty_layer":true},
		{"created":"2026-01-02T00:00:00Z","created_by":"berth commit with a long long long long long long description","comment":"mine"}]}`)
	rows, err := historyRows(img, raw, imageHistoryOptions{human: true})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ id, by, size, comment string }
	var got []row
	for _, r := range rows {
		got = append(got, row{r.ID(), r.CreatedBy(), r.Size(), r.Comment()})
	}
	want := []row{
		{"abababababab", "berth commit with a long long long long long…", "2MB", "mine"},
		{"<missing>", `CMD ["sh"]`, "0B", ""},
		{"<missing>", "ADD rootfs.tar /", "1kB", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	raw2, _ := historyRows(img, raw, imageHistoryOptions{noTrunc: true})
	if raw2[0].ID() != img.ID || raw2[0].Size() != "2000000" || !strings.HasSuffix(raw2[0].CreatedBy(), "description") ||
		raw2[0].CreatedSince() != "2026-01-02T00:00:00Z" {
		t.Errorf("--no-trunc -H=false: %q %q %q %q", raw2[0].ID(), raw2[0].Size(), raw2[0].CreatedBy(), raw2[0].CreatedSince())
	}
}
