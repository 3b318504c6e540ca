#!/usr/bin/env bash
# Install Debian's chromium (used by the browser-client test of `rtrdit serve`) if it is missing.
# Idempotent and quiet: does nothing when /usr/bin/chromium already exists.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-browser: chromium is missing and this user cannot run apt-get (not root, no sudo)" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-browser: apt-get failed to install chromium" >&2
    exit 1
fi
command -v chromium >/dev/null 2>&1 || { echo "install-browser: chromium did not install" >&2; exit 1; }
