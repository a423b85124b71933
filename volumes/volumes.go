// Package volumes is berth's named volumes: the `local` driver's directories
// under <root>/volumes, their metadata, and the description of how each one
// is mounted into a container.
//
// A volume is the directory <root>/volumes/<name>, holding volume.json (its
// metadata) and _data (its content). It is built under a temporary name and
// renamed into place, so a volume either exists whole or not at all; removal
// renames it into <root>/volumes/.trash before deleting, so a killed removal
// never leaves a half volume behind (New sweeps the trash).
//
// The package mounts nothing on the host. Volumes with driver options
// (`type`, `o`, `device`: a bind of a host directory, a tmpfs, a block
// device or a network filesystem) are mounted by the container's init inside
// the container's mount namespace, from the mount.Mount that Volume.Mount
// describes; the same is true of plain volumes (a bind of _data).
//
// It does not know containers: whether a volume is in use is asked through
// Options.InUse, which the code constructing the Manager wires to the
// engine. It never imports compose: the scheduler passes the compose labels
// (com.docker.compose.project, com.docker.compose.volume) in Spec.Labels.
//
// Invariants: creations and removals are serialised by an flock on
// <root>/volumes/.lock held only for the metadata step (never while data is
// deleted); readers take no lock; a volume's data is never deleted while a
// mount lies under its directory.
package volumes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/berthdev/berth/internal/names"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"

	"github.com/berthdev/berth/engine/state"
)

// LabelAnonymous marks a volume made for a container without a name (an
// image VOLUME or a compose `- /path` entry), as docker does. `prune`
// without --all removes only these.
const LabelAnonymous = "com.docker.volume.anonymous"

// DriverLocal is the only volume driver berth has.
const DriverLocal = "local"

// metaFile and dataDir are the two entries of a volume's directory.
const (
	metaFile = "volume.json"
	dataDir  = "_data"
)

// validName is docker's volume name rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+; it
// also keeps names from being paths ("..", "/").
func validName(name string) bool { return names.Valid(name, 2, 0) }

// Options configure a Manager.
type Options struct {
	// Paths is the berth root; volumes live in Paths.Volumes(). Required.
	Paths state.Paths
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// InUse returns the names of the containers that mount the volume
	// name (none: empty). Remove refuses a volume in use unless forced and
	// Prune skips it. nil means no volume is ever in use (tests, tools
	// without an engine).
	InUse func(ctx context.Context, name string) ([]string, error)
}

// Spec is a volume to create.
type Spec struct {
	// Name is the volume's name; empty makes an anonymous volume with a
	// random 64-hex name and the LabelAnonymous label.
	Name string
	// Driver is "local" or "" (local).
	Driver string
	// DriverOpts are the local driver's options: "type", "o", "device"
	// (see Volume.Mount).
	DriverOpts map[string]string
	// Labels are the volume's labels.
	Labels map[string]string
}

// Volume is a volume as inspect and list show it.
type Volume struct {
	Name   string `json:"name"`
	Driver string `json:"driver"`
	// Mountpoint is where the volume's content is on the host: the
	// _data directory, or the device of a bind volume (o=bind). For tmpfs
	// and device volumes it is the (empty) _data directory, as docker
	// shows it.
	Mountpoint string            `json:"mountpoint"`
	Labels     map[string]string `json:"labels,omitempty"`
	// Options are the driver options it was created with.
	Options   map[string]string `json:"options,omitempty"`
	Scope     string            `json:"scope"`
	CreatedAt time.Time         `json:"created_at"`

	// dataDir is <dir>/_data.
	dataDir string
}

// Anonymous reports whether v was made without a name (LabelAnonymous).
func (v *Volume) Anonymous() bool {
	_, ok := v.Labels[LabelAnonymous]
	return ok
}

// meta is volume.json.
type meta struct {
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`
	Labels     map[string]string `json:"labels,omitempty"`
	DriverOpts map[string]string `json:"driver_opts,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
}

// Manager creates, lists and removes the volumes of one berth root. It is
// safe for concurrent use by goroutines and processes.
type Manager struct {
	dir   string
	log   *slog.Logger
	inUse func(ctx context.Context, name string) ([]string, error)
}

