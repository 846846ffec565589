#!/usr/bin/env bash
# The demo: installs what is missing (scripts/setup.sh), builds the release preset (no tests),
# then trains the reference network on Fashion-MNIST and prints the test accuracy.
#   scripts/demo.sh [extra arguments for `dptrain train`]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
cmake --workflow --preset release-build
exec build/release/dptrain train --data fashion-mnist "$@"
