#!/usr/bin/env bash
# The Python benchmark of issue 14, not a timed test: decisions/s through
# `optout.evaluate_robots` beside Protego and `urllib.robotparser` (benches/python_robots.py).
# Builds the release wheel (`pip install ./python`, maturin's release profile, into the
# workspace target/) into target/bench-py-venv with Protego from PyPI, then runs one
# comparison.
#
#   benches/python.sh                                # tests/data/robots (59 files)
#   benches/python.sh ../shared/corpus/robots         # the whole corpus (3,015 files)
#   BUILD=0 benches/python.sh                        # reuse the installed wheel
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/bench-py-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ "${BUILD:-1}" != 0 ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'protego>=0.3,<1'
    CARGO_TARGET_DIR="$PWD/target" "$venv/bin/pip" install --quiet --no-cache-dir \
        --disable-pip-version-check --force-reinstall --no-deps ./python
fi
"$venv/bin/python" benches/python_robots.py "$@"
