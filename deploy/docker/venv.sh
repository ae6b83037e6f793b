#!/bin/sh
# Builds the virtual environment of one service's image, in the steps its Dockerfile caches apart.
# Run from the workspace root. tests/e2e/test_independent_install.py runs the same steps on the host.
#
#   venv.sh requirements SERVICE FILE   the service's locked third-party dependencies, with their hashes
#   venv.sh dependencies FILE VENV      a new environment holding exactly those, installed from wheels only
#   venv.sh code SERVICE VENV           libs/common and the service, built as wheels, added to it
#
# The environment holds no other service, no test harness and no source tree: what it runs is wheels.
set -eu

step=${1:?"usage: venv.sh requirements|dependencies|code ..."}
case "$step" in
requirements)
    uv export --quiet --frozen --no-dev --no-emit-workspace --no-header --package "$2" --output-file "$3"
    ;;
dependencies)
    uv venv --quiet --python "${PYTHON:-python3}" "$3"
    uv pip install --quiet --python "$3/bin/python" --no-deps --no-build --require-hashes -r "$2"
    ;;
code)
    wheels=$(mktemp -d)
    uv build --quiet --wheel --package chorus-common --out-dir "$wheels"
    uv build --quiet --wheel --package "$2" --out-dir "$wheels"
    uv pip install --quiet --python "$3/bin/python" --no-deps --no-build "$wheels"/*.whl
    rm -rf "$wheels"
    # Every requirement of the service and libs/common is met by what the first steps installed.
    uv pip check --quiet --python "$3/bin/python"
    ;;
*)
    echo "venv.sh: unknown step $step" >&2
    exit 2
    ;;
esac
