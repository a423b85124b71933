package watch

import (
	"context"
	"slices"
	"time"
)

// QuietPeriod is how long the paths must stay still before a batch goes
// out (docker compose's: an editor saving ten files or a `git checkout`
// is one batch).
const QuietPeriod = 500 * time.Millisecond

// Debounce groups the paths read from in into batches: a batch goes out
// once no path has come for quiet, each path once, sorted. While the
// reader is busy with a batch the next one keeps growing, so in is never
// blocked by a slow reader. The returned channel is closed when ctx is
// done or in is closed (after sending what was pending).
func Debounce(ctx context.Context, quiet time.Duration, in <-chan string) <-chan []string {
	out := make(chan []string)
	go func() {
		defer close(out)
		pending := map[string]struct{}{} // seen since the last quiet period
		ready := map[string]struct{}{}   // quiet, waiting for the reader
		timer := time.NewTimer(quiet)
		timer.Stop()
		var fire <-chan time.Time
		var send chan<- []string
		var batch []string
		settle := func() {
			for p := range pending {
				ready[p] = struct{}{}
			}
			clear(pending)
			batch = sortedKeys(ready)
			if len(batch) > 0 {
				send = out
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case p, ok := <-in:
				if !ok {
					settle()
					if len(batch) > 0 {
						select {
						case out <- batch:
						case <-ctx.Done():
						}
					}
					return
				}
				pending[p] = struct{}{}
				timer.Reset(quiet)
				fire = timer.C
			case <-fire:
				fire = nil
				settle()
			case send <- batch:
				send, batch = nil, nil
				clear(ready)
			}
		}
	}()
	return out
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
