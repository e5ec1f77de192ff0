#!/usr/bin/env bash
# Fresh machine -> installed maskvat -> the main job on the shipped default model:
# a few lab clips (silent picture in), `maskvat generate` (sound out, muxed into a copy of
# each video), the lab score of the generated sound, and a contact sheet to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
MV=.venv/bin/maskvat
OUT=${QUICKSTART_OUT:-out/quickstart}
rm -rf "$OUT"
mkdir -p "$OUT"
$MV lab build "$OUT/lab" --split test --n 4 --seed 1 --bank procedural
$MV generate "$OUT/lab/test" -o "$OUT/generated" --seed 0
$MV lab score "$OUT/lab/test" "$OUT/generated"
first=$(ls "$OUT"/generated/*_maskvat.mp4 | head -n 1)
clip=$(basename "$first" _maskvat.mp4)
$MV lab show "$first" --truth "$OUT/lab/test/$clip.json" --onsets -o "$OUT/generated_contact_sheet.png"
echo "(run maskvat yourself after: source .venv/bin/activate)"; echo "quickstart: sound in $OUT/generated (wav + video with the sound muxed in); picture: $OUT/generated_contact_sheet.png"
