#!/bin/sh
# Install epodc from this offline wheelhouse (no network): a venv, then
# pip install --no-index --find-links <this folder>, then epodc --version.
#
#   sh install.sh [TARGET_DIR] [PYTHON]      (defaults: /opt/epodc, python3)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${1:-/opt/epodc}
python=${2:-python3}
"$python" -m venv "$target/venv"
"$target/venv/bin/python" -m pip install --quiet --no-index --find-links "$here" epodc
"$target/venv/bin/epodc" --version
echo "epodc installed: $target/venv/bin/epodc"
