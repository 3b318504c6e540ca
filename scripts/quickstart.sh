#!/usr/bin/env bash
# The README's two quick-start commands in one script:
#   bash scripts/quickstart.sh demo   -> set up .venv (once) and stylize a generated sample clip
#   bash scripts/quickstart.sh test   -> set up .venv (once), install Chromium if missing, run the test suite
# The virtual environment lives in .venv next to this repository and is reused while
# pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="$root/.venv"
python=${PYTHON:-python3}

setup() {
  if [ ! -x "$venv/bin/python" ]; then
    echo "[setup] creating $venv" >&2
    "$python" -m venv "$venv"
  fi
  local stamp="$venv/.rtrdit-setup"
  local want
  want=$(cat pyproject.toml scripts/quickstart.sh | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # A fresh install takes about 7.5 GB (torch's CUDA build alone is 5.5 GB): say so up front
    # rather than letting pip die half-way with "No space left on device".
    local free_gb
    free_gb=$(df -Pk "$root" | awk 'NR == 2 {print int($4 / 1048576)}')
    if [ ! -f "$stamp" ] && [ "${free_gb:-0}" -lt 8 ]; then
      echo "[setup] error: only ${free_gb} GB free on the disk of $root; installing the pinned dependencies into $venv needs about 8 GB" >&2
      exit 1
    fi
    echo "[setup] installing rtrdit and its pinned dependencies into $venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    # torch and torchvision first, pinned: the CUDA build that lies on this machine's disk (no
    # download; it also runs on the CPU), so the resolver below never looks for another torch.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "torch==2.14.1" "torchvision==0.29.1"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[dev]"
    echo "$want" > "$stamp"
  fi
}

case "${1:-}" in
  setup)
    setup
    ;;
  demo)
    setup
    shift
    exec "$venv/bin/rtrdit" demo "$@"
    ;;
  test)
    setup
    # The browser-client test drives a real headless Chromium (Debian's package).
    bash scripts/install-browser.sh
    shift
    exec "$venv/bin/python" -m pytest -n 2 --dist loadgroup "$@"
    ;;
  *)
    echo "usage: bash scripts/quickstart.sh demo|test|setup [extra args]" >&2
    exit 2
    ;;
esac
