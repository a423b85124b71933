#!/usr/bin/env bash
# Installs the system packages berth's tasks need, idempotently: nothing is
# installed when every command is already present. Arguments add more
# COMMAND:PACKAGE pairs (the bench task adds runc and crun).
set -euo pipefail
want=(
  "nft:nftables"
  "ip:iproute2"
  "skopeo:skopeo"
  "umoci:umoci"
  "docker-registry:docker-registry"
  "debootstrap:debootstrap"
  "curl:curl"
  "$@"
)
pkgs=()
for w in "${want[@]}"; do
  command -v "${w%%:*}" >/dev/null 2>&1 || pkgs+=("${w#*:}")
done
[ -x /bin/busybox ] || pkgs+=(busybox-static)
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing ${pkgs[*]}; run as root (or apt-get install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing ${pkgs[*]}" >&2
apt-get install -y -q "${pkgs[@]}" >/dev/null 2>&1 || {
  apt-get update -q >/dev/null 2>&1
  apt-get install -y -q "${pkgs[@]}" >/dev/null
}
