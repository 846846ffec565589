# ctest install_consumer: dptrain installs, and an outside project can use what was installed.
#   cmake -DBINARY_DIR=<build> -DCONFIG=<cfg> -DWORK_DIR=<scratch> -DCONSUMER_DIR=<tests/consumer>
#         -DGENERATOR=<gen> -DC_COMPILER=<cc> -DPKG_CONFIG=<pkg-config> -DLIBDIR=<lib>
#         -DVERSION=<x.y.z> -DDATADIR=<share> -DMANDIR=<share/man> -DBINDIR=<bin>
#         -DHELP2MAN=<0|1> -P run.cmake
# 1. cmake --install the build into WORK_DIR/prefix (WORK_DIR is wiped first);
# 2. configure and build tests/consumer (find_package(dptrain), shared and static) against it and
#    run both programs; the static one must not need libdptrain.so;
# 3. compile the same main.c with `cc $(pkg-config --cflags --libs dptrain)`, with
#    `pkg-config --static` and with `pkg-config dptrain-static` (libdptrain.a, no libdptrain.so
#    loaded), and run each without LD_LIBRARY_PATH (the .pc file's rpath finds the library);
# 4. run the installed dptrain without LD_LIBRARY_PATH; check that the bash completion and, when
#    help2man was found, the man page were installed.
# Every step fails the test loudly; WORK_DIR stays behind on failure for inspection.
cmake_minimum_required(VERSION 3.25)

foreach(var BINARY_DIR WORK_DIR CONSUMER_DIR GENERATOR C_COMPILER PKG_CONFIG LIBDIR VERSION
    DATADIR MANDIR BINDIR HELP2MAN)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_consumer: -D${var}=... is required")
  endif()
endforeach()

