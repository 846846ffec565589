#!/usr/bin/env bash
# A relocatable dptrain: the release binary with every shared library it loads (C library and
# dynamic loader included), for a machine where nothing can be installed (a borrowed x86-64 server,
# a container). The bundle runs wherever it is unpacked, whatever that machine's own libraries are.
#
#   scripts/bundle.sh [--out FILE.tar.gz] [--data] [--tools] [--dptrain PATH]
#
#   --out FILE   the archive to write (default build/bundle/dptrain-bundle.tar.gz)
#   --data       also pack Fashion-MNIST (/usr/share/datasets/fashion-mnist, 31 MB) as data/
#   --tools      also pack the measuring tools scripts/device_check.sh runs: fma_peak (the FMA
#                loop, tests/bench/fma_peak.c) and gemm_bench (the release build's), as
#                bin/fma_peak and bin/gemm_bench
#   --dptrain P  bundle this binary instead of building the release preset
#
# Unpacked (tar -xzf FILE -C DIR), DIR/dptrain/bin/dptrain runs the binary through the packed
# loader and libraries; with --data, pass `--data fashion-mnist:DIR/dptrain/data` to it. The
# scripts take the wrapper as `--dptrain DIR/dptrain/bin/dptrain`. OpenBLAS picks its kernels for
# the CPU it finds at run time, so the bundle is as fast there as a native build of the same code.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
    echo "bundle.sh: error: $*" >&2
    exit 2
}

out=build/bundle/dptrain-bundle.tar.gz
data=0
tools=0
bin=""
while (($#)); do
    case "$1" in
    --out)
        (($# >= 2)) || die "--out needs a value"
        out=$2
        shift 2
        ;;
    --dptrain)
        (($# >= 2)) || die "--dptrain needs a value"
        bin=$2
        shift 2
        ;;
    --data)
        data=1
        shift
        ;;
    --tools)
        tools=1
        shift
        ;;
    -h | --help)
        sed -n '2,18s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
if [[ -z $bin ]] || ((tools)); then
    cmake --workflow --preset release-build >/dev/null
fi
bin=${bin:-build/release/dptrain}
[[ -x $bin ]] || die "$bin: not an executable"
fm=/usr/share/datasets/fashion-mnist
if ((data)); then
    [[ -r $fm/train-images-idx3-ubyte.gz ]] || die "$fm: missing (Debian package dataset-fashion-mnist)"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/dptrain
mkdir -p "$root/bin" "$root/lib" "$root/libexec"
cp "$bin" "$root/libexec/dptrain"
progs=(dptrain)
if ((tools)); then
    gcc -std=c11 -O2 -Wall -o "$root/libexec/fma_peak" tests/bench/fma_peak.c -lpthread
    cp build/release/tests/gemm_bench "$root/libexec/gemm_bench"
    progs+=(fma_peak gemm_bench)
fi
# Every library ldd resolves, by its soname (the name the binary asks for), plus the loader.
loader=""
for p in "${progs[@]}"; do
    while read -r line; do
        if [[ $line =~ ^([^[:space:]]+)\ =\>\ (/[^[:space:]]+) ]]; then
            cp -L "${BASH_REMATCH[2]}" "$root/lib/${BASH_REMATCH[1]}"
        elif [[ $line =~ ^(/[^[:space:]]*ld-linux[^[:space:]]*) ]]; then
            loader=${BASH_REMATCH[1]}
        elif [[ $line == *"not found"* ]]; then
            die "$p: a library is missing: $line"
        fi
    done < <(ldd "$root/libexec/$p")
done
[[ -n $loader ]] || die "$bin: no dynamic loader in ldd's output (a static binary needs no bundle)"
cp -L "$loader" "$root/lib/ld.so"
cat >"$root/bin/dptrain" <<'EOF'
#!/bin/sh
# dptrain through the packed loader and libraries (scripts/bundle.sh).
d=$(cd "$(dirname "$0")/.." && pwd)
# `dptrain bench` starts each run as a fresh process of itself: through this wrapper, not the loader.
DPTRAIN_SELF="$d/bin/dptrain"
export DPTRAIN_SELF
exec "$d/lib/ld.so" --library-path "$d/lib" "$d/libexec/dptrain" "$@"
EOF
chmod +x "$root/bin/dptrain"
for p in "${progs[@]:1}"; do
    cat >"$root/bin/$p" <<EOF
#!/bin/sh
# $p through the packed loader and libraries (scripts/bundle.sh --tools).
d=\$(cd "\$(dirname "\$0")/.." && pwd)
exec "\$d/lib/ld.so" --library-path "\$d/lib" "\$d/libexec/$p" "\$@"
EOF
    chmod +x "$root/bin/$p"
done
if ((data)); then
    mkdir "$root/data"
    cp "$fm"/*-ubyte.gz "$root/data/"
fi
{
    echo "dptrain bundle, made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    "$root/bin/dptrain" --version 2>&1
} >"$root/BUNDLE"
mkdir -p "$(dirname "$out")"
tar -czf "$out.tmp" -C "$stage" dptrain
mv "$out.tmp" "$out"
echo "bundle.sh: $out ($(du -h "$out" | cut -f1))" >&2
