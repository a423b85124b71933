package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"github.com/berthdev/berth/engine/state"
)

// download is one layer blob transfer, shared between the goroutine that
// writes it (fetch) and the unpacker, which reads the file as it grows, so
// that a layer is unpacked while it downloads.
type download struct {
	digest string
	size   int64
	// final is where the blob lives once stored (the ingest file is
	// renamed there).
	final string

	mu      sync.Mutex
	cond    *sync.Cond
	path    string // the file being written, or the stored blob
	written int64  // bytes in the file that readers may read
	done    bool   // verified (or failed: err)
	err     error
}

func newDownload(digest string, size int64, final string) *download {
	d := &download{digest: digest, size: size, final: final}
	d.cond = sync.NewCond(&d.mu)
	return d
}

// publish says that path holds written bytes so far.
func (d *download) publish(path string, written int64) {
	d.mu.Lock()
	d.path, d.written = path, written
	d.mu.Unlock()
	d.cond.Broadcast()
}

// finish ends the download: err nil means the blob is complete and its
// digest verified. Only the first call counts.
func (d *download) finish(err error) {
	d.mu.Lock()
	if !d.done {
		d.done, d.err = true, err
	}
	d.mu.Unlock()
	d.cond.Broadcast()
}

// isDone reports whether the download ended.
func (d *download) isDone() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

// open returns a reader of the whole blob that follows the file as it is
// written and reports io.EOF only once the digest is verified (and the
// download's error if it fails).
func (d *download) open(ctx context.Context) (io.ReadCloser, error) {
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		d.cond.Broadcast()
		d.mu.Unlock()
	})
	d.mu.Lock()
	for d.path == "" && !d.done && ctx.Err() == nil {
		d.cond.Wait()
	}
	path, err := d.path, d.err
	d.mu.Unlock()
	if err != nil {
		stop()
		return nil, err
	}
	if ctx.Err() != nil {
		stop()
		return nil, ctx.Err()
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		// Renamed into the store meanwhile, or dropped as corrupt.
		if f, err = os.Open(d.final); err != nil {
			d.mu.Lock()
			for !d.done && ctx.Err() == nil {
				d.cond.Wait()
			}
			derr := d.err
			d.mu.Unlock()
			if derr != nil {
				err = derr
			}
		}
	}
	if err != nil {
		stop()
		return nil, err
	}
	return &followReader{ctx: ctx, d: d, f: f, stop: stop}, nil
}

type followReader struct {
	ctx  context.Context
	d    *download
	f    *os.File
	off  int64
	stop func() bool
}

func (r *followReader) Read(p []byte) (int, error) {
	r.d.mu.Lock()
	for r.d.written <= r.off && !r.d.done && r.ctx.Err() == nil {
		r.d.cond.Wait()
	}
	avail, done, err := r.d.written-r.off, r.d.done, r.d.err
	r.d.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if cerr := r.ctx.Err(); cerr != nil {
		return 0, cerr
	}
	if avail <= 0 && done {
		return 0, io.EOF
	}
	if int64(len(p)) > avail {
		p = p[:avail]
	}
	n, rerr := r.f.ReadAt(p, r.off)
	r.off += int64(n)
	if rerr == io.EOF && n > 0 {
		rerr = nil
	}
	return n, rerr
}

func (r *followReader) Close() error {
	r.stop()
	return r.f.Close()
}

// writeError is a failure to write a download locally: retrying the
// transfer does not help.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// diskHint says what to do when the disk is full.
func diskHint(err error, dir string) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &kindError{msg: fmt.Sprintf("%v: free space on the filesystem of %s (berth image prune, berth system df)", err, dir),
			kind: errdefs.ErrResourceExhausted, cause: err}
	}
	return err
}

// retryBackoff is the wait before the n-th retry of a broken download.
func retryBackoff(n int) time.Duration { return time.Duration(n*n) * 200 * time.Millisecond }

// maxRetries bounds resumptions of one blob download.
const maxRetries = 3

