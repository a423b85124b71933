package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/state"
)

// Sweeping. The engine's and the network manager's Sweep clean what a
// killed command or a dead monitor left (monitors, cgroups, endpoints,
// leases, half-made objects). They read every record of the root, so they
// cost time that grows with the number of containers; running them on
// every up or down would make an up with nothing to do slow. So each
// mutating command registers itself for its lifetime (an flock'd file in
// <run>/commands, which the kernel releases if it dies), and:
//
//   - a registration found unlocked is the trace of a command that died:
//     Prepare sweeps (and removes the trace);
//   - a container of the project observed with a dead monitor makes the
//     command sweep before it plans (see sweepIfNeeded);
//   - Options.AlwaysSweep sweeps every time.
//
// Commands that do not change anything (ps, logs, …) neither register nor
// sweep.

// commandsDir holds the registrations of running mutating commands.
func (s *Service) commandsDir() string { return filepath.Join(s.paths.Run, "commands") }

// Prepare registers the command and, when a previous command died (or
// AlwaysSweep), starts the sweep in the background so that it overlaps
// loading the project. Up and Down call it themselves when the command did
// not; calling it again does nothing. Close releases the registration.
func (s *Service) Prepare(ctx context.Context) {
	s.sweepOnce.Do(func() {
		dirty := s.register()
		if !dirty && !s.alwaysSweep {
			close(s.swept)
			return
		}
		s.swepted = true
		ctx := context.WithoutCancel(ctx)
		go func() {
			defer close(s.swept)
			s.runSweep(ctx)
		}()
	})
}

// register takes this command's registration and reports whether a dead
// command's was found (and removed).
func (s *Service) register() (dirty bool) {
	dir := s.commandsDir()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if state.IsLocked(p) {
			continue
		}
		// Take it to be sure its owner is gone, then drop it.
		if l, err := state.TryLock(p); err == nil {
			_ = os.Remove(p)
			_ = l.Unlock()
			dirty = true
		}
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := filepath.Join(dir, strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(b))
	if l, err := state.TryLock(p); err == nil {
		s.registration, s.registrationPath = l, p
	} else {
		s.log.Warn("register command", "err", err)
	}
	return dirty
}

// Close releases the command's registration (a clean end: the next
// command need not sweep for it).
func (s *Service) Close() {
	if s.registration != nil {
		_ = os.Remove(s.registrationPath)
		_ = s.registration.Unlock()
		s.registration = nil
	}
}

func (s *Service) runSweep(ctx context.Context) {
	if err := s.engine.Sweep(ctx); err != nil {
		s.log.Warn("engine sweep", "err", err)
	}
	if s.networks != nil {
		if err := s.networks.Sweep(ctx); err != nil {
			s.log.Warn("network sweep", "err", err)
		}
	}
}

// sweep waits for the sweep Prepare started, if any (starting Prepare if
// needed). Failures are diagnostics, not errors: the command itself
// reports what matters.
func (s *Service) sweep(ctx context.Context) {
	s.Prepare(ctx)
	select {
	case <-s.swept:
	case <-ctx.Done():
	}
}

// sweepIfNeeded sweeps now when one of the observed containers lost its
// monitor (and Prepare did not sweep already), and reports whether it did:
// the caller observes again.
func (s *Service) sweepIfNeeded(ctx context.Context, cs map[string]*engine.Container) bool {
	if s.swepted {
		return false
	}
	for _, c := range cs {
		if (c.State.Running || c.State.Paused || c.State.Restarting) && !c.State.MonitorAlive {
			s.swepted = true
			s.runSweep(context.WithoutCancel(ctx))
			return true
		}
	}
	return false
}
