package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// EntryError is the refusal of a layer entry that would write outside its
// snapshot: a name with "..", a path through a symbolic link (of this layer
// or of a parent), a hard link to outside. It satisfies
// errdefs.IsInvalidArgument.
type EntryError struct {
	// Image names the image being unpacked ("" when unknown).
	Image string
	// Layer is the layer's digest.
	Layer string
	// Entry is the tar entry's name as found in the layer.
	Entry string
	// Reason says what is wrong with it.
	Reason string
}

func (e *EntryError) Error() string {
	img := e.Image
	if img == "" {
		img = "(unnamed)"
	}
	return fmt.Sprintf("image %s: layer %s: entry %q %s: the layer is corrupt or hostile, refusing to unpack it",
		img, shortDigest(e.Layer), e.Entry, e.Reason)
}

// Unwrap makes errdefs.IsInvalidArgument true.
func (e *EntryError) Unwrap() error { return errdefs.ErrInvalidArgument }

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	if d == "" {
		return "(unknown)"
	}
	return d
}

// kind of a path in the merged view of the parent layers.
type kind uint8

const (
	kindAbsent kind = iota
	kindDir
	kindSymlink
	kindOther
)

// resolved is what a directory prefix is in this layer or its parents, and
// how many parent layers (from the top) still show through beneath it.
type resolved struct {
	kind    kind
	visible int
}

// guard checks every entry of one layer before the unpacker sees it. It
// tracks this layer's symbolic links and directories, and looks paths up in
// the parent layers (top first, overlay rules: a whiteout or a non-directory
// ends the lookup, an opaque directory hides what is below it).
type guard struct {
	image, layer string
	parents      []string
	// this layer's entries by cleaned relative path: true for symlinks,
	// false for everything else.
	links map[string]bool
	// cache of lookups in the parents.
	seen map[string]resolved
}

func newGuard(image, layer string, parents []string) *guard {
	return &guard{image: image, layer: layer, parents: parents,
		links: map[string]bool{}, seen: map[string]resolved{"": {kindDir, len(parents)}}}
}

func (g *guard) refuse(entry, reason string) error {
	return &EntryError{Image: g.image, Layer: g.layer, Entry: entry, Reason: reason}
}

// relName cleans a tar name into a path relative to the layer root; ok is
// false when a ".." climbs above the root (a leading "/" counts as the root,
// as tar's).
func relName(name string) (string, bool) {
	depth := 0
	for part := range strings.SplitSeq(name, "/") {
		switch part {
		case "", ".":
		case "..":
			if depth == 0 {
				return "", false
			}
			depth--
		default:
			depth++
		}
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/"), true
}

// filter is the archive.Filter: it refuses unsafe entries and strips
// overlay's own extended attributes from the rest.
func (g *guard) filter(hdr *tar.Header) (bool, error) {
	rel, ok := relName(hdr.Name)
	if !ok {
		return false, g.refuse(hdr.Name, `climbs out of the layer with ".."`)
	}
	if rel == "" {
		return true, nil // the root itself: the unpacker ignores it
	}
	if err := g.checkParents(hdr.Name, rel); err != nil {
		return false, err
	}
	base := path.Base(rel)
	if strings.HasPrefix(base, ".wh.") && base != ".wh..wh..opq" {
		switch strings.TrimPrefix(base, ".wh.") {
		case "", ".", "..":
			return false, g.refuse(hdr.Name, "is a whiteout of nothing")
		}
	}
	switch hdr.Typeflag {
	case tar.TypeLink:
		target, ok := relName(hdr.Linkname)
		if !ok || target == "" {
			return false, g.refuse(hdr.Name, fmt.Sprintf("is a hard link to %q, outside the layer", hdr.Linkname))
		}
		if err := g.checkParents(hdr.Name, target); err != nil {
			return false, err
		}
	case tar.TypeSymlink:
		g.links[rel] = true
		return true, g.stripXattrs(hdr)
	}
	g.links[rel] = false
	return true, g.stripXattrs(hdr)
}

// stripXattrs drops trusted.overlay.* attributes: a layer must not steer
// overlayfs (opaque, redirect, origin) except through whiteout entries.
func (g *guard) stripXattrs(hdr *tar.Header) error {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.trusted.overlay.") || strings.HasPrefix(k, "SCHILY.xattr.user.overlay.") {
			delete(hdr.PAXRecords, k)
		}
	}
	for k := range hdr.Xattrs { //nolint:staticcheck // the reader still fills it
		if strings.HasPrefix(k, "trusted.overlay.") || strings.HasPrefix(k, "user.overlay.") {
			delete(hdr.Xattrs, k) //nolint:staticcheck
		}
	}
	return nil
}

// checkParents refuses rel when one of its directories is a symbolic link
// in this layer or, where this layer does not have it, in the parents.
func (g *guard) checkParents(entry, rel string) error {
	dir := path.Dir(rel)
	if dir == "." {
		return nil
	}
	// Shortest prefix first, so a lookup in a parent never follows a link.
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		prefix := dir[:i]
		if isLink, ok := g.links[prefix]; ok {
			if isLink {
				return g.refuse(entry, fmt.Sprintf("goes through the symbolic link %q", prefix))
			}
			continue
		}
		r, err := g.resolve(prefix)
		if err != nil {
			return err
		}
		if r.kind == kindSymlink {
			return g.refuse(entry, fmt.Sprintf("goes through %q, a symbolic link in a lower layer", prefix))
		}
	}
	return nil
}

// resolve looks prefix up in the parent layers (its own parent directory
// was resolved before, as checkParents goes shortest first).
func (g *guard) resolve(prefix string) (resolved, error) {
	if r, ok := g.seen[prefix]; ok {
		return r, nil
	}
	up := path.Dir(prefix)
	if up == "." {
		up = ""
	}
	above, ok := g.seen[up]
	if !ok {
		var err error
		if above, err = g.resolve(up); err != nil {
			return resolved{}, err
		}
	}
	r := resolved{kind: kindAbsent}
	if above.kind == kindDir || up == "" {
		r = g.lookup(prefix, above.visible)
	}
	g.seen[prefix] = r
	return r, nil
}

// lookup finds prefix in the top `visible` parents.
func (g *guard) lookup(prefix string, visible int) resolved {
	for i := 0; i < visible; i++ {
		p := filepath.Join(g.parents[i], prefix)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			continue
		}
		if err != nil {
			return resolved{kind: kindOther}
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return resolved{kind: kindSymlink}
		case fi.IsDir():
			// Lower layers merge until an opaque directory or a
			// non-directory ends the stack.
			limit := visible
			for j := i; j < visible; j++ {
				q := filepath.Join(g.parents[j], prefix)
				qi, err := os.Lstat(q)
				if err != nil {
					continue
				}
				if !qi.IsDir() {
					limit = j
					break
				}
				if isOpaque(q) {
					limit = j + 1
					break
				}
			}
			return resolved{kind: kindDir, visible: limit}
		default:
			// A whiteout (char 0:0) or a file: nothing below shows.
			return resolved{kind: kindOther}
		}
	}
	return resolved{kind: kindAbsent}
}

// isOpaque reports whether dir carries overlay's opaque mark.
func isOpaque(dir string) bool {
	var buf [1]byte
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", buf[:])
	return err == nil && n == 1 && buf[0] == 'y'
}
