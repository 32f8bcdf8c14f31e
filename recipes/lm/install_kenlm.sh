#!/usr/bin/env bash
# Build KenLM's lmplz and build_binary (optional: `asr lm build` has a built-in estimator and
# uses these only when they are on PATH, for large corpora and pruning at scale).
#
#   bash recipes/lm/install_kenlm.sh [PREFIX]     # installs PREFIX/bin/{lmplz,build_binary}, default /usr/local
#
# Needs a C++ compiler, cmake and Boost; on Debian/Ubuntu the script installs them with apt-get.
# The source comes from the `kenlm` package on PyPI (its sdist holds the whole tree).
set -euo pipefail
prefix="${1:-/usr/local}"
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    apt-get install -y -qq build-essential cmake libboost-program-options-dev libboost-system-dev \
        libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev >/dev/null
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
pip download --quiet --no-deps --no-binary kenlm --no-build-isolation kenlm==0.3.0 -d .
tar xzf kenlm-0.3.0.tar.gz
cmake -S kenlm-0.3.0 -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" >build.log 2>&1 || { tail -20 build.log; exit 1; }
cmake --build build --target lmplz build_binary -j "$(nproc)" >>build.log 2>&1 || { tail -20 build.log; exit 1; }
mkdir -p "$prefix/bin"
install -m 755 build/bin/lmplz build/bin/build_binary "$prefix/bin/"
echo "installed $prefix/bin/lmplz and $prefix/bin/build_binary"
