package testutil

import (
	"slices"
	"testing"
	"time"
)

// Measure runs fn n times (after one unmeasured warm-up run unless n == 1)
// and reports the median, min and max in milliseconds as benchmark metrics:
// `go tool task bench` prints them. fn returns the duration it measured
// itself (so set-up and tear-down inside fn are not counted), or a negative
// duration to have Measure time the whole call.
func Measure(b *testing.B, n int, fn func(i int) time.Duration) (median, min, max time.Duration) {
	b.Helper()
	if n > 1 {
		fn(-1)
	}
	ds := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		d := fn(i)
		if d < 0 {
			d = time.Since(t0)
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	median, min, max = ds[len(ds)/2], ds[0], ds[len(ds)-1]
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(median), "ms-median")
	b.ReportMetric(ms(min), "ms-min")
	b.ReportMetric(ms(max), "ms-max")
	b.ReportMetric(0, "ns/op") // the per-op figure of the harness means nothing here
	return median, min, max
}
