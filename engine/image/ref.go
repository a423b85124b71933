package image

import (
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"

	"github.com/berthdev/berth/internal/names"
)

// NormalizeRef returns ref as docker understands it, fully qualified:
// "postgres" → "docker.io/library/postgres:latest", "ghcr.io/o/r" →
// "ghcr.io/o/r:latest", "x@sha256:…" keeps its digest and gets no tag.
func NormalizeRef(ref string) (string, error) {
	named, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	return named.String(), nil
}

// parseRef parses and normalizes ref, adding ":latest" when it has neither
// tag nor digest.
func parseRef(ref string) (reference.Named, error) {
	if ref == "" {
		return nil, fmt.Errorf("empty image reference: %w", errdefs.ErrInvalidArgument)
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %v: %w", ref, err, errdefs.ErrInvalidArgument)
	}
	return reference.TagNameOnly(named), nil
}

// FamiliarName returns the short form docker prints for a normalized
// reference's repository ("docker.io/library/postgres:16" → "postgres").
func FamiliarName(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarName(named)
}

// FamiliarString returns the short form of a whole reference
// ("docker.io/library/postgres:16" → "postgres:16").
func FamiliarString(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarString(named)
}

// splitTag returns a normalized tagged reference's repository and tag
// ("" when it has none).
func splitTag(ref string) (repo, tag string) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref, ""
	}
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return named.Name(), tag
}

// SplitFamiliar returns the REPOSITORY and TAG columns docker shows for a
// tag ("docker.io/library/postgres:16" → "postgres", "16").
func SplitFamiliar(ref string) (repo, tag string) {
	r, t := splitTag(ref)
	return FamiliarName(r), t
}

// refDigest returns the digest of a reference "name@sha256:…", or "".
func refDigest(named reference.Named) string {
	if d, ok := named.(reference.Digested); ok {
		return d.Digest().String()
	}
	return ""
}

// looksLikeID reports whether ref may be an image ID or a prefix of one.
func looksLikeID(ref string) bool {
	return names.IsHex(strings.TrimPrefix(ref, "sha256:"), 1, 64)
}

// registryHost returns the registry of a normalized reference as docker
// names it ("docker.io" for Docker Hub).
func registryHost(named reference.Named) string {
	return reference.Domain(named)
}

// repoPath returns the repository path inside its registry
// ("library/postgres").
func repoPath(named reference.Named) string {
	return reference.Path(named)
}
