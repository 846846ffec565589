#!/usr/bin/env bash
# Installs every build, test and run dependency of dptrain from Debian packages.
#
#   scripts/setup.sh                 # compilers, libraries, test tools, the Fashion-MNIST data
#   scripts/setup.sh --with-torch    # also python3-torch (large; only for the PyTorch comparison)
#   scripts/setup.sh --with-mpi      # also Open MPI (only for -DDPT_MPI=ON builds, docs/mpi.md)
#
# Idempotent and silent when everything is already installed: dpkg-query decides what is missing,
# and only then does it run apt-get update and install, as root or through sudo.
set -euo pipefail

die() {
    echo "setup.sh: error: $*" >&2
    exit 1
}

usage() {
    sed -n '2,9s/^# \{0,1\}//p' "$0"
}

with_torch=0
with_mpi=0
for arg in "$@"; do
    case "$arg" in
    --with-torch) with_torch=1 ;;
    --with-mpi) with_mpi=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "setup.sh: unknown option '$arg'" >&2
        usage >&2
        exit 2
        ;;
    esac
done

# What each package is for:
#   cmake, pkg-config, build-essential  configure and build (gcc, make, libc headers)
#   clang, libomp-dev                   fuzz targets (libFuzzer) and clang builds with OpenMP
#   clang-format                        the committed .clang-format style
#   libhwloc-dev, hwloc                 topology and thread placement (hwloc: lstopo for humans)
#   libopenblas-dev                     the CBLAS behind every GEMM
#   libcriterion-dev                    the unit test framework
#   zlib1g-dev                          gzip'd IDX data files
#   libcjson-dev                        JSON config and model metadata
#   gnuplot-nox                         scaling plots
#   help2man                            the man page, generated from the help texts at build time
#   dataset-fashion-mnist               the reference data set (/usr/share/datasets/fashion-mnist)
#   valgrind                            memory checks outside the sanitizer builds
#   qemu-user                           the core suite on an emulated CPU without AVX-512
#   python3-numpy                       NumPy interop tests (model files, .npy export, npy: data;
#                                       skipped without it)
#   libopenmpi-dev, openmpi-bin         --with-mpi: the MPI library, headers and mpirun
packages=(
    cmake pkg-config build-essential
    clang libclang-rt-dev libomp-dev clang-format
    libhwloc-dev hwloc
    libopenblas-dev
    libcriterion-dev
    zlib1g-dev
    libcjson-dev
    gnuplot-nox
    help2man
    dataset-fashion-mnist
    valgrind
    qemu-user
    python3-numpy
)
if ((with_torch)); then
    packages+=(python3-torch)
fi
if ((with_mpi)); then
    packages+=(libopenmpi-dev openmpi-bin)
fi

command -v dpkg-query >/dev/null 2>&1 ||
    die "dpkg-query not found: this script supports Debian and its derivatives only"

missing=()
for pkg in "${packages[@]}"; do
    # "ii " = wanted and installed; anything else (unknown, half-installed, removed) is missing.
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != ii* ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

if ((EUID == 0)); then
    as_root=(env DEBIAN_FRONTEND=noninteractive)
elif command -v sudo >/dev/null 2>&1; then
    # sudo drops the environment, so DEBIAN_FRONTEND goes through env; -n fails instead of
    # waiting for a password nobody can type when there is no terminal (CI).
    if [[ -t 0 ]]; then
        as_root=(sudo env DEBIAN_FRONTEND=noninteractive)
    else
        as_root=(sudo -n env DEBIAN_FRONTEND=noninteractive)
    fi
else
    die "missing packages: ${missing[*]}; run this script as root or install sudo"
fi

echo "setup.sh: installing ${missing[*]}" >&2
"${as_root[@]}" apt-get update -q ||
    die "apt-get update failed (network or sources.list?)"
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"

# apt-get can succeed without installing a package (e.g. held back); check again.
still=()
for pkg in "${missing[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    [[ "$status" == ii* ]] || still+=("$pkg")
done
((${#still[@]} == 0)) || die "still not installed after apt-get: ${still[*]}"
echo "setup.sh: done" >&2
