#!/bin/sh
# Builds berth and the helpers installed beside it into DIR (default bin/):
# the one place that knows how each binary is built (the Taskfile's build
# task and the tests' builds call it).
set -eu
dir=${1:-bin}
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
# Static binaries: each container's init and monitor start ~20% faster
# without cgo's package initialisers.
export CGO_ENABLED=0
go build -o "$dir/berth" ./cmd/berth
go build -o "$dir/berth-init" ./cmd/berth-init
# The monitor lives as long as its container with a heap of ~200 KB. Go
# 1.26's default collector (Green Tea) keeps per-size-class span queues
# whose blocks its first cycle touches: ~200 KB more resident memory per
# monitor (BenchmarkMonitorRSS: 3072 KiB with it, 2856 KiB without).
GOEXPERIMENT=nogreenteagc go build -o "$dir/berth-monitor" ./cmd/berth-monitor
