package scheduler

import (
	"context"
	"fmt"
	"io"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/image"
)

// CommitOptions are commit's: a service's container and the new image.
type CommitOptions struct {
	Service string
	Index   int // replica number, 1 when 0
	// Ref names the new image ("" leaves it untagged).
	Ref string
	// Changes are Dockerfile instructions applied to its config.
	Changes         []string
	Message, Author string
	// Pause freezes a running container meanwhile.
	Pause  bool
	DryRun bool
}

// Commit makes an image of a service container's image and its changes
// (created, running or exited), as docker compose commit, and returns its
// ID. The container's command, environment, working directory and user go
// into the image's config, as docker's.
func (s *Service) Commit(ctx context.Context, project string, opts CommitOptions) (string, error) {
	c, err := s.serviceContainer(ctx, project, opts.Service, opts.Index)
	if err != nil {
		return "", err
	}
	s.events.emit(c.Name, Working, "Committing", "")
	if opts.DryRun {
		s.events.emit(c.Name, Done, "Committed", "")
		return "", nil
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(s.engine.Diff(ctx, c.ID, pw, engine.DiffOptions{Pause: opts.Pause}))
	}()
	img, err := s.images.Commit(ctx, c.ImageID, pr, image.CommitOptions{
		Ref: opts.Ref, Changes: opts.Changes, Message: opts.Message, Author: opts.Author,
		Process: image.Config{Entrypoint: c.Spec.Entrypoint, Cmd: c.Spec.Cmd, Env: c.Spec.Env,
			WorkingDir: c.Spec.WorkingDir, User: c.Spec.User},
	})
	_ = pr.CloseWithError(err) // a failed commit ends the diff
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", c.Name, err)
	}
	s.events.emit(c.Name, Done, "Committed as "+img.ID, "")
	return img.ID, nil
}
