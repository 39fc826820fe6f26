#!/usr/bin/env bash
# Bare machine → ready: Python venv with the project, Debian services, Kafka from Maven Central, schema.
# Idempotent: every step checks before it acts, so running it twice costs seconds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

py="${PYTHON:-python3}"
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "bootstrap: Python >= 3.11 required (found $("$py" --version 2>&1))" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
stamp=.venv/.hslr-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ infra/constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # pinned to the versions the suite passed with: a newer numpy may round a reduction differently
  .venv/bin/python -m pip install -q -e ".[dev]" -c infra/constraints.txt
  touch "$stamp"
fi
# compile the numba kernels of governance and the Avro codec into the user cache now (seconds), not in the first worker
.venv/bin/python -c 'from streams.stages.governance.stage import warm_up; warm_up(); from streams.serde import avro_kernels; avro_kernels.warm()'

# Headless Chromium (Debian package `chromium`) for the report test and the API's live-page test (driven by
# Playwright's Python package with executable_path, no browser download); both skip, saying why, without it.
bash infra/browser.sh || echo "bootstrap: chromium not installed; the browser test will skip" >&2

# Debian services (installed when missing) and the Kafka broker; then the database schema.
.venv/bin/hslr infra up
.venv/bin/hslr db migrate
