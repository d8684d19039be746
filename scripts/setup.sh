#!/usr/bin/env bash
# Installs what crosstalk needs on Debian (perf, a C compiler for the lab workloads, the npm
# packages) and builds it. With --test, also what the test suite uses: Chromium (HTML report
# tests, driven by playwright-core), Go (`go tool pprof` reads crosstalk's pprof export), Docker,
# podman and Prometheus.
# Idempotent: a second run only checks. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
if [ "${1:-}" = "--test" ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v go >/dev/null 2>&1 || missing+=(golang-go)
  # Real container engines (lab and demo --engine docker|podman), Prometheus (watch's metrics
  # are checked through its query API).
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
fi
# eBPF per-container syscall latency and errors while recording (optional at run time).
command -v bpftrace >/dev/null 2>&1 || missing+=(bpftrace)
command -v perf >/dev/null 2>&1 || missing+=(linux-perf)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
# addr2line (file:line of call sites) and c++filt (C++ names of the native decoder).
command -v addr2line >/dev/null 2>&1 || missing+=(binutils)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${missing[*]}; run this script as root to install them" >&2
    exit 77
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: crosstalk needs Node.js >= 20, found $(node --version)" >&2
  exit 69
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
echo "setup: ready ($(perf --version), node $(node --version))" >&2
