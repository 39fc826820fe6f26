#!/usr/bin/env bash
# The main job: set everything up, then generate a seeded synthetic market, train the models on its first
# months and replay the rest through the Faust workers over real Kafka; prints a JSON summary.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash infra/bootstrap.sh
exec .venv/bin/hslr demo "$@"
