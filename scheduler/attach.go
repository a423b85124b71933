package scheduler

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthdev/berth/engine"
)

// attach is up's foreground session: it streams the output of the
// attached services' containers and watches them exit. It returns when
// every attached container has exited, when one exits under a cascade
// (--abort-on-container-exit, --exit-code-from), or when ctx is cancelled
// (Ctrl-C); in the last two cases it stops the stack first.
func (s *Service) attach(ctx context.Context, p *types.Project, x *execution, opts StartOptions, since time.Time) error {
	type target struct{ id, name, service string }
	var targets []target
	for _, name := range sortedKeys(p.Services) {
		svc := p.Services[name]
		if len(opts.AttachTo) > 0 && !slices.Contains(opts.AttachTo, name) {
			continue
		}
		if slices.Contains(opts.NoAttach, name) || (svc.Attach != nil && !*svc.Attach && len(opts.AttachTo) == 0) {
			continue
		}
		for _, id := range x.containers(name) {
			targets = append(targets, target{id: id, name: x.name(id), service: name})
		}
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.name
		opts.Attach.Register(t.name, t.service)
	}
	if opts.OnAttach != nil {
		opts.OnAttach(names)
	}

	type exit struct {
		target
		code int
		err  error
	}
	// Not ctx: after a Ctrl-C the streams must report the stop it causes.
	lctx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLogs()
	exits := make(chan exit, len(targets))
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(2)
		go func() {
			defer wg.Done()
			err := s.engine.Logs(lctx, t.id, engine.LogsOptions{Follow: true, Tail: -1, Since: since.Add(-time.Second)},
				func(e engine.LogEntry) error {
					opts.Attach.Log(t.name, t.service, e.Stream, e.Time, e.Line)
					return nil
				})
			if err != nil && lctx.Err() == nil {
				s.log.Warn("logs", "container", t.name, "err", err)
			}
		}()
		go func() {
			defer wg.Done()
			code, err := s.engine.Wait(lctx, t.id)
			exits <- exit{target: t, code: code, err: err}
		}()
	}

	exitCode := 0
	var exitErr error
	pending := len(targets)
	stopStack := false
	for pending > 0 && !stopStack {
		select {
		case <-ctx.Done():
			stopStack = true
			exitErr = &ExitCodeError{Code: 130}
		case e := <-exits:
			pending--
			if e.err != nil {
				if lctx.Err() != nil {
					continue
				}
				opts.Attach.Status(e.name, e.service, "exited: "+e.err.Error())
				continue
			}
			opts.Attach.Status(e.name, e.service, fmt.Sprintf("exited with code %d", e.code))
			if opts.ExitCodeFrom == e.service {
				exitCode = e.code
			}
			switch {
			case opts.ExitCodeFrom != "" || opts.OnExit == CascadeStop:
				stopStack = true
				if opts.ExitCodeFrom == "" && exitCode == 0 {
					exitCode = e.code
				}
			case opts.OnExit == CascadeFail && e.code != 0:
				stopStack = true
				exitCode = e.code
			}
		}
	}
	if stopStack {
		if opts.OnStopping != nil {
			opts.OnStopping()
		}
		if err := s.stopForAttach(context.WithoutCancel(ctx), p, opts); err != nil && exitErr == nil {
			exitErr = err
		}
		// Report the exits the stop caused, as docker compose does.
		drain := time.After(2 * time.Second)
	report:
		for pending > 0 {
			select {
			case e := <-exits:
				pending--
				if e.err == nil {
					opts.Attach.Status(e.name, e.service, fmt.Sprintf("exited with code %d", e.code))
				}
			case <-drain:
				break report
			}
		}
	}
	stopLogs()
	wg.Wait()
	if exitErr != nil {
		return exitErr
	}
	if exitCode != 0 {
		return &ExitCodeError{Code: exitCode}
	}
	return nil
}

// stopForAttach stops the project's containers in reverse dependency
// order; when opts.Kill is closed meanwhile, the remaining ones are killed.
func (s *Service) stopForAttach(ctx context.Context, p *types.Project, opts StartOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	killed := make(chan struct{})
	if opts.Kill != nil {
		go func() {
			select {
			case <-opts.Kill:
				close(killed)
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	err := s.Stop(ctx, p.Name, StopOptions{Timeout: opts.Timeout})
	select {
	case <-killed:
		return s.Kill(context.WithoutCancel(ctx), p.Name, KillOptions{Signal: "SIGKILL"})
	default:
	}
	return err
}
