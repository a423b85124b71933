// Package monitor is berth's per-container supervisor, the role podman's
// conmon plays: `berth __monitor <id>` is started detached by the engine
// for each container start and lives as long as the container (restarts
// included). It is the parent of the container's init, so it gets the exit
// status itself; it is a child subreaper, so exec'd and healthcheck
// processes are reaped by it.
//
//	engine.Start (Spawn)                 monitor (Main)                       init
//	  re-exec __monitor, Setsid ──────►  PR_SET_CHILD_SUBREAPER, flock
//	  fd 3 = ready pipe                  monitor.lock (held for life),
//	                                     read config.json, listen ctl.sock,
//	                                     create cgroup, pipes
//	                                     runtime.Start ──────────────────►  clone (namespaces)
//	                                       BeforeRelease: v1 placement,      waits on config pipe
//	                                       Networker.Attach, /etc files,
//	                                       ServeDNS goroutine
//	                                                           config ──►  mount, pivot, exec
//	                                     write state.json (running)
//	  read {"ok":true} ◄──────────────── report, close fd 3
//	  return                             pump stdout/stderr → <id>-json.log,
//	                                     healthchecks (runtime.Exec), ctl
//	                                     requests (stop, kill, pause, wait,
//	                                     attach, resize)
//	                                     init exits: Detach, cgroup removal,
//	                                     state.json (exited), restart policy
//	                                     with back-off, or finish (AutoRemove)
//
// What it writes: state.json in the volatile directory (the live state,
// written only by the monitor while its lock is held, atomically), the
// persistent state.json (what survives a reboot: status, exit code, times),
// the json-file log, and events. Liveness is the lock: a process that can
// take monitor.lock knows the monitor is gone, with no pid-reuse question.
//
// It deliberately does not import engine (engine imports it for Spawn,
// Client and the file formats) nor the network package: networking comes in
// through the Networker interface over engine/netspec types. It never
// panics (every goroutine recovers) and keeps its heap small (GOGC 25).
package monitor
