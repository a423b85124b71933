package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/engine/state"
	"github.com/berthdev/berth/network"
	"github.com/berthdev/berth/volumes"
)

// Engine is what the scheduler needs of the container engine
// (*engine.Engine implements it).
type Engine interface {
	Create(ctx context.Context, spec engine.ContainerSpec) (*engine.Container, error)
	Start(ctx context.Context, id string) error
	Stop(ctx context.Context, id string, opts engine.StopOptions) (engine.StopResult, error)
	Kill(ctx context.Context, id, signal string) error
	Remove(ctx context.Context, id string, opts engine.RemoveOptions) error
	Pause(ctx context.Context, id string) error
	Unpause(ctx context.Context, id string) error
	Wait(ctx context.Context, id string) (int, error)
	WaitUntil(ctx context.Context, id string, cond func(*engine.Container) (bool, error)) (*engine.Container, error)
	Inspect(ctx context.Context, idOrName string) (*engine.Container, error)
	List(ctx context.Context, opts engine.ListOptions) ([]*engine.Container, error)
	Exec(ctx context.Context, id string, opts engine.ExecOptions) (int, error)
	Attach(ctx context.Context, id string, opts engine.AttachOptions) error
	Logs(ctx context.Context, id string, opts engine.LogsOptions, fn func(engine.LogEntry) error) error
	Top(ctx context.Context, id string) ([]string, [][]string, error)
	Stats(ctx context.Context, id string) (*engine.Stats, error)
	Events(ctx context.Context, since time.Time) (<-chan engine.Event, error)
	// Sweep adopts or cleans what killed commands or dead monitors left.
	Sweep(ctx context.Context) error
	// WithFilesystem calls fn with a host path under which the
	// container's files (root filesystem, volumes, binds) are seen, running
	// or not; fn must use it from its own goroutine only.
	WithFilesystem(ctx context.Context, id string, fn func(root string) error) error
	// Diff writes the container's changes as an OCI layer tar.
	Diff(ctx context.Context, id string, w io.Writer, opts engine.DiffOptions) error
}

// Images is what the scheduler needs of the image store (*image.Store).
type Images interface {
	Pull(ctx context.Context, ref string, opts image.PullOptions) (*image.Image, error)
	// Get returns errdefs.ErrNotFound when the image is absent.
	Get(ctx context.Context, ref string) (*image.Image, error)
	Remove(ctx context.Context, ref string, opts image.RemoveOptions) ([]string, error)
	// Commit makes an image of base and a layer of changes.
	Commit(ctx context.Context, base string, layer io.Reader, opts image.CommitOptions) (*image.Image, error)
}

// Networks is what the scheduler needs of the network manager
// (*network.Manager).
type Networks interface {
	// Create returns an existing network of the same name as it is.
	Create(ctx context.Context, spec network.Spec) (*network.Network, error)
	// Remove succeeds when the network is already gone.
	Remove(ctx context.Context, name string) error
	Inspect(ctx context.Context, name string) (*network.Network, error)
	List(ctx context.Context, labels map[string]string) ([]*network.Network, error)
	Sweep(ctx context.Context) error
}

// Volumes is what the scheduler needs of the volume manager
// (*volumes.Manager); resolveMounts uses the volumeManager subset.
type Volumes interface {
	volumeManager
	List(ctx context.Context, labels map[string]string) ([]*volumes.Volume, error)
	Remove(ctx context.Context, name string, force bool) error
}

// Options configure a Service.
type Options struct {
	// Engine, Images, Networks and Volumes are the parts the scheduler
	// drives. Engine is required; a nil Images, Networks or Volumes makes
	// the commands that need it fail with ErrFailedPrecondition.
	Engine   Engine
	Images   Images
	Networks Networks
	Volumes  Volumes
	// Paths locate the project locks (<run>/projects/<name>/lock).
	Paths state.Paths
	// Events receives user-visible progress (nil: discarded).
	Events Events
	// Logger receives diagnostics (nil: discarded).
	Logger *slog.Logger
	// Parallel bounds concurrent operations (<= 0: unlimited).
	Parallel int
	// AlwaysSweep makes up and down sweep every time (false: only after a
	// command died or a monitor was lost; see sweep.go).
	AlwaysSweep bool
}

// Service is berth's compose API. It holds no state between calls beyond
// its parts: every call starts from what exists.
type Service struct {
	engine   Engine
	images   Images
	networks Networks
	volumes  Volumes
	paths    state.Paths
	events   emitter
	log      *slog.Logger
	parallel int

	alwaysSweep bool
	sweepOnce   sync.Once
	swept       chan struct{}
	// swepted is set once this command has swept (or is sweeping).
	swepted          bool
	registration     *state.FileLock
	registrationPath string
}

// New returns a Service over the given parts.
func New(opts Options) (*Service, error) {
	if opts.Engine == nil {
		return nil, fmt.Errorf("scheduler: an engine is required: %w", errdefs.ErrInvalidArgument)
	}
	if opts.Paths.Run == "" {
		return nil, fmt.Errorf("scheduler: paths are required: %w", errdefs.ErrInvalidArgument)
	}
	s := &Service{engine: opts.Engine, images: opts.Images, networks: opts.Networks, volumes: opts.Volumes,
		paths: opts.Paths, events: emitter{opts.Events}, log: opts.Logger, parallel: opts.Parallel,
		swept: make(chan struct{}), alwaysSweep: opts.AlwaysSweep}
	if s.events.Events == nil {
		s.events = emitter{discardEvents{}}
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s, nil
}

// ExitCodeError is returned when a command's outcome is an exit status
// other than 0 that is not a failure of berth (run's command, up
// --exit-code-from, wait).
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e *ExitCodeError) Unwrap() error { return e.Err }

// lockProject serialises mutating commands on one project: it takes the
// flock on <run>/projects/<name>/lock, waiting (and saying so) while
// another berth command holds it. Different projects never wait for each
// other.
func (s *Service) lockProject(ctx context.Context, project string) (*state.FileLock, error) {
	s.Prepare(ctx) // register as a mutating command (and sweep after a dead one)
	path := filepath.Join(s.paths.Project(project), "lock")
	l, err := state.TryLock(path)
	if errors.Is(err, state.ErrLocked) {
		s.events.warn("", fmt.Sprintf("waiting for another berth command on project %q to finish", project))
		l, err = state.Lock(ctx, path)
	}
	if err != nil {
		return nil, fmt.Errorf("project %q: %w", project, err)
	}
	return l, nil
}

func (s *Service) need(what string, ok bool) error {
	if !ok {
		return fmt.Errorf("scheduler: no %s configured: %w", what, errdefs.ErrFailedPrecondition)
	}
	return nil
}

// projectLabels selects the objects of one project.
func projectLabels(project string) map[string]string {
	return map[string]string{"com.docker.compose.project": project}
}
