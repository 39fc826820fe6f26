#!/usr/bin/env bash
# Headless Chromium (Debian package) for the tearsheet rendering test, tests/integration/test_report.py.
# Idempotent: does nothing when chromium is already on PATH.
set -euo pipefail
command -v chromium >/dev/null && exit 0
as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
as_root apt-get update -qq >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
command -v chromium >/dev/null || { echo "browser.sh: installing chromium did not provide it" >&2; exit 1; }
