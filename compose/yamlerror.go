package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/containerd/errdefs"
	yaml4 "go.yaml.in/yaml/v4"
)

// locateYAMLError re-reads files when loading failed with a YAML syntax
// error (compose-go's parser reports only a line, sometimes the line of the
// enclosing block, and no file) and returns an error naming the file, line
// and column, with the offending line and a caret. It returns nil when no
// file has a syntax error, so that the caller keeps the original error.
func locateYAMLError(files []string, orig error) error {
	if orig == nil || !strings.Contains(orig.Error(), "yaml: ") {
		return nil
	}
	for _, f := range files {
		if f == "-" || strings.Contains(f, "://") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if err := YAMLSyntaxError(f, b); err != nil {
			return err
		}
	}
	return nil
}

// SyntaxError is a YAML syntax error in a compose file, with its position
// (1-based line and column). It is an errdefs.ErrInvalidArgument.
type SyntaxError struct {
	File    string
	Line    int
	Column  int
	Message string
	// Excerpt is the offending line with a caret under the column.
	Excerpt string
}

// Error renders "FILE:LINE:COLUMN: invalid YAML: MESSAGE" and the excerpt.
func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("%s:%d:%d: invalid YAML: %s", e.File, e.Line, e.Column, e.Message)
	if e.Excerpt != "" {
		s += "\n" + e.Excerpt
	}
	return s
}

// Unwrap makes a SyntaxError an errdefs.ErrInvalidArgument.
func (e *SyntaxError) Unwrap() error { return errdefs.ErrInvalidArgument }

// YAMLSyntaxError checks that content (the text of file) is well-formed
// YAML, and returns a *SyntaxError for the first syntax error, nil when
// content parses.
func YAMLSyntaxError(file string, content []byte) error {
	dec := yaml4.NewDecoder(bytes.NewReader(content))
	for {
		var n yaml4.Node
		err := dec.Decode(&n)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		var le *yaml4.LoadError
		if !errors.As(err, &le) || le.Mark.Line == 0 {
			return &SyntaxError{File: file, Line: 1, Column: 1, Message: err.Error()}
		}
		lines := strings.Split(string(content), "\n")
		mark, ctx := le.Mark, le.ContextMark
		blank := func(line int) bool { return line > len(lines) || strings.TrimSpace(lines[line-1]) == "" }
		if blank(mark.Line) && ctx.Line > 0 && !blank(ctx.Line) {
			// the parser ran into the end of input: the construct left open
			// is where to look
			mark, ctx = ctx, yaml4.Mark{}
		}
		if mark.Line > len(lines) {
			// past the last line: point just after the end of input
			mark = yaml4.Mark{Line: len(lines), Column: len(lines[len(lines)-1]) + 1}
		}
		msg := le.Message
		if ctx.Line > 0 && (ctx.Line != mark.Line || ctx.Column != mark.Column) {
			msg += fmt.Sprintf(" (%s that starts at line %d, column %d)", le.ContextMsg, ctx.Line, ctx.Column)
		} else if le.ContextMsg != "" && ctx.Line == 0 && mark != le.Mark {
			msg += " (" + le.ContextMsg + ")"
		}
		if mark.Line <= len(lines) {
			if l := lines[mark.Line-1]; mark.Column-1 < len(l) && l[mark.Column-1] == '\t' {
				msg += "; indent with spaces, YAML does not allow tabs"
			}
		}
		return &SyntaxError{File: file, Line: mark.Line, Column: mark.Column, Message: msg,
			Excerpt: excerpt(lines, mark.Line, mark.Column)}
	}
}

// excerpt renders line (1-based) of content with a caret under column.
func excerpt(lines []string, line, column int) string {
	if line < 1 || line > len(lines) {
		return ""
	}
	text := strings.TrimRight(lines[line-1], "\r")
	num := fmt.Sprintf("%4d | ", line)
	var caret strings.Builder
	caret.WriteString(strings.Repeat(" ", len(num)-2) + "| ")
	for i, r := range text {
		if i >= column-1 {
			break
		}
		if r == '\t' {
			caret.WriteByte('\t')
		} else {
			caret.WriteByte(' ')
		}
	}
	caret.WriteByte('^')
	return num + text + "\n" + caret.String()
}
