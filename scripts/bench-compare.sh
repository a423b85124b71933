#!/usr/bin/env bash
# bench-compare.sh BERTH: runs examples/bench's stacks with berth, Docker Compose v2
# (on a dockerd of its own) and podman-compose in one run, one tool after another, and
# prints each figure with its ratio to berth's (`go tool task bench:compare`).
#
# Installs what it needs, idempotently: Debian's docker.io, podman and podman-compose
# (with a policy-rc.d that keeps apt from starting daemons), and Docker Compose
# v2.40.3 built from the Go module proxy into a private DOCKER_CONFIG.
#
# All three run in one network namespace of their own (cmpbench<pid>): bridges,
# iptables/nftables rules and published ports (web3's 127.0.0.1:18080) stay there, so
# the host's netfilter (dockerd's FORWARD policy DROP would meet bridged traffic, as
# bridge-nf-call-iptables is on) and berth's tests running beside it are not touched,
# and no tool gets a head start. Images come from the fixture registry on
# 127.0.0.1:5000 before anything is timed, pulled from the host's namespace (skopeo
# into a tarball for dockerd, `podman pull`, `berth pull`). At the end, whatever
# happens, the projects are removed, the dockerd started here is stopped by its PID,
# and the namespace, mounts, cgroups and files it used are removed.
#
# Environment: BENCH_CACHE (default /var/tmp/berth-bench-compare) keeps the built
# Compose plugin; BENCH_N is the most timed runs of a fast figure (default 5);
# BENCH_TOOLS picks the tools beside berth (default "docker podman"; podman-compose
# takes about half of the ~20 minutes); DOCKERD is the daemon (default
# /usr/sbin/dockerd); BENCH_KEEP=1 keeps the work directory.
set -euo pipefail

BERTH=${1:?usage: bench-compare.sh path/to/berth}
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${BENCH_CACHE:-/var/tmp/berth-bench-compare}
COMPOSE_VERSION=v2.40.3
IMAGE=127.0.0.1:5000/busybox:1
DOCKER=/usr/bin/docker # Debian's CLI, the daemon's version (/usr/local/bin may hold another)
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
TOOLS=" ${BENCH_TOOLS:-docker podman} "

