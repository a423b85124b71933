package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine/state"
	"github.com/berthdev/berth/internal/names"
)

func digestBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// blobHex validates a digest and returns its hex part.
func blobHex(digest string) (string, error) {
	if !names.IsDigest(digest) {
		return "", fmt.Errorf("digest %q is not sha256:<64 hex digits>: %w", digest, errdefs.ErrInvalidArgument)
	}
	return strings.TrimPrefix(digest, "sha256:"), nil
}

// blobPath is where a verified blob lives. digest must be valid.
func (s *Store) blobPath(digest string) string {
	return filepath.Join(s.root, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

func (s *Store) ingestPath(hexd string) string { return filepath.Join(s.root, "ingest", hexd) }
func (s *Store) blobLock(hexd string) string   { return filepath.Join(s.root, "locks", hexd) }

// hasBlob reports whether a verified blob is stored.
func (s *Store) hasBlob(digest string) bool {
	if _, err := blobHex(digest); err != nil {
		return false
	}
	_, err := os.Stat(s.blobPath(digest))
	return err == nil
}

// readBlob returns a stored blob (small ones: manifests and configs).
func (s *Store) readBlob(digest string) ([]byte, error) {
	if _, err := blobHex(digest); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.blobPath(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", digest, errdefs.ErrNotFound)
	}
	return data, err
}

// openBlob opens a stored blob for reading.
func (s *Store) openBlob(digest string) (*os.File, error) {
	if _, err := blobHex(digest); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", digest, errdefs.ErrNotFound)
	}
	return f, err
}

// writeBlob stores a small blob after checking its digest (atomic rename).
func (s *Store) writeBlob(digest string, data []byte) error {
	if _, err := blobHex(digest); err != nil {
		return err
	}
	if got := digestBytes(data); got != digest {
		return fmt.Errorf("blob has digest %s, expected %s: %w", got, digest, errdefs.ErrDataLoss)
	}
	if s.hasBlob(digest) {
		return nil
	}
	return state.WriteFile(s.blobPath(digest), data, 0o600, true)
}

// ingestWriter writes a blob of unknown digest (import, load): into
// ingest/, then Commit renames it to its digest.
type ingestWriter struct {
	s    *Store
	f    *os.File
	h    hash.Hash
	size int64
}

// newIngest starts a blob whose digest is computed as it is written.
func (s *Store) newIngest() (*ingestWriter, error) {
	f, err := os.CreateTemp(filepath.Join(s.root, "ingest"), "new-*")
	if err != nil {
		return nil, err
	}
	return &ingestWriter{s: s, f: f, h: sha256.New()}, nil
}

func (w *ingestWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.size += int64(n)
	return n, err
}

// Commit syncs, names the blob by its digest and returns the digest and
// size. A blob already stored is kept and the new copy dropped.
func (w *ingestWriter) Commit() (string, int64, error) {
	digest := digestOf(w.h)
	if err := w.f.Sync(); err != nil {
		w.Abort()
		return "", 0, err
	}
	if err := w.f.Close(); err != nil {
		w.Abort()
		return "", 0, err
	}
	if w.s.hasBlob(digest) {
		_ = os.Remove(w.f.Name())
		return digest, w.size, nil
	}
	if err := os.Rename(w.f.Name(), w.s.blobPath(digest)); err != nil {
		_ = os.Remove(w.f.Name())
		return "", 0, err
	}
	return digest, w.size, nil
}

// Abort drops the blob.
func (w *ingestWriter) Abort() {
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

// removeBlob deletes a stored blob; gone is success.
func (s *Store) removeBlob(digest string) error {
	if _, err := blobHex(digest); err != nil {
		return err
	}
	if err := os.Remove(s.blobPath(digest)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// blobSize returns a stored blob's size, -1 when absent.
func (s *Store) blobSize(digest string) int64 {
	fi, err := os.Stat(s.blobPath(digest))
	if err != nil {
		return -1
	}
	return fi.Size()
}

// copyCtx copies like io.Copy but stops when ctx is done.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := src.Read(buf)
		if m > 0 {
			w, werr := dst.Write(buf[:m])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
