// Package watch turns file changes under a set of host paths into batches
// of changed paths: inotify (through fsnotify) on every directory of the
// watched trees, .dockerignore-style matchers to drop what no one wants,
// and a debounce that waits for the paths to settle, as docker compose's
// `watch` does.
//
// It knows nothing of services or containers: the scheduler maps a batch
// onto its rules. A Watcher is used by one Run; its goroutines all stop
// when Run's context is done.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sync/errgroup"
)

// Options configure a Watcher.
type Options struct {
	// Paths are the absolute files and directories to watch. A path that
	// does not exist yet is watched from its closest existing parent and
	// reported once it appears.
	Paths []string
	// Keep selects the changed paths worth reporting (nil: all). It runs
	// before the debounce, so a stream of ignored changes (a log file, a
	// build directory) never holds a batch back.
	Keep func(path string) bool
	// Quiet is the debounce period (0: QuietPeriod).
	Quiet time.Duration
	// OnError receives errors that do not stop the watch: an overflowed
	// kernel queue, a directory that could not be watched (nil: dropped).
	OnError func(error)
}

// Watcher watches Options.Paths recursively.
type Watcher struct {
	opts  Options
	roots map[string]bool
	fsw   *fsnotify.Watcher
}

// New starts watching: every directory under the paths has its inotify
// watch when New returns, so a change made after it is reported. Close
// releases the watches of a Watcher that is not Run.
func New(opts Options) (_ *Watcher, err error) {
	if len(opts.Paths) == 0 {
		return nil, errors.New("watch: no path to watch")
	}
	if opts.Quiet <= 0 {
		opts.Quiet = QuietPeriod
	}
	if opts.Keep == nil {
		opts.Keep = func(string) bool { return true }
	}
	if opts.OnError == nil {
		opts.OnError = func(error) {}
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w (too many inotify instances? see sysctl fs.inotify.max_user_instances)", err)
	}
	w := &Watcher{opts: opts, roots: map[string]bool{}, fsw: fsw}
	defer func() {
		if err != nil {
			_ = fsw.Close()
		}
	}()
	for _, p := range opts.Paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("watch: %q is not an absolute path", p)
		}
		w.roots[filepath.Clean(p)] = true
	}
	for root := range w.roots {
		start, err := existingAncestor(root)
		if err != nil {
			return nil, err
		}
		if err := w.addTree(start, nil); err != nil {
			return nil, err
		}
		// The parent of an existing root too, alone: a root removed
		// and made again (a branch switch) is watched again.
		if parent := filepath.Dir(root); start == root && parent != string(filepath.Separator) {
			if err := w.add(parent); err != nil {
				return nil, err
			}
		}
	}
	return w, nil
}

// Close releases the inotify instance. Run closes it itself.
func (w *Watcher) Close() error { return w.fsw.Close() }

// Run reports batches of changed paths (absolute, sorted, each once) to
// fn, one batch at a time, until ctx is done; it returns nil then. Changes
// made while fn runs make the next batch.
func (w *Watcher) Run(ctx context.Context, fn func(ctx context.Context, batch []string)) error {
	defer w.fsw.Close()
	eg, ctx := errgroup.WithContext(ctx)
	changed := make(chan string)
	eg.Go(func() error {
		defer close(changed)
		return w.pump(ctx, changed)
	})
	batches := Debounce(ctx, w.opts.Quiet, changed)
	eg.Go(func() error {
		for b := range batches {
			fn(ctx, b)
		}
		return nil
	})
	return eg.Wait()
}

// pump reads inotify events until ctx is done, watches new directories,
// and sends the paths worth reporting.
func (w *Watcher) pump(ctx context.Context, out chan<- string) error {
	send := func(p string) bool {
		if !w.reported(p) || !w.opts.Keep(p) {
			return true
		}
		select {
		case out <- p:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				err = fmt.Errorf("too many changes at once, some were missed: save those files again, or raise fs.inotify.max_queued_events: %w", err)
			}
			w.opts.OnError(err)
		case e, ok := <-w.fsw.Events:
			if !ok {
				return nil
			}
			if e.Name == "" {
				continue
			}
			if !e.Has(fsnotify.Create) {
				if !send(e.Name) {
					return nil
				}
				continue
			}
			// A new directory: watch it and report what it holds already
			// (`mkdir -p a/b && touch a/b/c` is over before the watch on
			// a exists).
			if err := w.addTree(e.Name, send); err != nil && !errors.Is(err, fs.ErrNotExist) {
				w.opts.OnError(err)
			}
			if ctx.Err() != nil {
				return nil
			}
		}
	}
}

// addTree watches dir and the directories under it that lead to or lie in
// a root, calling found (when not nil) on every path it meets, dir first.
// A file is watched through its directory.
func (w *Watcher) addTree(dir string, found func(string) bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone since
			}
			return err
		}
		if found != nil && !found(p) {
			return filepath.SkipAll
		}
		if !d.IsDir() {
			if p == dir && found == nil { // a watched file: its directory holds the watch
				return w.add(filepath.Dir(p))
			}
			return nil
		}
		if !w.related(p) {
			return filepath.SkipDir
		}
		if err := w.add(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		return nil
	})
}

func (w *Watcher) add(dir string) error {
	if err := w.fsw.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	return nil
}

// related reports whether dir is in a root or on the way to one (a root
// that does not exist yet is watched from above).
func (w *Watcher) related(dir string) bool {
	for root := range w.roots {
		if IsChild(root, dir) || IsChild(dir, root) {
			return true
		}
	}
	return false
}

// reported reports whether a change of p concerns a root: p is in one,
// and is not a root directory itself (a directory's own attributes are
// not a change of its content).
func (w *Watcher) reported(p string) bool {
	if w.roots[p] {
		fi, err := os.Lstat(p)
		return err != nil || !fi.IsDir()
	}
	for root := range w.roots {
		if IsChild(root, p) {
			return true
		}
	}
	return false
}

// existingAncestor is path or its closest existing parent; watching the
// whole file system is refused.
func existingAncestor(path string) (string, error) {
	for {
		if _, err := os.Lstat(path); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("watch %s: %w", path, err)
		}
		parent := filepath.Dir(path)
		if parent == path {
			break
		}
		path = parent
	}
	if path == string(filepath.Separator) {
		return "", fmt.Errorf("watch: refusing to watch the root directory")
	}
	return path, nil
}
