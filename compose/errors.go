package compose

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// kindError is an error of an errdefs kind whose message does not end in
// the kind's name, for messages printed to users as docker compose prints
// them.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// invalidf is an errdefs.ErrInvalidArgument with a clean message.
func invalidf(format string, a ...any) error {
	return &kindError{msg: fmt.Sprintf(format, a...), kind: errdefs.ErrInvalidArgument}
}
