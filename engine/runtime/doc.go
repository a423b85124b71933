// Package runtime runs one container's process on the kernel's namespaces:
// the re-exec'd init (`berth __init`) that assembles the root filesystem,
// pivots into it, drops privileges and execs the user's process, and exec of
// further processes into a running container through a pidfd.
//
// It knows nothing of images, compose or supervision: the monitor gives it a
// resolved Config and owns the resulting process.
package runtime
