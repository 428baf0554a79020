#!/usr/bin/env bash
# Perimeter benchmark: bench/run.sh [--short] [--perimeter-bin PATH] [--out FILE.json] [--no-litellm]
# Installs nginx and wrk from Debian when missing, raises the open-file limit, then runs bench/run.py,
# which starts everything on 127.0.0.1, measures, prints a table, writes JSON and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if ((${#need[@]})); then
    echo "bench: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Debian's nginx package would start a system nginx on port 80; keep services from starting.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
        trap 'rm -f "$policy"' EXIT
    fi
    apt_install() { apt-get install -y -q --no-install-recommends "${need[@]}" >&2; }
    if ! apt_install; then
        apt-get update -q >&2
        apt_install
    fi
    if ((own_policy)); then rm -f "$policy"; fi
    trap - EXIT
fi
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 is required" >&2; exit 2; }

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# exec, so Ctrl-C and SIGTERM reach run.py directly; it stops every process it started (its own
# try/finally and signal handlers are the EXIT trap), and children also get SIGTERM if it is killed.
exec python3 bench/run.py "$@"
