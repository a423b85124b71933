package scheduler

import (
	"context"
	"io"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthdev/berth/engine"
)

// Cascade is what an attached `up` does when a container exits.
type Cascade int

// The cascades, as docker compose's --abort-on-container-exit and
// --exit-code-from.
const (
	CascadeIgnore Cascade = iota
	CascadeStop
	CascadeFail
)

// Pull policies (pull_policy and up --pull).
const (
	PullAlways  = "always"
	PullMissing = "missing"
	PullNever   = "never"
	PullBuild   = "build"
)

// CreateOptions are the convergence knobs of up and create.
type CreateOptions struct {
	// Services are the services named on the command line (empty: all).
	// The project is already restricted to them and their dependencies.
	Services []string
	// Recreate applies to the named services and RecreateDependencies to
	// the others: RecreateDiverged (""), RecreateForce, RecreateNever.
	Recreate             string
	RecreateDependencies string
	// RemoveOrphans removes containers of services no longer in the
	// project; IgnoreOrphans silences the warning about them.
	RemoveOrphans bool
	IgnoreOrphans bool
	// Pull overrides every service's pull_policy ("" keeps them):
	// PullAlways, PullMissing, PullNever.
	Pull string
	// QuietPull hides the pull progress.
	QuietPull bool
	// Build (--build) and NoBuild (--no-build): berth has no builder yet,
	// so Build fails for services with a build section, and NoBuild only
	// turns the "not built" error into one that says so.
	Build   bool
	NoBuild bool
	// Timeout overrides stop_grace_period when containers are stopped for
	// recreation (nil: each service's).
	Timeout *time.Duration
	// RenewAnonVolumes gives recreated containers new anonymous volumes
	// instead of the previous container's (and removes the old ones).
	RenewAnonVolumes bool
	// DryRun plans and reports without changing anything.
	DryRun bool
	// AssumeYes answers yes to every question (-y): a volume whose
	// configuration changed in the compose file is recreated, its data
	// lost.
	AssumeYes bool
	// Confirm asks the user a yes-or-no question (the answer is no unless
	// they say yes); it is only called without AssumeYes. nil: nothing is
	// asked, the answer is no and a warning says how to say yes.
	Confirm func(ctx context.Context, question string) (bool, error)
}

// StartOptions are the start and attach knobs of up.
type StartOptions struct {
	// NoStart only creates.
	NoStart bool
	// Wait waits until every service is running or healthy (completed
	// successfully for jobs others depend on); WaitTimeout bounds it
	// (0: no bound).
	Wait        bool
	WaitTimeout time.Duration
	// Attach receives the containers' output: Up keeps running until the
	// containers exit or ctx is cancelled (attached mode). nil: detached.
	Attach LogConsumer
	// AttachTo are the services whose output is shown (empty: all but
	// NoAttach).
	AttachTo []string
	NoAttach []string
	// OnExit is what an attached up does when a container exits.
	OnExit Cascade
	// ExitCodeFrom is the service whose exit code Up returns (implies
	// CascadeStop).
	ExitCodeFrom string
	// Timeout is the stop grace period override when the attached session
	// stops the stack.
	Timeout *time.Duration
	// Kill, when set, is closed to turn a graceful stop of the attached
	// session into a kill (a second Ctrl-C).
	Kill <-chan struct{}
	// OnAttach, when set, is called once with the names of the containers
	// whose output follows, before the first line (the CLI ends its
	// progress view and prints "Attaching to …").
	OnAttach func(containers []string)
	// OnStopping, when set, is called when the attached session starts
	// stopping the stack (the CLI prints "Gracefully Stopping…").
	OnStopping func()
}

// UpOptions are up's options.
type UpOptions struct {
	Create CreateOptions
	Start  StartOptions
}

