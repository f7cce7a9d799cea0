#!/usr/bin/env bash
# `make test`: the set-up of `make run` (no seed, no server), Debian's Chromium
# for the browser tests, then lint, the import layers, the migrations check and
# the whole pytest suite (unit, integration, browser). Extra pytest arguments:
# `make test ARGS="-k widget"` or PYTEST_ADDOPTS (e.g. "-n 2" for xdist).
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --dev
export PATH="$(pwd)/.venv/bin:$PATH"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mERROR:\033[0m %s\n' "$*" >&2; exit 1; }

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
    if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        say "Installing Debian's chromium for the browser tests"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null \
            || die "apt-get could not install chromium"
    else
        die "The browser tests need Debian's Chromium at $CHROMIUM.
       Install it as root: 'sudo apt-get update && sudo apt-get install -y chromium'"
    fi
fi

say "ruff check"
ruff check .
say "lint-imports"
lint-imports
say "makemigrations --check"
python manage.py makemigrations --check --dry-run
say "pytest"
set +e
# shellcheck disable=SC2086
python -m pytest ${ARGS:-} "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
    say "pytest collected no tests (exit code 5): nothing failed"
    rc=0
fi
exit $rc
