package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Matcher reports whether an absolute host path is selected by a set of
// rules. Implementations are safe for concurrent use.
type Matcher interface {
	Matches(path string) (bool, error)
}

// Any matches every path (a rule without `include`).
type Any struct{}

// Matches is always true.
func (Any) Matches(string) (bool, error) { return true, nil }

// AnyOf matches a path that one of its matchers matches; an empty AnyOf
// matches nothing.
type AnyOf []Matcher

// Matches reports whether one of m matches path.
func (m AnyOf) Matches(path string) (bool, error) {
	for _, x := range m {
		ok, err := x.Matches(path)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// Patterns is a .dockerignore-style pattern list rooted at a directory:
// relative patterns are read from the root, `**` spans directories, a
// leading `!` re-includes what an earlier pattern excluded, and a pattern
// that matches a directory matches everything under it.
type Patterns struct {
	root string
	// mu guards pm: patternmatcher compiles its patterns lazily on first
	// use and is not safe for concurrent use.
	mu sync.Mutex
	pm *patternmatcher.PatternMatcher
}

// NewPatterns returns the patterns rooted at root (made absolute). Blank
// patterns are skipped; a malformed one is an error naming it.
func NewPatterns(root string, patterns []string) (*Patterns, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	abs := make([]string, 0, len(patterns))
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if p == "" {
			return nil, fmt.Errorf(`pattern "!" excludes nothing: name what to re-include after the "!"`)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(absRoot, p)
		}
		if neg {
			p = "!" + p
		}
		abs = append(abs, filepath.Clean(p))
	}
	pm, err := patternmatcher.New(abs)
	if err != nil {
		return nil, fmt.Errorf("patterns %q: %w", patterns, err)
	}
	return &Patterns{root: absRoot, pm: pm}, nil
}

// Matches reports whether path, or one of its parent directories, is
// matched (and not re-included by a later `!` pattern). A relative path
// is read from the root.
func (p *Patterns) Matches(path string) (bool, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.root, path)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pm.MatchesOrParentMatches(path)
}

// ReadIgnoreFile reads the ignore file of a build context the way the
// builder picks it: <dockerfile>.dockerignore next to the context's
// root first, else .dockerignore. A context without either ignores
// nothing; dockerfile may be empty.
func ReadIgnoreFile(contextDir, dockerfile string) (*Patterns, error) {
	candidates := []string{filepath.Join(contextDir, ".dockerignore")}
	if dockerfile != "" {
		candidates = append([]string{filepath.Join(contextDir, dockerfile+".dockerignore")}, candidates...)
	}
	for _, name := range candidates {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		patterns, err := ignorefile.ReadAll(f)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return NewPatterns(contextDir, patterns)
	}
	return NewPatterns(contextDir, nil)
}

// editorPatterns are files no one wants synced: version control metadata
// and the temporary, backup and lock files of editors and tools.
var editorPatterns = []string{
	"**/.git",
	// JetBrains IDEs
	"**/*___jb_old___", "**/*___jb_tmp___", "**/.idea/**",
	// Emacs
	"**/.#*", "**/#*#",
	// Vim (4913 is its probe for a writable directory; .sw? skipped
	// beyond the first few, which real files use)
	"**/4913", "**/*~", "**/.*.swp", "**/.*.swx", "**/.*.swo", "**/.*.swn",
	// Kate
	"**/.*.kate-swp",
	// the go command's umask probe
	"**/*-go-tmp-umask",
}

// Noise matches what a watch never syncs whatever the rules say: .git
// directories and editors' temporary files. Each call returns a new
// matcher.
func Noise() *Patterns {
	p, err := NewPatterns("/", editorPatterns)
	if err != nil {
		panic(err) // the table is constant and valid
	}
	return p
}

// IsChild reports whether path is dir or inside it (both absolute and
// clean).
func IsChild(dir, path string) bool {
	if dir == path {
		return true
	}
	if dir == string(filepath.Separator) {
		return strings.HasPrefix(path, dir)
	}
	return strings.HasPrefix(path, dir+string(filepath.Separator))
}
