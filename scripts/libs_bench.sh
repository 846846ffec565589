#!/usr/bin/env bash
# Other GEMM libraries on dptrain's shapes, and the machine's FMA peak: compiles
# tests/bench/fma_peak.c and tests/bench/libs_bench.c with gcc (outside the CMake build, which
# gets no new dependency) against whichever of these Debian packages are installed, and runs them
# single-threaded with interleaved rounds; tables in Markdown (docs/benchmarks.md, "Other GEMM
# libraries on dptrain's shapes").
#
#   scripts/libs_bench.sh [--rounds R] [--set L1,L2,S] [--seconds S] [--coretype NAME] [--bf16]
#                         [--no-build] [--no-fma] [--install-deps] [--out DIR] [SHAPE ...]
#
# Packages: libopenblas-dev (required), libblis-serial-dev (or -pthread/-openmp: the first found
# of serial, pthread, openmp is used, linked by its own path, not through the libblas
# alternative), libxsmm-dev, libdnnl-dev (oneDNN); a library that is missing is left out of the
# table. Installs nothing unless --install-deps is given (then apt-get installs them; root).
# dpt_gemm comes from build/release/libdptrain.a, built first with the release preset unless
# --no-build (without it, the dpt_gemm column is left out).
# --rounds: rounds per shape (default 7), every library once per round in a rotated order, and
# of the FMA loops. --set: shape groups of libs_bench (L1: L at 1 thread, L2: L's 2-thread shard,
# S: small shards of S). --coretype NAME: run libs_bench a second time with OPENBLAS_CORETYPE=NAME
# (e.g. Haswell), after the run with it unset. SHAPEs (like NT:256x1024x784) replace --set.
# --bf16: the bf16 products instead (dpt_gemm_bf16, oneDNN's and LIBXSMM's bf16 kernels, the
# conversion pass; a CPU with AVX512_BF16), against dpt_gemm in fp32.
# Output: stdout and DIR (default build/libs_bench/<UTC time>): the tables, the commands, the
# package versions and lscpu.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
    echo "libs_bench.sh: error: $*" >&2
    exit 2
}

usage() {
    sed -n '2,26s/^# \{0,1\}//p' "$0"
}

rounds=7
set_arg=L1,L2,S
seconds=0.04
coretype=""
bf16=0
build=1
fma=1
install=0
out=""
shapes=()
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds=${2:?}; shift 2 ;;
    --set) set_arg=${2:?}; shift 2 ;;
    --seconds) seconds=${2:?}; shift 2 ;;
    --coretype) coretype=${2:?}; shift 2 ;;
    --bf16) bf16=1; shift ;;
    --no-build) build=0; shift ;;
    --no-fma) fma=0; shift ;;
    --install-deps) install=1; shift ;;
    --out) out=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) shapes+=("$1"); shift ;;
    esac
done

packages=(libopenblas-dev libblis-serial-dev libxsmm-dev libdnnl-dev)
if [ "$install" = 1 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
fi

arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
inc=/usr/include/$arch
lib=/usr/lib/$arch
[ -e "$inc/cblas.h" ] || [ -e /usr/include/cblas.h ] || die "no cblas.h: apt-get install libopenblas-dev"
defs=()
libs=()
have=(OpenBLAS)
for flavour in serial pthread openmp; do
    if [ -e "$inc/blis-$flavour/blis.h" ] && [ -e "$lib/blis-$flavour/libblis.so" ]; then
        # -idirafter: BLIS's directory also has a cblas.h, which must not hide OpenBLAS's.
        defs+=(-DHAVE_BLIS -idirafter "$inc/blis-$flavour")
        libs+=("$lib/blis-$flavour/libblis.so" "-Wl,-rpath,$lib/blis-$flavour")
        have+=("BLIS ($flavour)")
        break
    fi
done
if [ -e /usr/include/libxsmm.h ] && [ -e /usr/lib/libxsmm.a ]; then
    defs+=(-DHAVE_XSMM)
    libs+=(/usr/lib/libxsmm.a)
    have+=(libxsmm)
fi
if [ -e /usr/include/oneapi/dnnl/dnnl.h ] && [ -e "$lib/libdnnl.so" ]; then
    defs+=(-DHAVE_DNNL)
    libs+=(-ldnnl)
    have+=(oneDNN)
fi
if [ "$build" = 1 ]; then
    cmake --preset release >/dev/null
    cmake --build --preset release -j2 >/dev/null
fi
dpt=()
if [ -e build/release/libdptrain.a ]; then
    defs+=(-DHAVE_DPT -Isrc -Iinclude)
    dpt=(build/release/libdptrain.a -lhwloc) # gemm.c reads the cache sizes through hwloc
    have+=(dpt_gemm)
fi
echo "libs_bench.sh: comparing ${have[*]} (packages: ${packages[*]})" >&2

out=${out:-build/libs_bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
bin=build/libs_bench
mkdir -p "$bin"
# OpenBLAS first on the line: it, not BLIS, then provides cblas_sgemm and sgemm_ (libxsmm's
# fallback) to the whole process.
gcc -std=c11 -O2 -Wall -o "$bin/libs_bench" tests/bench/libs_bench.c "${defs[@]}" "${dpt[@]}" \
    -lopenblas "${libs[@]}" -lpthread -lrt -ldl -lm
gcc -std=c11 -O2 -Wall -o "$bin/fma_peak" tests/bench/fma_peak.c -lpthread

{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC')"
    lscpu | grep -E '^(Model name|CPU family|Model|Thread|Core|Socket|Hypervisor|L1d|L2|L3)'
    echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
        grep -E '^(avx512f|avx512vl|avx512bw|avx512dq|avx2|fma|avx512_bf16)$' | tr '\n' ' ')"
    dpkg-query -W -f '${Package} ${Version}\n' libopenblas0-pthread libopenblas0-openmp \
        libopenblas0-serial libblis4-serial libblis4-pthread libblis4-openmp libxsmm-dev \
        libdnnl2 gcc 2>/dev/null || true
    echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
} | tee "$out/machine.txt"

export OPENBLAS_NUM_THREADS=1 BLIS_NUM_THREADS=1 OMP_NUM_THREADS=1 GOTO_NUM_THREADS=1
# OpenBLAS picks its kernels and block sizes itself (these two, where set, would override it).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
if [ "$fma" = 1 ]; then
    echo "+ $bin/fma_peak --rounds $rounds" | tee "$out/commands.txt"
    "$bin/fma_peak" --rounds "$rounds" | tee "$out/fma_peak.md"
    echo
fi
args=(--rounds "$rounds" --seconds "$seconds")
[ "$bf16" = 1 ] && args+=(--bf16)
if [ ${#shapes[@]} -gt 0 ]; then
    args+=("${shapes[@]}")
else
    args+=(--set "$set_arg")
fi
echo "+ $bin/libs_bench ${args[*]}" | tee -a "$out/commands.txt"
"$bin/libs_bench" "${args[@]}" | tee "$out/libs.md"
if [ -n "$coretype" ]; then
    echo
    echo "+ OPENBLAS_CORETYPE=$coretype $bin/libs_bench ${args[*]}" | tee -a "$out/commands.txt"
    OPENBLAS_CORETYPE=$coretype "$bin/libs_bench" "${args[@]}" | tee "$out/libs_$coretype.md"
fi
echo "libs_bench.sh: tables in $out" >&2
