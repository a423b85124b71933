#!/usr/bin/env bash
# Runs the example stack: nginx -> API -> PostgreSQL.
#
#   ./examples/webstack/demo.sh path/to/berth      (go tool task demo does this)
#
# Idempotent: the API image is rebuilt and re-imported only when its binary
# changes, and `berth up` leaves an unchanged stack as it is. Needs the
# fixture images in the local registry (go tool task fixtures). State goes
# to BERTH_ROOT (default /var/lib/berth); WEB_PORT (default 8080) is the
# published port on 127.0.0.1.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
berth="${1:-$repo/bin/berth}"
case "$berth" in /*) ;; *) berth="$PWD/$berth" ;; esac
[ -x "$berth" ] || { echo "demo: no berth binary at $berth (go tool task build)" >&2; exit 1; }
port="${WEB_PORT:-8080}"
export WEB_PORT="$port"
image=berth-example/webstack-api:dev
compose=(-f "$here/compose.yaml")

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# 1. The API image: a static binary in a one-file root filesystem.
step "API image $image"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$work/rootfs/api" ./examples/webstack/api)
sum="$(sha256sum "$work/rootfs/api" | cut -c1-16)"
if "$berth" image inspect "$image" 2>/dev/null | grep -q "$sum"; then
  echo "    up to date ($sum)"
else
  mkdir -p "$work/rootfs/tmp" "$work/rootfs/etc"
  echo 'nobody:x:65534:65534:nobody:/:/api' >"$work/rootfs/etc/passwd"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
  "$berth" image import \
    --change 'CMD ["/api"]' \
    --change 'EXPOSE 8080' \
    --change "LABEL org.berthdev.example.api=$sum" \
    "$work/rootfs.tar" "$image"
fi

# 2. The stack, in dependency order, waiting until every service is
# running or healthy (the migration job must have succeeded).
step "berth up -d --wait"
"$berth" "${compose[@]}" up -d --wait

# 3. What it serves.
url="http://127.0.0.1:$port/"
step "The stack answers on $url"
"$berth" "${compose[@]}" ps
echo
echo "\$ curl -s ${url}api/items"
curl -fsS "${url}api/items"
echo
echo
echo "Open $url in a browser. Add a row:  curl -X POST '${url}api/items?name=hello'"
echo "Take it down:   $berth -f $here/compose.yaml down       (add -v to delete the database volume)"
