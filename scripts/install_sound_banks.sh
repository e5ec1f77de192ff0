#!/usr/bin/env bash
# Real recorded sounds for the lab (optional: without them the lab synthesises every sound).
#   sonic-pi-samples (mostly CC0; per-file licences in its copyright file), fluid-soundfont-gm
#   (FluidR3 GM, MIT) rendered by fluidsynth, hydrogen-drumkits (GPL/CC kits, codec training
#   and held-out evaluation). Needs root (apt-get).
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  sonic-pi-samples fluid-soundfont-gm fluidsynth hydrogen-drumkits
