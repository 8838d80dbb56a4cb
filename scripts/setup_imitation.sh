#!/usr/bin/env bash
# Create (or refresh) a separate virtual environment for the peer library `imitation`, which
# benchmarks/bench_control_labels.py runs as the second arm of its label-efficiency curves.
# imitation 1.0.1 pins gymnasium ~=0.29 and stable-baselines3 ~=2.2.1, which cannot share the
# main venv (gymnasium 1.x, SB3 2.9), so it lives on its own. Idempotent: when this script and
# scripts/imitation-constraints.txt are unchanged since the last successful run, it does
# nothing.
#
#   scripts/setup_imitation.sh     # venv at ./.venv-imitation (override: RLHF_ENV_IMITATION_VENV)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${RLHF_ENV_IMITATION_VENV:-.venv-imitation}
PY=${PYTHON:-python3}
STAMP="$VENV/.rlhf-env-imitation-setup"
CONSTRAINTS=scripts/imitation-constraints.txt

want=$(cat "$CONSTRAINTS" scripts/setup_imitation.sh | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

echo "[setup-imitation] preparing $VENV (one-time; later runs skip this)"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip_() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
pip_ install --upgrade pip
# The pinned CPU torch first, so nothing can drag in a CUDA build.
pip_ install -c "$CONSTRAINTS" torch
# imitation with its own pins, plus MuJoCo for HalfCheetah-v4 (gymnasium 0.29's extra).
pip_ install -c "$CONSTRAINTS" imitation "gymnasium[mujoco]"
"$VENV/bin/python" -c "import imitation, gymnasium, mujoco, stable_baselines3" \
  || { echo "[setup-imitation] the imports failed: see above" >&2; exit 1; }
echo "$want" > "$STAMP"
echo "[setup-imitation] done"
