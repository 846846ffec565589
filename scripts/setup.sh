#!/usr/bin/env bash
# Installs every build, test and run dependency of dptrain from Debian packages.
#
#   scripts/setup.sh                 # compilers, libraries, test tools, the Fashion-MNIST data
#   scripts/setup.sh --with-torch    # also python3-torch (large; only for the PyTorch comparison)
#   scripts/setup.sh --with-mpi      # also Open MPI (only for -DDPT_MPI=ON builds, docs/mpi.md)
#   scripts/setup.sh --with-arm64    # also the arm64 cross build (preset arm64): Debian's cross
#                                    # compiler and the arm64 libraries (multiarch)
#
# Idempotent and silent when everything is already installed: dpkg-query decides what is missing,
# and only then does it run apt-get update and install, as root or through sudo.
set -euo pipefail

die() {
    echo "setup.sh: error: $*" >&2
    exit 1
}

usage() {
    sed -n '2,11s/^# \{0,1\}//p' "$0"
}

with_torch=0
with_mpi=0
with_arm64=0
for arg in "$@"; do
    case "$arg" in
    --with-torch) with_torch=1 ;;
    --with-mpi) with_mpi=1 ;;
    --with-arm64) with_arm64=1 ;;
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
#   gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, binutils-aarch64-linux-gnu
#                                       --with-arm64: the cross compiler, its C library, objdump
#   libhwloc-dev:arm64 libopenblas-dev:arm64 zlib1g-dev:arm64 libcjson-dev:arm64 libgomp1:arm64
#                                       --with-arm64: the libraries, for arm64 (multiarch: dpkg
#                                       --add-architecture arm64); qemu-user runs the tests
#   libgit2-1.5:arm64 libffi8:arm64     --with-arm64: what criterion's arm64 library needs; that
#                                       library itself is unpacked below (see arm64_criterion)
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
if ((with_arm64)); then
    packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
        libhwloc-dev:arm64 libopenblas-dev:arm64 zlib1g-dev:arm64 libcjson-dev:arm64
        libgomp1:arm64 libgit2-1.5:arm64 libffi8:arm64)
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

# criterion for arm64 (--with-arm64). Debian 12's libcriterion3:arm64 cannot be installed beside
# the amd64 one: it needs libnanomsg5:arm64, which is not marked Multi-Arch: same. So these two
# libraries are unpacked from their Debian packages (apt-get download; the version of the
# installed libcriterion-dev, whose headers serve both architectures) into
# /usr/local/lib/aarch64-linux-gnu, which the arm64 linker and loader search, with a criterion.pc
# that the cross build finds (cmake/aarch64-linux-gnu.cmake). The first line of the .pc records
# the version, so this runs again only when libcriterion-dev changes.
arm64_libdir=/usr/local/lib/aarch64-linux-gnu
arm64_criterion_pc=$arm64_libdir/pkgconfig/criterion.pc
arm64_criterion=0
if ((with_arm64)); then
    crit_version=$(dpkg-query -W -f='${Version}' libcriterion-dev 2>/dev/null || true)
    crit_marker="# unpacked by dptrain's scripts/setup.sh from libcriterion3:arm64 $crit_version"
    if ! grep -qxF "$crit_marker" "$arm64_criterion_pc" 2>/dev/null; then
        arm64_criterion=1
    fi
fi

if ((${#missing[@]} == 0 && !arm64_criterion)); then
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

if ((with_arm64)) && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "setup.sh: adding the arm64 architecture (dpkg --add-architecture arm64)" >&2
    "${as_root[@]}" dpkg --add-architecture arm64 || die "dpkg --add-architecture arm64 failed"
fi

if ((${#missing[@]} > 0)); then
    echo "setup.sh: installing ${missing[*]}" >&2
    "${as_root[@]}" apt-get update -q ||
        die "apt-get update failed (network or sources.list?)"
    # --no-remove: an :arm64 package that cannot live beside its amd64 twin must fail here rather
    # than remove the amd64 one.
    "${as_root[@]}" apt-get install -y -q --no-install-recommends --no-remove "${missing[@]}" ||
        die "apt-get install failed for: ${missing[*]}"

    # apt-get can succeed without installing a package (e.g. held back); check again.
    still=()
    for pkg in "${missing[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
        [[ "$status" == ii* ]] || still+=("$pkg")
    done
    ((${#still[@]} == 0)) || die "still not installed after apt-get: ${still[*]}"
fi

if ((arm64_criterion)); then
    crit_version=$(dpkg-query -W -f='${Version}' libcriterion-dev 2>/dev/null || true)
    [[ -n "$crit_version" ]] || die "libcriterion-dev is not installed"
    crit_marker="# unpacked by dptrain's scripts/setup.sh from libcriterion3:arm64 $crit_version"
    echo "setup.sh: unpacking criterion $crit_version for arm64 into $arm64_libdir" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    chmod 755 "$tmp" # apt-get download writes as the _apt user where it can
    debs=("libcriterion3:arm64=$crit_version" libnanomsg5:arm64)
    if ! (cd "$tmp" && apt-get download -q "${debs[@]}" >/dev/null 2>&1); then
        "${as_root[@]}" apt-get update -q || die "apt-get update failed (network or sources.list?)"
        (cd "$tmp" && apt-get download -q "${debs[@]}") ||
            die "apt-get download ${debs[*]} failed"
    fi
    for deb in "$tmp"/*.deb; do
        dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
    done
    src=$tmp/root/usr/lib/aarch64-linux-gnu
    [[ -e $src/libcriterion.so.3 && -e $src/libnanomsg.so.5 ]] ||
        die "the downloaded packages hold no libcriterion.so.3 and libnanomsg.so.5"
    {
        echo "$crit_marker"
        echo 'prefix=/usr/local'
        echo 'libdir=${prefix}/lib/aarch64-linux-gnu'
        echo 'includedir=/usr/include'
        echo
        echo 'Name: criterion'
        echo "Description: Debian's libcriterion3:arm64 and libnanomsg5:arm64, unpacked"
        echo "Version: ${crit_version%%-*}"
        echo 'Libs: -L${libdir} -lcriterion'
        echo 'Cflags: -I${includedir}'
    } >"$tmp/criterion.pc"
    { "${as_root[@]}" mkdir -p "$arm64_libdir/pkgconfig" &&
        "${as_root[@]}" cp -P "$src"/libcriterion.so.* "$src"/libnanomsg.so.* "$arm64_libdir/" &&
        "${as_root[@]}" ln -sf libcriterion.so.3 "$arm64_libdir/libcriterion.so" &&
        "${as_root[@]}" cp "$tmp/criterion.pc" "$arm64_criterion_pc" &&
        "${as_root[@]}" ldconfig; } ||
        die "could not install criterion for arm64 into $arm64_libdir"
fi
echo "setup.sh: done" >&2