# Runs one command; on failure prints what ran and stops the test.
function(step what)
  message(STATUS "install_consumer: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "install_consumer: ${what} failed (${rc}):\n  ${cmd}")
  endif()
endfunction()

set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
if(IS_ABSOLUTE "${LIBDIR}")
  set(libdir "${LIBDIR}")
else()
  set(libdir "${prefix}/${LIBDIR}")
endif()
set(config_args "")
set(build_type "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
  set(build_type "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()

# ---- install ----
step("install into ${prefix}"
  "${CMAKE_COMMAND}" --install "${BINARY_DIR}" --prefix "${prefix}" ${config_args})
foreach(f include/dptrain/dptrain.h include/dptrain/core.h)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "install_consumer: ${prefix}/${f} was not installed")
  endif()
endforeach()
foreach(f libdptrain.a libdptrain.so pkgconfig/dptrain.pc pkgconfig/dptrain-static.pc
    cmake/dptrain/dptrainConfig.cmake
    cmake/dptrain/dptrainConfigVersion.cmake cmake/dptrain/dptrainTargets.cmake)
  if(NOT EXISTS "${libdir}/${f}")
    message(FATAL_ERROR "install_consumer: ${libdir}/${f} was not installed")
  endif()
endforeach()

# ---- CMake consumer ----
set(build "${WORK_DIR}/build")
step("configure the consumer with find_package(dptrain)"
  "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${build}" -G "${GENERATOR}"
  "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_PREFIX_PATH=${prefix}" ${build_type}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
# The package must come from the fresh prefix, not from one installed on the system.
file(STRINGS "${build}/CMakeCache.txt" found_dir REGEX "^dptrain_DIR:")
string(REGEX REPLACE "^dptrain_DIR:[A-Z]+=" "" found_dir "${found_dir}")
file(REAL_PATH "${found_dir}" found_dir)
file(REAL_PATH "${prefix}" real_prefix)
string(FIND "${found_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "install_consumer: find_package(dptrain) used ${found_dir}, "
    "not the package in ${prefix}")
endif()
step("build the consumer" "${CMAKE_COMMAND}" --build "${build}" ${config_args})

foreach(kind shared static)
  set(exe "${build}/consumer_${kind}")
  if(NOT EXISTS "${exe}" AND CONFIG AND EXISTS "${build}/${CONFIG}/consumer_${kind}")
    set(exe "${build}/${CONFIG}/consumer_${kind}")
  endif()
  step("run consumer_${kind}" "${exe}")
  set(consumer_${kind} "${exe}")
endforeach()

# Static really is static, shared really loads the installed .so.
find_program(LDD ldd)
if(LDD)
  string(REGEX REPLACE "([][+.*?()^$|\\])" "\\\\\\1" libdir_re "${libdir}")
  foreach(kind shared static)
    execute_process(COMMAND "${LDD}" "${consumer_${kind}}" OUTPUT_VARIABLE deps
      RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "install_consumer: ldd ${consumer_${kind}} failed:\n${deps}")
    endif()
    if(kind STREQUAL "static" AND deps MATCHES "libdptrain")
      message(FATAL_ERROR "install_consumer: consumer_static needs a shared dptrain:\n${deps}")
    endif()
    if(kind STREQUAL "shared" AND NOT deps MATCHES "libdptrain\\.so[^\n]*=> ${libdir_re}/")
      message(FATAL_ERROR "install_consumer: consumer_shared does not load ${libdir}/libdptrain.so:"
        "\n${deps}")
    endif()
  endforeach()
endif()

# ---- pkg-config consumer ----
set(ENV{PKG_CONFIG_PATH} "${libdir}/pkgconfig")
execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs dptrain
  OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install_consumer: pkg-config --cflags --libs dptrain failed")
endif()
execute_process(COMMAND "${PKG_CONFIG}" --cflags --static --libs dptrain
  OUTPUT_VARIABLE pc_static OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install_consumer: pkg-config --static --libs dptrain failed")
endif()
execute_process(COMMAND "${PKG_CONFIG}" --modversion dptrain
  OUTPUT_VARIABLE pc_version OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT pc_version STREQUAL VERSION)
  message(FATAL_ERROR "install_consumer: dptrain.pc says version '${pc_version}', "
    "expected '${VERSION}'")
endif()
message(STATUS "install_consumer: pkg-config: ${pc_flags}")
message(STATUS "install_consumer: pkg-config --static: ${pc_static}")
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")

set(warn -std=c11 -Wall -Wextra -Wpedantic -Werror "-DDPT_EXPECTED_VERSION=\"${VERSION}\"")
step("cc main.c $(pkg-config --cflags --libs dptrain)"
  "${C_COMPILER}" ${warn} "${CONSUMER_DIR}/main.c" -o "${WORK_DIR}/consumer_pc" ${pc_flags})
# No LD_LIBRARY_PATH: dptrain.pc's rpath finds the library in this non-standard prefix.
step("run consumer_pc" "${CMAKE_COMMAND}" -E env --unset=LD_LIBRARY_PATH "${WORK_DIR}/consumer_pc")
separate_arguments(pc_static UNIX_COMMAND "${pc_static}")
step("cc main.c $(pkg-config --cflags --static --libs dptrain)"
  "${C_COMPILER}" ${warn} "${CONSUMER_DIR}/main.c" -o "${WORK_DIR}/consumer_pc_static" ${pc_static})
step("run consumer_pc_static" "${CMAKE_COMMAND}" -E env --unset=LD_LIBRARY_PATH
  "${WORK_DIR}/consumer_pc_static")
execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs dptrain-static
  OUTPUT_VARIABLE pc_a OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT pc_a MATCHES "libdptrain\\.a")
  message(FATAL_ERROR "install_consumer: pkg-config dptrain-static failed or names no "
    "libdptrain.a: ${pc_a}")
endif()
separate_arguments(pc_a UNIX_COMMAND "${pc_a}")
step("cc main.c $(pkg-config --cflags --libs dptrain-static)"
  "${C_COMPILER}" ${warn} "${CONSUMER_DIR}/main.c" -o "${WORK_DIR}/consumer_pc_a" ${pc_a})
step("run consumer_pc_a" "${CMAKE_COMMAND}" -E env --unset=LD_LIBRARY_PATH "${WORK_DIR}/consumer_pc_a")

# ---- the installed command, man page and completion ----
if(IS_ABSOLUTE "${BINDIR}")
  set(bindir "${BINDIR}")
else()
  set(bindir "${prefix}/${BINDIR}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -E env --unset=LD_LIBRARY_PATH "${bindir}/dptrain"
  version OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "^dptrain ${VERSION}")
  message(FATAL_ERROR "install_consumer: the installed ${bindir}/dptrain does not run without "
    "LD_LIBRARY_PATH (${rc}):\n${out}")
endif()
if(LDD)
  foreach(exe "${bindir}/dptrain" "${WORK_DIR}/consumer_pc_a")
    execute_process(COMMAND "${CMAKE_COMMAND}" -E env --unset=LD_LIBRARY_PATH "${LDD}" "${exe}"
      OUTPUT_VARIABLE deps)
    if(deps MATCHES "libdptrain|not found")
      message(FATAL_ERROR "install_consumer: ${exe} needs a shared dptrain or misses a "
        "library:\n${deps}")
    endif()
  endforeach()
endif()
foreach(kind DATADIR MANDIR)
  if(IS_ABSOLUTE "${${kind}}")
    set(dir_${kind} "${${kind}}")
  else()
    set(dir_${kind} "${prefix}/${${kind}}")
  endif()
endforeach()
set(completion "${dir_DATADIR}/bash-completion/completions/dptrain")
if(NOT EXISTS "${completion}")
  message(FATAL_ERROR "install_consumer: the bash completion ${completion} was not installed")
endif()
if(HELP2MAN AND NOT EXISTS "${dir_MANDIR}/man1/dptrain.1")
  message(FATAL_ERROR "install_consumer: help2man was found but ${dir_MANDIR}/man1/dptrain.1 "
    "was not installed")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "install_consumer: CMake package and pkg-config file both work")
