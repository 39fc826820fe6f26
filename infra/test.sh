#!/usr/bin/env bash
# The whole check: set everything up on a bare machine, then lint, type-check, rule tests, test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash infra/bootstrap.sh

echo "== ruff";  .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy";  .venv/bin/mypy
echo "== promtool"
promtool check config infra/prometheus/prometheus.yml >/dev/null
promtool check rules infra/prometheus/alerts.yml >/dev/null
promtool test rules infra/prometheus/alerts_test.yml infra/prometheus/alerts_long_test.yml
echo "== pytest"
set +e
.venv/bin/pytest -q -rs -p no:cacheprovider "$@"  # -rs: every skip and its reason in the summary
rc=$?
set -e
# leave no process behind on CI machines; keep services running for a developer's next run
if [ "${CI:-}" = "true" ]; then
  .venv/bin/hslr infra down >/dev/null 2>&1 || true
  bash infra/docker/engine.sh down >/dev/null 2>&1 || true  # only a dockerd the deployment test started
fi
exit $rc