// fetch downloads a layer blob from ep into the store, resuming a partial
// download left in ingest/ (HTTP Range) and a transfer that breaks midway.
// It holds the blob's flock, so a blob is downloaded once also across
// processes. progress receives the bytes in the file so far.
func (s *Store) fetch(ctx context.Context, ep *endpoint, d *download, progress func(cur int64)) (err error) {
	hexd, err := blobHex(d.digest)
	if err != nil {
		return err
	}
	lock, err := state.Lock(ctx, s.blobLock(hexd))
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if s.hasBlob(d.digest) {
		d.publish(s.blobPath(d.digest), d.size)
		d.finish(nil)
		return nil
	}
	path := s.ingestPath(hexd)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		_ = f.Close()
		if errors.Is(err, errdefs.ErrDataLoss) {
			_ = os.Remove(path) // corrupt: the next pull starts over
		}
		d.finish(err)
	}()
	h := sha256.New()
	off, err := io.Copy(h, f) // what an earlier, interrupted pull got
	if err != nil {
		return err
	}
	if off > d.size {
		if err := f.Truncate(0); err != nil {
			return err
		}
		off, h = 0, sha256.New()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	d.publish(path, off)
	progress(off)
	var lastErr error
	for attempt := 0; off < d.size; attempt++ {
		if attempt > maxRetries {
			return fmt.Errorf("layer %s: download failed after %d attempts (%d of %d bytes kept; pull again to resume): %w",
				ShortID(d.digest), attempt, off, d.size, lastErr)
		}
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(retryBackoff(attempt)):
			}
		}
		n, err := s.fetchRange(ctx, ep, d, f, h, off, progress)
		off += n
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var werr *writeError
		if errdefs.IsNotFound(err) || errdefs.IsUnauthorized(err) || errdefs.IsDataLoss(err) || errors.As(err, &werr) {
			return diskHint(err, s.root)
		}
		s.log.Debug("blob download interrupted", "digest", d.digest, "offset", off, "err", err)
		lastErr = err
	}
	if off != d.size {
		return fmt.Errorf("layer %s: got %d bytes, the manifest says %d: the registry sent a corrupt blob: %w",
			ShortID(d.digest), off, d.size, errdefs.ErrDataLoss)
	}
	if got := digestOf(h); got != d.digest {
		return fmt.Errorf("layer %s: downloaded content has digest %s: the registry sent a corrupt blob: %w",
			ShortID(d.digest), got, errdefs.ErrDataLoss)
	}
	d.finish(nil) // readers may finish now; storing it is ours
	if err := f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(path, s.blobPath(d.digest)); err != nil {
		return err
	}
	return nil
}

// fetchRange downloads the blob from off to its end, appending to f and h.
// It returns the bytes added, and an error when the transfer broke.
func (s *Store) fetchRange(ctx context.Context, ep *endpoint, d *download, f *os.File, h io.Writer, off int64,
	progress func(int64)) (int64, error) {
	header := http.Header{}
	if off > 0 {
		header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(d.size-1, 10))
	}
	resp, err := ep.do(ctx, http.MethodGet, ep.url("blobs", d.digest), header, http.StatusOK, http.StatusPartialContent)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body := io.Reader(resp.Body)
	if resp.StatusCode == http.StatusOK && off > 0 {
		// No range support: skip what we have.
		if _, err := io.CopyN(io.Discard, body, off); err != nil {
			return 0, err
		}
	}
	buf := make([]byte, 512<<10)
	var n int64
	last := time.Time{}
	for {
		m, rerr := body.Read(buf)
		if m > 0 {
			if off+n+int64(m) > d.size {
				return n, fmt.Errorf("layer %s: the registry sent more than the %d bytes the manifest says: %w",
					ShortID(d.digest), d.size, errdefs.ErrDataLoss)
			}
			if _, err := f.Write(buf[:m]); err != nil {
				return n, &writeError{fmt.Errorf("layer %s: write %s: %w", ShortID(d.digest), f.Name(), err)}
			}
			h.Write(buf[:m])
			n += int64(m)
			d.publish(f.Name(), off+n)
			if now := time.Now(); now.Sub(last) > 50*time.Millisecond {
				progress(off + n)
				last = now
			}
		}
		if rerr == io.EOF {
			progress(off + n)
			if off+n < d.size {
				return n, fmt.Errorf("layer %s: connection closed at %d of %d bytes: %w", ShortID(d.digest), off+n, d.size, io.ErrUnexpectedEOF)
			}
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// decompress returns the uncompressed stream of a layer blob, recognised
// by its magic number (gzip, zstd, or a plain tar).
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, err
	}
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := pgzip.NewReaderN(br, 1<<20, 8)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r    io.Reader
	n    int64
	fn   func(int64)
	last time.Time
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.fn != nil {
		if now := time.Now(); now.Sub(c.last) > 50*time.Millisecond || err == io.EOF {
			c.fn(c.n)
			c.last = now
		}
	}
	return n, err
}
