#!/usr/bin/env bash
# Fresh machine -> installed maskvat -> the main job on the shipped default.
# The generator (`maskvat generate`) and its trained default model have not landed yet
# (see README, "Where the project stands"); until they do, this runs the stages that exist.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
MV=.venv/bin/maskvat
OUT=${QUICKSTART_OUT:-out/quickstart}
rm -rf "$OUT/lab"
mkdir -p "$OUT"
$MV lab build "$OUT/lab" --split test --n 8 --seed 0 --bank procedural
first=$(ls "$OUT"/lab/test/*.mp4 | head -n 1)
$MV probe "$first"
$MV lab show "$first" -o "$OUT/contact_sheet.png"
$MV lab score "$OUT/lab/test" "$OUT/lab/test"
echo "quickstart: contact sheet at $OUT/contact_sheet.png"
