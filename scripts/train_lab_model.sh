#!/usr/bin/env bash
# The recipe behind the shipped lab weights, from nothing (CPU; a GPU with --device cuda).
#   1. the lab clips (Debian sound banks), 2. the codec, 3. the shard caches (maskvat extract),
#   4. the generator, 5. SCAV.
# Usage: bash scripts/train_lab_model.sh [RUNS_DIR]     (about 2 h 30 min on 2 CPU cores)
#        CODEC=lab bash scripts/train_lab_model.sh [RUNS_DIR]   reuse a codec (a preset, hub id or folder)
#        and skip stage 2 (about 1 h 30 min).
# Each stage resumes or skips what exists; the shipped copies are written only by the
# last lines (export), so compare benchmarks before committing new weights.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs}
MV=${MASKVAT:-.venv/bin/maskvat}
LAB=$RUNS/lab
bash scripts/install_sound_banks.sh
for spec in train:1200 val:200 test:300; do
  split=${spec%%:*}; n=${spec##*:}
  [ -f "$LAB/$split/manifest.json" ] || $MV lab build "$LAB" --split "$split" --n "$n" --seed 0 --bank debian
done
if [ -z "${CODEC:-}" ]; then
# codec: lab mixtures + recorded drum/percussion samples (two hydrogen kits held out for evaluation)
CORPUS=$RUNS/codec_corpus
mkdir -p "$CORPUS/hydrogen"
ln -sfn "$(realpath "$LAB/train")" "$CORPUS/lab_train"
ln -sfn /usr/share/sonic-pi/samples "$CORPUS/sonic_pi"
ln -sfn ~/.cache/maskvat/lab_bank "$CORPUS/lab_bank"
for d in /usr/share/hydrogen/data/drumkits/*/; do
  n=$(basename "$d"); case "$n" in Audiophob|VariBreaks) ;; *) ln -sfn "$d" "$CORPUS/hydrogen/$n";; esac
done
$MV codec train --data "$CORPUS" --out "$RUNS/codec" --preset lab --steps 2500 --segment 8192 --lr 7e-4 --warmup-steps 200 \
  --bypass-steps 300
$MV codec export "$RUNS/codec" -o "$RUNS/codec_export" --half
CODEC=$RUNS/codec_export
fi
# one cache per split: codes + the model's features of every 4 s lab clip (silent scenes kept: silence is
# a right answer in the lab); resumes after a kill. A new codec needs new caches (other folders).
for split in train val test; do
  $MV extract "$LAB/$split" --out "$LAB/cache/$split" --clip-seconds 4 --keep-silent --codec "$CODEC"
done
MODEL=${MODEL:-lab-adaln-b}
$MV train --config "configs/$MODEL.json" --out "$RUNS/$MODEL" --train-cache "$LAB/cache/train" --val-cache "$LAB/cache/val" \
  --codec "$CODEC"
# the SCAV beam selector (on the visual and audio features of the same caches)
$MV scav train --cache "$LAB/cache/train" --val-cache "$LAB/cache/val" --out "$RUNS/scav"
echo "trained: $RUNS/$MODEL/model, $RUNS/scav/scav (codec: $CODEC)."
echo "To ship: copy them to src/maskvat/assets/lab/{model,scav} (and the codec export to lab/codec, setting the model config's codec to \"lab\", when one was trained here)"
