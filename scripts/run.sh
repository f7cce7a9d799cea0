#!/usr/bin/env bash
# `make run`: set up (scripts/bootstrap.sh), seed the demo tenant, then start
# web + worker + beat together (Procfile, through honcho). Ctrl-C stops all three.
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$(pwd)/.venv/bin:$PATH"

export PORT="${PORT:-8000}"
export PUBLIC_URL="${PUBLIC_URL:-http://127.0.0.1:$PORT}"
BASE="$PUBLIC_URL"

python manage.py seed_demo

B=$'\033[1m' D=$'\033[2m' R=$'\033[0m'
cat <<BANNER

${B}Charla is starting${R} (web + worker + beat; Ctrl-C stops all three)

  App              $BASE/
  Demo storefront  $BASE/demo/   ${D}(a customer's page with the widget)${R}
  Admin            $BASE/admin/  ${D}(admin@demo.test)${R}
  API docs         $BASE/api/v1/docs/
  Health           $BASE/healthz  $BASE/readyz  $BASE/metrics

${B}Demo logins${R} (password demo12345): owner@demo.test, supervisor@demo.test,
  agent1@demo.test, agent2@demo.test, admin@demo.test (also the Django superuser)

BANNER

exec honcho start -f Procfile -p "$PORT"
