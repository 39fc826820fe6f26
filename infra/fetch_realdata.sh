#!/usr/bin/env bash
# Fetch the real development data into a folder OUTSIDE the repository (never commit it):
#   DEST/histdata/HISTDATA_COM_ASCII_<PAIR>_M1<YEAR>.zip   (GBPUSD USDJPY AUDUSD USDCHF USDCAD, 2018-2019, bid)
#   DEST/nautilus/<pair>-m1-{bid,ask}-<year>.csv             (FXCM bid+ask M1: GBPUSD 2012-02, USDJPY 2013-02)
# EURUSD is the held-out evaluation pair: it is never fetched here.
# Usage: bash infra/fetch_realdata.sh [DEST]   (default ../realdata next to the checkout)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$here/../realdata}"
mkdir -p "$dest/histdata" "$dest/nautilus"
case "$(cd "$dest" && pwd)/" in "$here"/*) echo "refusing: $dest is inside the repository" >&2; exit 2 ;; esac

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
git clone --quiet --depth 1 --filter=blob:none --no-checkout https://github.com/shengsheng555/FFML "$tmp/ffml"
for pair in GBPUSD USDJPY AUDUSD USDCHF USDCAD; do
  for year in 2018 2019; do
    f="HISTDATA_COM_ASCII_${pair}_M1${year}.zip"
    git -C "$tmp/ffml" show "HEAD:$f" > "$dest/histdata/$f"
  done
done
raw=https://raw.githubusercontent.com/nautechsystems/nautilus_trader/develop/tests/test_data/fxcm
for f in gbpusd-m1-bid-2012 gbpusd-m1-ask-2012 usdjpy-m1-bid-2013 usdjpy-m1-ask-2013; do
  curl -fsSL "$raw/$f.csv" -o "$dest/nautilus/$f.csv"
done
ls -l "$dest"/histdata "$dest"/nautilus
echo "done: HSLR_REALDATA_DIR=$dest pytest -m realdata tests/realdata"