// DownOptions are down's options.
type DownOptions struct {
	// Project is the loaded project when there is one (nil: down works
	// from the containers' labels alone).
	Project *types.Project
	// Services limits down to these services' containers (empty: all,
	// and then networks, volumes, images too).
	Services []string
	// RemoveOrphans also removes containers of services not in Project.
	RemoveOrphans bool
	// Timeout overrides every stop_grace_period.
	Timeout *time.Duration
	// Volumes removes the project's named volumes (never external ones)
	// and the containers' anonymous volumes.
	Volumes bool
	// Images removes images: "local" those with no custom tag (services
	// without image:), "all" every image the services use.
	Images string
	DryRun bool
}

// StopOptions are stop's and restart's options.
type StopOptions struct {
	Services []string
	Timeout  *time.Duration
	DryRun   bool
	// NoDeps (restart) restarts only the named services, not the ones
	// depending on them with restart: true.
	NoDeps bool
}

// KillOptions are kill's options.
type KillOptions struct {
	Services      []string
	Signal        string
	RemoveOrphans bool
	DryRun        bool
}

// RemoveOptions are rm's options.
type RemoveOptions struct {
	Services []string
	// Stop stops running containers first (-s); Force removes them
	// without asking (the CLI asks when not set).
	Stop    bool
	Force   bool
	Volumes bool
	DryRun  bool
}

// PsOptions are ps's options.
type PsOptions struct {
	Services []string
	All      bool
}

// ContainerSummary is one line of ps.
type ContainerSummary struct {
	ID         string            `json:"ID"`
	Name       string            `json:"Name"`
	Names      []string          `json:"Names"`
	Image      string            `json:"Image"`
	Command    string            `json:"Command"`
	Project    string            `json:"Project"`
	Service    string            `json:"Service"`
	Created    int64             `json:"Created"`
	State      string            `json:"State"`
	Status     string            `json:"Status"`
	Health     string            `json:"Health"`
	ExitCode   int               `json:"ExitCode"`
	Publishers []PortPublisher   `json:"Publishers"`
	Labels     map[string]string `json:"-"`
	LabelsText string            `json:"Labels"`
	Number     int               `json:"-"`
	RunningFor string            `json:"RunningFor"`
	Ports      string            `json:"Ports"`
}

// PortPublisher is a published port as docker compose ps --format json
// shows it.
type PortPublisher struct {
	URL           string `json:"URL"`
	TargetPort    int    `json:"TargetPort"`
	PublishedPort int    `json:"PublishedPort"`
	Protocol      string `json:"Protocol"`
}

// LogOptions are logs' options.
type LogOptions struct {
	Services   []string
	Follow     bool
	Tail       int // -1: all
	Since      time.Time
	Until      time.Time
	Timestamps bool
	// Index selects one replica (0: all).
	Index int
}

// ExecOptions are exec's options.
type ExecOptions struct {
	Service     string
	Index       int // replica number, 1 when 0
	Command     []string
	Env         []string
	User        string
	WorkingDir  string
	Tty         bool
	Interactive bool
	Privileged  bool
	Detach      bool
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
	// Resize carries terminal size changes (Tty only).
	Resize <-chan WinSize
}

// WinSize is a terminal size (the engine's: sizes go straight through).
type WinSize = engine.WinSize

// RunOptions are run's options.
type RunOptions struct {
	Service    string
	Name       string
	Command    []string
	Entrypoint []string
	// EntrypointSet distinguishes --entrypoint '' (reset) from no flag.
	EntrypointSet bool
	Detach        bool
	AutoRemove    bool
	Tty           bool
	Interactive   bool
	WorkingDir    string
	User          string
	Env           []string
	Labels        map[string]string
	// Publish are -p specs; ServicePorts keeps the service's ports.
	Publish      []string
	ServicePorts bool
	// Volumes are -v specs added to the service's.
	Volumes []string
	NoDeps  bool
	// UseAliases adds the service's network aliases (--use-aliases).
	UseAliases bool
	CapAdd     []string
	CapDrop    []string
	Privileged bool
	QuietPull  bool
	Pull       string
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	Resize     <-chan WinSize
	// OnCreated, when set, is called with the one-off container's name
	// once it exists (run -d prints it).
	OnCreated func(name string)
}
