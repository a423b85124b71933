// Package runtime runs one container's process on the kernel's namespaces:
// the re-exec'd init (`berth __init`) that assembles the root filesystem,
// pivots into it, drops privileges and execs the user's process, and exec of
// further processes into a running container through a pidfd.
//
// It knows nothing of images, compose or supervision: the monitor gives it a
// resolved Config (BuildConfig helps make one) and owns the resulting
// process. It never writes outside the container's mount namespace except
// for copy-up into an empty volume.
//
// # Start
//
// Start re-executes the berth binary (/proc/self/exe) as `__init` in new
// namespaces. The parent and the init talk over three inherited descriptors:
//
//	parent (monitor)                       init (berth __init, new namespaces)
//	  clone(NEWNS|NEWPID|…)  ────────────►  GOMAXPROCS(1), LockOSThread
//	  BeforeRelease(pid)                    blocks reading fd 3 (config pipe)
//	  (v1 cgroups, veth, DNS sockets)
//	  write Config JSON on fd 3, close ──►  decode Config
//	                                        / rprivate, mount rootfs, /proc, /dev,
//	                                        /sys, volumes, files; pivot_root;
//	                                        sysctls, masked and read-only paths,
//	                                        hostname, rlimits, tty, user, caps,
//	                                        no_new_privs, seccomp (runc's order)
//	  (tty) recvmsg master on fd 5 ◄──────  send pty master (SCM_RIGHTS), fd 5
//	  read fd 4 until EOF ◄────────────────  execve: fd 4 is CLOEXEC, EOF = running
//	                                        or: write {"error","code"} on fd 4, exit
//
// Namespaces to join (network_mode: container:X, ipc/pid: container:X) are
// entered by the parent on a locked, then discarded, OS thread before the
// clone, so the init is born in them.
//
// With Config.Init the init does not exec the user's process but forks it
// and stays as PID 1: it forwards signals to the child, reaps every zombie
// and exits with the child's status. It has already dropped to the user's
// credentials, capabilities and seccomp filter before forking, as
// docker-init does, and is not dumpable.
//
// # Exec
//
// Exec starts a process in a running container without cgo and without an
// agent inside it: pidfd_open, host paths opened first, then on a locked OS
// thread that is never unlocked (the Go runtime discards it) unshare(CLONE_FS),
// setns(pidfd, mnt|pid|uts|ipc|net|cgroup), the container's bounding set,
// no_new_privs and seccomp filter applied to that thread, and fork+exec with
// the user's credentials (the child inherits the thread's restrictions). The
// child stops at exec (PTRACE_TRACEME) so that it is placed in the
// container's cgroups (v1, or v2 when the container's seccomp filter forbids
// clone3) and given its rlimits and oom_score_adj before it runs a single
// instruction; on v2 without a filter it is cloned straight into the cgroup
// (CLONE_INTO_CGROUP).
package runtime
