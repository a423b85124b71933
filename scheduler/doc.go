// Package scheduler is berth's compose service API: Up, Down, Ps, Logs,
// Exec, Run and the other day-to-day commands, each taking an XxxOptions
// struct shaped like docker compose's pkg/api.
//
// It is the only package that translates compose types (compose-go's
// types.Project and types.ServiceConfig) into the specs of the engine, the
// network manager and the volume manager, which it drives through small
// interfaces declared here (engine.go) and never imports as behaviour.
//
// Up follows observe → plan → execute:
//   - observe (observe.go) reads what exists with one List per kind of
//     object (containers by the com.docker.compose.project label, networks,
//     volumes); no per-container round trips, so an `up` with nothing to do
//     is a handful of file reads;
//   - plan (plan.go) is a pure function of the project, the observed state
//     and the options; it returns operations, each with a cause ("config
//     hash changed", "not found"); `--dry-run` prints it;
//   - execute (executor.go) walks the plan over the service graph
//     (scheduler/graph) without making decisions: every service whose
//     dependencies are satisfied is created and started at once, bounded by
//     --parallel; depends_on conditions (service_healthy, …) are waited for
//     inside the dependent's own step, never in the walker.
//
// Invariants: mutating commands on one project are serialised by an flock on
// <run>/projects/<name>/lock, never held across processes' lifetimes; every
// command starts from what is on disk (containers carry the compose labels),
// so a command killed at any point leaves a state the next one converges
// from; Down works from the project name alone.
//
// User-visible progress is a stream of Events (events.go) rendered by
// cmd/berth/display; diagnostics go to the slog.Logger in Options.
package scheduler