say() { echo "bench:compare: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "needs root (containers, network namespaces): run it as root"
  exit 1
fi
curl -fsS "http://127.0.0.1:5000/v2/busybox/tags/list" 2>/dev/null | grep -q '"1"' || {
  say "the fixture registry on 127.0.0.1:5000 has no busybox:1: run go tool task fixtures"
  exit 1
}

docker_skip=""
podman_skip=""
[[ $TOOLS == *" docker "* ]] || docker_skip="not in BENCH_TOOLS"
[[ $TOOLS == *" podman "* ]] || podman_skip="not in BENCH_TOOLS"
keep_logs=""

# --- installs -------------------------------------------------------------------

policy_made=""
install_packages() {
  local need=()
  if [ -z "$docker_skip" ]; then
    [ -x /usr/sbin/dockerd ] && [ -x $DOCKER ] || need+=(docker.io)
  fi
  if [ -z "$podman_skip" ]; then
    command -v podman >/dev/null || need+=(podman)
    command -v podman-compose >/dev/null || need+=(podman-compose)
  fi
  [ ${#need[@]} -eq 0 ] && return 0
  say "installing ${need[*]} (apt-get)"
  # No daemon may start from the packages' scripts: the dockerd here is ours alone.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# bench-compare.sh: no service starts while it installs\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_made=1
  fi
  local apt=(apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${need[@]}")
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" >/dev/null || say "apt-get install ${need[*]} failed"
  }
  if [ -n "$policy_made" ]; then
    rm -f /usr/sbin/policy-rc.d
    policy_made=""
  fi
}

# Docker Compose v2 as a CLI plugin in a private DOCKER_CONFIG. Its go.mod has
# exclude directives, which `go install module/cmd@version` refuses, so the module
# is downloaded and built in place (about 7 minutes on 2 cores, once).
plugin=$CACHE/docker-config/cli-plugins/docker-compose
build_compose() {
  if "$plugin" version 2>/dev/null | grep -q "$COMPOSE_VERSION"; then
    return 0
  fi
  say "building Docker Compose $COMPOSE_VERSION (once, kept in $CACHE; several minutes)"
  mkdir -p "$(dirname "$plugin")"
  local dir
  dir=$(cd "$CACHE" && GOFLAGS= go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || return 1
  (cd "$dir" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath \
    -ldflags "-w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
    -o "$plugin.new" ./cmd) && mv "$plugin.new" "$plugin"
}

# --- cleanup --------------------------------------------------------------------

W=""
NS=cmpbench$$
BROOT=""
LOGS=""
keyjson_made=""
dockerd_pid=""
compare_pid=""
libpod_cg_made=""
netns_before=""

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [ -n "$policy_made" ] && rm -f /usr/sbin/policy-rc.d
  if [ -n "$compare_pid" ]; then
    # it stops the command it runs and removes that figure's project
    kill -TERM "$compare_pid" 2>/dev/null
    wait "$compare_pid" 2>/dev/null
  fi
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    # the daemon is ours alone: every container on it is this run's
    local ids
    ids=$($DOCKER ps -aq 2>/dev/null)
    [ -n "$ids" ] && $DOCKER rm -f $ids >/dev/null 2>&1
    kill -TERM "$dockerd_pid"
    for _ in $(seq 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$dockerd_pid" 2>/dev/null && { say "dockerd $dockerd_pid did not stop in 30 s: killing it"; kill -KILL "$dockerd_pid"; }
    wait "$dockerd_pid" 2>/dev/null
  fi
  # dockerd 20.10 writes its trust key there whatever its flags
  [ -n "$keyjson_made" ] && rm -f /etc/docker/key.json
  if [ -n "$rc" ] && [ "$rc" != 0 ] && [ -f "$W/docker/dockerd.log" ] && [ -n "$LOGS" ]; then
    cp "$W/docker/dockerd.log" "$LOGS/"
  fi
  if [ -n "$W" ] && [ -f "$W/podman/containers.conf" ] && command -v podman >/dev/null; then
    nsenter --net="/run/netns/$NS" podman rm -af -t 0 >/dev/null 2>&1
    nsenter --net="/run/netns/$NS" podman pod rm -af >/dev/null 2>&1
  fi
  # processes left in the namespace were started here (a shim or docker-proxy of a
  # daemon that died): stop them by PID
  if [ -e "/run/netns/$NS" ]; then
    local pids
    pids=$(ip netns pids "$NS" 2>/dev/null)
    [ -n "$pids" ] && { say "stopping what was left in $NS: $pids"; kill -KILL $pids; sleep 0.5; }
    ip netns del "$NS"
  fi
  # the container namespaces podman made and did not remove
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^netns-'); do
    grep -qx "$n" <<<"$netns_before" || ip netns del "$n"
  done
  if [ -n "$W" ]; then
    # overlay and bind mounts of the two engines, deepest first
    awk -v w="$W/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m"
    done
    for cg in /sys/fs/cgroup/*/"$NS-docker"; do
      [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    if [ -n "$libpod_cg_made" ]; then
      for cg in /sys/fs/cgroup/*/libpod_parent; do
        [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
      done
    fi
    if [ "${BENCH_KEEP:-}" = 1 ]; then say "kept $W"; else rm -rf "$W"; fi
  fi
  if [ -n "$LOGS" ]; then
    if [ "$rc" = 0 ] && [ -z "$keep_logs" ]; then rm -rf "$LOGS"; else say "logs kept in $LOGS"; fi
  fi
  if [ -n "$BROOT" ]; then
    # berth's root: removed only when berth left nothing mounted in it
    if awk -v r="$BROOT/" 'index($5, r) == 1 {f=1} END {exit !f}' /proc/self/mountinfo; then
      say "berth left mounts under $BROOT: not removed"
    else
      rm -rf "$BROOT"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

# --- set up ---------------------------------------------------------------------

mkdir -p "$CACHE"
install_packages
if [ -z "$docker_skip" ]; then
  [ -x "$DOCKERD" ] && [ -x $DOCKER ] || docker_skip="docker.io could not be installed (apt-get)"
fi
if [ -z "$podman_skip" ]; then
  command -v podman >/dev/null && command -v podman-compose >/dev/null ||
    podman_skip="podman/podman-compose could not be installed (apt-get)"
fi
if [ -z "$docker_skip" ] && ! build_compose; then
  docker_skip="Docker Compose $COMPOSE_VERSION could not be built from the Go module proxy"
fi

W=$(mktemp -d /var/tmp/cmpbench.XXXXXX)
BROOT=$(mktemp -d /var/tmp/cmpbench-berth.XXXXXX)
LOGS=$(mktemp -d /var/tmp/cmpbench-logs.XXXXXX)
[ -e /etc/docker/key.json ] || keyjson_made=1
netns_before=$(ip netns list 2>/dev/null | awk '{print $1}')
[ -d /sys/fs/cgroup/memory/libpod_parent ] || libpod_cg_made=1
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns=(nsenter --net="/run/netns/$NS")

export DOCKER_CONFIG=$CACHE/docker-config DOCKER_HOST=unix://$W/docker/docker.sock
# podman reads DOCKER_CONFIG for credentials too, and fails when the file is missing
[ -f "$DOCKER_CONFIG/config.json" ] || echo '{}' >"$DOCKER_CONFIG/config.json"
start_dockerd() {
  mkdir -p "$W/docker"
  echo '{}' >"$W/docker/daemon.json" # not the host's /etc/docker/daemon.json
  "${in_ns[@]}" "$DOCKERD" --config-file "$W/docker/daemon.json" \
    --data-root "$W/docker/data" --exec-root "$W/docker/exec" --pidfile "$W/docker/dockerd.pid" \
    -H "$DOCKER_HOST" --cgroup-parent "/$NS-docker" >"$W/docker/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 120); do
    $DOCKER version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
  done
  if ! $DOCKER version >/dev/null 2>&1; then
    local why
    why=$(grep -E 'level=(error|fatal)|failed' "$W/docker/dockerd.log" | tail -3)
    [ -n "$why" ] || why=$(tail -3 "$W/docker/dockerd.log")
    [ -n "$why" ] || why="it exited and logged nothing"
    cp "$W/docker/dockerd.log" "$LOGS/"
    keep_logs=1
    docker_skip="$DOCKERD did not start (its log: $LOGS/dockerd.log): $(tr '\n' ' ' <<<"$why")"
    return 1
  fi
  # dockerd in the namespace cannot reach the host's loopback: the image goes in as a tarball
  skopeo copy -q --src-tls-verify=false "docker://$IMAGE" "docker-archive:$W/busybox.tar:$IMAGE" &&
    $DOCKER load -q -i "$W/busybox.tar" >/dev/null &&
    $DOCKER run --rm "$IMAGE" true || {
    docker_skip="dockerd started but cannot run $IMAGE (see above)"
    return 1
  }
}

# podman: private storage, runroot, network configs and registries.conf.
# - runtime runc: Debian 12's crun refuses hybrid cgroups ("cgroups in hybrid mode
#   not supported, drop all controllers from cgroupv2") and this machine is hybrid v1.
# - default_ulimits: podman raises a root container's RLIMIT_NOFILE and RLIMIT_NPROC
#   to 1048576, which needs CAP_SYS_RESOURCE; where that is missing (this sandbox) the
#   runtime fails with "setrlimit RLIMIT_NOFILE: Operation not permitted". The
#   container gets the current hard limits instead (podman lowers its own RLIMIT_NPROC
#   to 32768, which bounds the nproc given here). Docker's containers inherit the same.
# - healthchecks need systemd timers, which this machine (no systemd) lacks: podman
#   logs an error and runs none; podman-compose 1.0.3 ignores depends_on conditions.
P=$W/podman
export CONTAINERS_STORAGE_CONF=$P/storage.conf CONTAINERS_REGISTRIES_CONF=$P/registries.conf CONTAINERS_CONF=$P/containers.conf
setup_podman() {
  mkdir -p "$P/networks" "$P/tmp"
  local nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
  [ "$nofile" = unlimited ] && nofile=1048576
  cat >"$P/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$P/root"
runroot = "$P/run"
EOF
  cat >"$P/registries.conf" <<EOF
unqualified-search-registries = []
[[registry]]
location = "127.0.0.1:5000"
insecure = true
EOF
  cat >"$P/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
tmp_dir = "$P/tmp"
volume_path = "$P/volumes"
[network]
network_backend = "netavark"
network_config_dir = "$P/networks"
EOF
  podman pull -q "$IMAGE" >/dev/null && "${in_ns[@]}" podman run --rm "$IMAGE" true || {
    podman_skip="podman cannot pull or run $IMAGE (see above)"
    return 1
  }
}

[ -z "$docker_skip" ] && start_dockerd || true
[ -z "$podman_skip" ] && setup_podman || true
[ -n "$docker_skip" ] && say "Docker Compose is left out: $docker_skip"
[ -n "$podman_skip" ] && say "podman-compose is left out: $podman_skip"

for stack in web3 web3slow wide30; do
  "$BERTH" --root "$BROOT" -f "$REPO/examples/bench/$stack/compose.yaml" pull -q >/dev/null
done

# --- versions and machine ---------------------------------------------------------

os=$(. /etc/os-release && echo "$PRETTY_NAME")
cg=$(stat -fc %T /sys/fs/cgroup)
[ "$cg" = cgroup2fs ] && cg="cgroups v2" || cg="cgroups v1$([ -d /sys/fs/cgroup/unified ] && echo ' (hybrid)')"
echo "Machine: $os, $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r), $cg"
echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v n="$(nproc)" '$1 > n {exit 1}' /proc/loadavg ||
  say "the machine is busy (load $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores): the figures will be noisy"
echo "berth: $("$BERTH" version 2>/dev/null | head -1)"
if [ -z "$docker_skip" ]; then
  echo "Docker Compose: $($DOCKER compose version --short) on dockerd $($DOCKER version --format '{{.Server.Version}}')" \
    "(containerd $($DOCKER version --format '{{range .Server.Components}}{{if eq .Name "containerd"}}{{.Version}}{{end}}{{end}}')," \
    "runc $(runc --version | awk 'NR==1 {print $3}'))"
fi
if [ -z "$podman_skip" ]; then
  echo "podman-compose: $(podman-compose version 2>/dev/null | awk '/podman-compose(r)? version/ {print $NF}') on podman $(podman version --format '{{.Client.Version}}')" \
    "(runc, netavark $(/usr/lib/podman/netavark --version 2>/dev/null | awk '{print $2}'), conmon $(conmon --version 2>/dev/null | awk 'NR==1 {print $3}'))"
fi
echo

# --- measure ----------------------------------------------------------------------

args=(-stacks "$REPO/examples/bench" -n "${BENCH_N:-5}" -log "$LOGS"
  -berth "${in_ns[*]} $BERTH --root $BROOT --progress plain")
if [ -z "$docker_skip" ]; then
  args+=(-docker "$DOCKER compose --progress plain" -docker-engine "$DOCKER")
else
  args+=(-docker-skip "$docker_skip")
fi
if [ -z "$podman_skip" ]; then
  args+=(-podman "${in_ns[*]} podman-compose" -podman-engine "${in_ns[*]} podman")
else
  args+=(-podman-skip "$podman_skip")
fi
cd "$REPO"
go build -o "$W/compare" ./examples/bench/compare
# in the background, so that a signal reaches the trap at once (bash runs traps
# only between commands)
"$W/compare" "${args[@]}" &
compare_pid=$!
rc=0
wait "$compare_pid" || rc=$?
compare_pid=""
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