// New returns the Manager of opts.Paths' volumes, creating the directory and
// removing what a killed removal left in the trash.
func New(opts Options) (*Manager, error) {
	if opts.Paths.Root == "" {
		return nil, fmt.Errorf("volumes: Paths.Root is required: %w", errdefs.ErrInvalidArgument)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{dir: opts.Paths.Volumes(), log: log, inUse: opts.InUse}
	if err := os.MkdirAll(m.dir, 0o701); err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	m.sweepTrash()
	return m, nil
}

func (m *Manager) trashDir() string { return filepath.Join(m.dir, ".trash") }

// sweepTrash deletes what a killed Remove left behind. Errors are logged:
// the trash is retried on the next New.
func (m *Manager) sweepTrash() {
	entries, err := os.ReadDir(m.trashDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(m.trashDir(), e.Name())
		if err := m.deleteTree(p); err != nil {
			m.log.Warn("volumes: cannot clear trash", "path", p, "err", err)
		}
	}
}

func (m *Manager) lock(ctx context.Context) (*state.FileLock, error) {
	l, err := state.Lock(ctx, filepath.Join(m.dir, ".lock"))
	if err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	return l, nil
}

// ValidateName checks a volume name against docker's rule
// ([a-zA-Z0-9][a-zA-Z0-9_.-]+).
func ValidateName(name string) error {
	if !validName(name) {
		return fmt.Errorf("volume name %q is invalid: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters: %w",
			name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// RandomName returns a 64-hex name, as docker gives anonymous volumes.
func RandomName() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create makes the volume spec describes. A volume of that name that
// already exists is returned as is (its driver options and labels are not
// compared). Creation is atomic: concurrent creators of one name all get
// the same volume.
func (m *Manager) Create(ctx context.Context, spec Spec) (_ *Volume, err error) {
	labels := maps.Clone(spec.Labels)
	if spec.Name == "" {
		spec.Name = RandomName()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelAnonymous] = ""
	}
	if err := ValidateName(spec.Name); err != nil {
		return nil, err
	}
	if spec.Driver == "" {
		spec.Driver = DriverLocal
	}
	if v, err := m.Get(ctx, spec.Name); err == nil {
		return v, nil
	} else if !errdefs.IsNotFound(err) {
		return nil, err
	}
	if spec.Driver != DriverLocal {
		return nil, fmt.Errorf("volume %q: driver %q is not supported: berth has the %q driver only: %w",
			spec.Name, spec.Driver, DriverLocal, errdefs.ErrNotImplemented)
	}
	opts, err := parseDriverOpts(spec.DriverOpts)
	if err != nil {
		return nil, fmt.Errorf("volume %q: %w", spec.Name, err)
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("volume %q: %w", spec.Name, err)
	}

	l, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	// Another process may have made it while we waited.
	if v, err := m.Get(ctx, spec.Name); err == nil {
		return v, nil
	} else if !errdefs.IsNotFound(err) {
		return nil, err
	}

	tmp, err := os.MkdirTemp(m.dir, ".tmp-"+spec.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("volume %q: %w", spec.Name, err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o701); err != nil {
		return nil, fmt.Errorf("volume %q: %w", spec.Name, err)
	}
	if err := os.Mkdir(filepath.Join(tmp, dataDir), 0o755); err != nil {
		return nil, fmt.Errorf("volume %q: %w", spec.Name, err)
	}
	md := meta{
		Name:       spec.Name,
		Driver:     spec.Driver,
		Labels:     labels,
		DriverOpts: maps.Clone(spec.DriverOpts),
		CreatedAt:  time.Now().UTC().Truncate(time.Second),
	}
	if err := state.WriteJSON(filepath.Join(tmp, metaFile), md, true); err != nil {
		return nil, fmt.Errorf("volume %q: write metadata: %w", spec.Name, err)
	}
	final := filepath.Join(m.dir, spec.Name)
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("volume %q: %w", spec.Name, err)
	}
	syncDir(m.dir)
	m.log.Debug("volume created", "name", spec.Name)
	return m.volume(final, md), nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// volume builds the Volume of the directory dir with metadata md.
func (m *Manager) volume(dir string, md meta) *Volume {
	v := &Volume{
		Name:       md.Name,
		Driver:     md.Driver,
		Labels:     md.Labels,
		Options:    md.DriverOpts,
		Scope:      "local",
		CreatedAt:  md.CreatedAt,
		dataDir:    filepath.Join(dir, dataDir),
		Mountpoint: filepath.Join(dir, dataDir),
	}
	if o, err := parseDriverOpts(md.DriverOpts); err == nil && o.isBind() {
		v.Mountpoint = o.Device
	}
	return v
}

// Get returns the volume name, or an error satisfying errdefs.IsNotFound.
func (m *Manager) Get(ctx context.Context, name string) (*Volume, error) {
	if !validName(name) {
		return nil, fmt.Errorf("volume %q: no such volume: %w", name, errdefs.ErrNotFound)
	}
	dir := filepath.Join(m.dir, name)
	var md meta
	if err := state.ReadJSON(filepath.Join(dir, metaFile), &md); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("volume %q: no such volume: %w", name, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("volume %q: %w", name, err)
	}
	return m.volume(dir, md), nil
}

// List returns the volumes whose labels include every key of labels with
// exactly its value (nil: all volumes), sorted by name.
func (m *Manager) List(ctx context.Context, labels map[string]string) ([]*Volume, error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	var out []*Volume
	for _, e := range entries {
		if !e.IsDir() || !validName(e.Name()) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := m.Get(ctx, e.Name())
		if err != nil {
			if errdefs.IsNotFound(err) {
				continue // removed meanwhile
			}
			return nil, err
		}
		if matchLabels(v.Labels, labels) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b *Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func matchLabels(have, want map[string]string) bool {
	for k, w := range want {
		if h, ok := have[k]; !ok || h != w {
			return false
		}
	}
	return true
}

// InUse returns the containers that use the volume name (Options.InUse).
func (m *Manager) InUse(ctx context.Context, name string) ([]string, error) {
	if m.inUse == nil {
		return nil, nil
	}
	users, err := m.inUse(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("volume %q: find its containers: %w", name, err)
	}
	return users, nil
}

// Remove deletes the volume name and its content. A volume some container
// uses is refused with an error satisfying errdefs.IsConflict that names the
// containers, unless force. A volume that does not exist is success. A bind
// volume's device is never touched: only berth's record of it goes.
func (m *Manager) Remove(ctx context.Context, name string, force bool) error {
	if !validName(name) {
		return nil
	}
	if _, err := m.Get(ctx, name); errdefs.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if !force {
		users, err := m.InUse(ctx, name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("volume %q is in use by container %s: remove the container first, or force: %w",
				name, strings.Join(users, ", "), errdefs.ErrConflict)
		}
	}
	trash, err := m.moveToTrash(ctx, name)
	if err != nil || trash == "" {
		return err
	}
	if err := m.deleteTree(trash); err != nil {
		return fmt.Errorf("volume %q: delete its data: %w (left in %s, removed on the next run)", name, err, trash)
	}
	m.log.Debug("volume removed", "name", name)
	return nil
}

// moveToTrash renames the volume's directory into the trash under the lock
// and returns the trash path ("" when the volume was already gone).
func (m *Manager) moveToTrash(ctx context.Context, name string) (string, error) {
	dir := filepath.Join(m.dir, name)
	if err := checkNoMounts(dir); err != nil {
		return "", fmt.Errorf("volume %q: %w", name, err)
	}
	l, err := m.lock(ctx)
	if err != nil {
		return "", err
	}
	defer l.Unlock()
	if err := os.MkdirAll(m.trashDir(), 0o700); err != nil {
		return "", fmt.Errorf("volume %q: %w", name, err)
	}
	trash := filepath.Join(m.trashDir(), name+"-"+RandomName()[:12])
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("volume %q: %w", name, err)
	}
	syncDir(m.dir)
	return trash, nil
}

// checkNoMounts refuses to delete a tree that has a mount point inside it
// (deleting it would delete whatever is mounted there).
func checkNoMounts(dir string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return fmt.Errorf("read mount table: %w", err)
	}
	if len(mounts) > 0 {
		return fmt.Errorf("%s is mounted on %s; unmount it first: %w",
			mounts[0].Source, mounts[0].Mountpoint, errdefs.ErrFailedPrecondition)
	}
	return nil
}

// deleteTree removes a trashed volume, refusing if something is mounted in it.
func (m *Manager) deleteTree(p string) error {
	if err := checkNoMounts(p); err != nil {
		return err
	}
	return os.RemoveAll(p)
}

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// All removes every unused volume; false removes only anonymous ones
	// (docker's default since 23.0).
	All bool
	// Filter, when set, keeps only the volumes it returns true for.
	Filter func(*Volume) bool
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Removed []string
	// SpaceReclaimed is the bytes of the removed volumes' content.
	SpaceReclaimed uint64
}

// Prune removes the volumes no container uses (anonymous ones only unless
// opts.All). A volume that became used meanwhile is skipped.
func (m *Manager) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	var rep PruneReport
	vols, err := m.List(ctx, nil)
	if err != nil {
		return rep, err
	}
	for _, v := range vols {
		if !opts.All && !v.Anonymous() {
			continue
		}
		if opts.Filter != nil && !opts.Filter(v) {
			continue
		}
		users, err := m.InUse(ctx, v.Name)
		if err != nil {
			return rep, err
		}
		if len(users) > 0 {
			continue
		}
		size, _ := m.Size(ctx, v)
		if err := m.Remove(ctx, v.Name, false); err != nil {
			if errdefs.IsConflict(err) {
				continue
			}
			return rep, err
		}
		rep.Removed = append(rep.Removed, v.Name)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, nil
}

// Size returns the bytes of v's content in berth's directory (0 for bind,
// tmpfs and device volumes, whose content lives elsewhere).
func (m *Manager) Size(ctx context.Context, v *Volume) (int64, error) {
	var total int64
	err := filepath.WalkDir(v.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total, err
}
