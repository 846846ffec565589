# Cross build for arm64 (aarch64) Linux on an x86-64 Debian host: Debian's cross compiler
# (gcc-aarch64-linux-gnu) against Debian's arm64 libraries installed beside the host's (multiarch:
# dpkg --add-architecture arm64, then libhwloc-dev:arm64 and the others; scripts/setup.sh
# --with-arm64 installs everything this needs). Used by the preset arm64 (CMakePresets.json):
#   cmake --workflow --preset arm64
# ctest runs every test program under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR: qemu-aarch64 with
# its default CPU model, 'max', which has NEON and SVE). Nothing here is specific to dptrain but
# the pkg-config directory of the criterion that scripts/setup.sh unpacks.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(DPT_CROSS_TRIPLET aarch64-linux-gnu)

find_program(DPT_CROSS_CC ${DPT_CROSS_TRIPLET}-gcc)
if(NOT DPT_CROSS_CC)
  message(FATAL_ERROR "${DPT_CROSS_TRIPLET}-gcc not found: scripts/setup.sh --with-arm64 installs "
    "Debian's cross compiler (gcc-aarch64-linux-gnu) and the arm64 libraries")
endif()
set(CMAKE_C_COMPILER ${DPT_CROSS_CC})

# The arm64 libraries live in the multiarch directories of the host's own tree (/usr/lib/
# aarch64-linux-gnu, headers in /usr/include), so the root is /; CMake's find_library looks in
# the lib/aarch64-linux-gnu directories (CMAKE_LIBRARY_ARCHITECTURE, from the compiler). Programs
# (qemu, objdump) are the host's.
set(CMAKE_FIND_ROOT_PATH /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config sees only arm64 .pc files: never the host's x86-64 ones.
set(ENV{PKG_CONFIG_LIBDIR}
  "/usr/local/lib/${DPT_CROSS_TRIPLET}/pkgconfig:/usr/lib/${DPT_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# The test programs run under qemu-user. Without -L: the arm64 loader and libraries are the
# multiarch ones (libc6:arm64, /usr/lib/aarch64-linux-gnu, in the loader's default path). The
# host's /etc/ld.so.cache lists no arm64 library, so /usr/local/lib/aarch64-linux-gnu, where
# scripts/setup.sh unpacks criterion's arm64 libraries, is named in LD_LIBRARY_PATH (in the
# emulated program's environment only: -E).
find_program(DPT_QEMU_AARCH64 qemu-aarch64)
if(DPT_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${DPT_QEMU_AARCH64}
    -E LD_LIBRARY_PATH=/usr/local/lib/${DPT_CROSS_TRIPLET})
endif()
find_program(DPT_CROSS_OBJDUMP ${DPT_CROSS_TRIPLET}-objdump)
