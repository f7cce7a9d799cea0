#!/usr/bin/env bash
# Prepare a machine to run or test Charla; safe to run again and again.
#
#   scripts/bootstrap.sh          runtime set-up (used by `make run`)
#   scripts/bootstrap.sh --dev    also the test and lint tools (used by `make test`)
#
# Steps: Python >= 3.11 -> .venv -> pip install (only when the requirements
# files changed) -> PostgreSQL and Redis answer (started locally when their
# Debian packages are installed) -> database exists -> migrate ->
# compilemessages (when gettext is installed) -> setup_periodic_tasks.
#
# Environment: DATABASE_URL, REDIS_URL (also read from .env), PYTHON (the
# interpreter that creates .venv), SKIP_MIGRATE=1 (stop after the services).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
VENV="$ROOT/.venv"
MODE="base"
[[ "${1:-}" == "--dev" ]] && MODE="dev"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mERROR:\033[0m %s\n' "$*" >&2; exit 1; }

# --- 1. Python >= 3.11 -----------------------------------------------------
version_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }

find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && version_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if [[ -x "$VENV/bin/python" ]] && { ! version_ok "$VENV/bin/python" || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; }; then
    # An interrupted first run can leave a .venv without pip.
    say "Existing .venv is broken, has no pip or is older than Python 3.11: recreating it"
    rm -rf "$VENV"
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    PY="$(find_python)" || die "Python 3.11 or newer is required and was not found.
       Install it (Debian 12: 'apt-get install python3 python3-venv') or point PYTHON at one:
       PYTHON=/path/to/python3.11 make run"
    say "Creating .venv with $PY ($("$PY" --version 2>&1))"
    "$PY" -m venv "$VENV" || die "Could not create .venv. On Debian install the venv module: 'apt-get install python3-venv'"
fi
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"

# --- 2. Dependencies, only when the requirements files changed ---------------
install_requirements() {
    local mode="$1" file="requirements.txt" files="requirements.txt"
    if [[ "$mode" == "dev" ]]; then
        file="requirements-dev.txt"
        files="requirements.txt requirements-dev.txt"
    fi
    local stamp="$VENV/.charla-requirements-$mode" want
    # shellcheck disable=SC2086
    want="$(cat $files | sha256sum | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    say "Installing $file into .venv"
    python -m pip install --disable-pip-version-check --quiet -r "$file" \
        || die "pip could not install $file (is PyPI reachable?)"
    echo "$want" >"$stamp"
}
install_requirements base
[[ "$MODE" == "dev" ]] && install_requirements dev

# --- 3. PostgreSQL and Redis answer; the database exists ---------------------
python scripts/services.py

[[ "${SKIP_MIGRATE:-0}" == "1" ]] && exit 0

# --- 4. Schema, translations, beat schedule ----------------------------------
mkdir -p var staticfiles
say "Applying migrations"
python manage.py migrate --noinput

if command -v msgfmt >/dev/null 2>&1 && find . -path ./.venv -prune -o -name '*.po' -print -quit | grep -q .; then
    say "Compiling translations"
    python manage.py compilemessages --ignore=.venv --ignore=node_modules --ignore=.git -v 0
fi

python manage.py setup_periodic_tasks
say "Set-up done"
