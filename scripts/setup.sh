#!/usr/bin/env bash
# Create .venv and install the project with its pinned dependencies.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "setup: Python 3.11 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# (this machine's pip configuration warns about absent local mirrors on every
# package; those lines are dropped, everything else pip says is kept)
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c constraints.txt -e ".[dev]" 2>&1 | { grep -v '^WARNING: Location' || true; }

# The HTML report's test opens it in a real browser: headless Chromium and its
# driver from the Debian packages (installed when this runs as root or with
# password-less sudo; otherwise say how).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    fi
    if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; }; then
        echo "setup: installing chromium and chromium-driver (for the HTML report's browser test)" >&2
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
            || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium chromium-driver >/dev/null; }
    else
        echo "setup: the browser test needs Chromium: sudo apt-get install chromium chromium-driver" >&2
    fi
fi
