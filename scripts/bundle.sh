#!/usr/bin/env bash
# A relocatable dptrain: the release binary with every shared library it loads (C library and
# dynamic loader included), for a machine where nothing can be installed (a borrowed x86-64 server,
# a container). The bundle runs wherever it is unpacked, whatever that machine's own libraries are.
#
#   scripts/bundle.sh [--out FILE.tar.gz] [--data] [--dptrain PATH]
#
#   --out FILE   the archive to write (default build/bundle/dptrain-bundle.tar.gz)
#   --data       also pack Fashion-MNIST (/usr/share/datasets/fashion-mnist, 31 MB) as data/
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
    -h | --help)
        sed -n '2,15s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
if [[ -z $bin ]]; then
    cmake --workflow --preset release-build >/dev/null
    bin=build/release/dptrain
fi
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
# Every library ldd resolves, by its soname (the name the binary asks for), plus the loader.
loader=""
while read -r line; do
    if [[ $line =~ ^([^[:space:]]+)\ =\>\ (/[^[:space:]]+) ]]; then
        cp -L "${BASH_REMATCH[2]}" "$root/lib/${BASH_REMATCH[1]}"
    elif [[ $line =~ ^(/[^[:space:]]*ld-linux[^[:space:]]*) ]]; then
        loader=${BASH_REMATCH[1]}
    elif [[ $line == *"not found"* ]]; then
        die "$bin: a library is missing: $line"
    fi
done < <(ldd "$bin")
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
