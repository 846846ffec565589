# Optional MPI support (docs/mpi.md). With -DDPT_MPI=ON: src/mpi becomes the static library
# dptrain_mpi (include <dptrain/mpi.h>; users see DPT_HAVE_MPI), the dptrain command links it, and
# the tests/mpi programs are registered with ctest under the label `mpi` (run under mpirun).
# The default build needs no MPI and is unchanged.
option(DPT_MPI "Build the MPI module (src/mpi), link it into dptrain, and the mpi tests" OFF)
if(NOT DPT_MPI)
  return()
endif()
find_package(MPI REQUIRED COMPONENTS C)

add_library(dptrain_mpi STATIC ${CMAKE_CURRENT_SOURCE_DIR}/src/mpi/comm_mpi.c)
add_library(dptrain::dptrain_mpi ALIAS dptrain_mpi)
target_include_directories(dptrain_mpi
  PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
  PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
target_compile_options(dptrain_mpi PRIVATE ${DPT_WARN})
target_compile_definitions(dptrain_mpi PRIVATE DPT_BUILDING_LIBRARY _POSIX_C_SOURCE=200809L
  PUBLIC DPT_HAVE_MPI)
set_target_properties(dptrain_mpi PROPERTIES C_VISIBILITY_PRESET hidden)
# The module uses the library's private helpers (errors, allocation), which only the static
# library exposes: dptrain_mpi always goes with dptrain_static.
target_link_libraries(dptrain_mpi PUBLIC dptrain_static MPI::MPI_C ${DPT_DEP_LIBS})

# The command: `mpirun -np N dptrain train ...` (src/cli checks DPT_HAVE_MPI).
target_link_libraries(dptrain_cli PRIVATE dptrain_mpi)

if(NOT DPT_BUILD_TESTS OR DPT_FUZZ)
  return()
endif()

foreach(prog mpi_train mpi_collectives bench_allreduce)
  add_executable(${prog} ${CMAKE_CURRENT_SOURCE_DIR}/tests/mpi/${prog}.c)
  target_compile_options(${prog} PRIVATE ${DPT_WARN})
  target_compile_definitions(${prog} PRIVATE _POSIX_C_SOURCE=200809L)
  target_include_directories(${prog} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${prog} PRIVATE dptrain_mpi)
  set_target_properties(${prog} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests/mpi)
endforeach()

# Ranks share this machine's cores: --oversubscribe lets 3 ranks run on 2 cores, --bind-to none
# leaves placement to dptrain (tests run with pin none). Running as root (CI containers) needs
# Open MPI's two OMPI_ALLOW_RUN_AS_ROOT variables.
set(DPT_MPIEXEC_FLAGS "--oversubscribe;--bind-to;none" CACHE STRING
  "mpirun flags of the mpi tests (a ;-list)")
# OMP_WAIT_POLICY: the OpenMP-engine run has 6 threads on 2 cores, where spinning only slows it.
set(DPT_MPI_TEST_ENV OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive OMPI_ALLOW_RUN_AS_ROOT=1
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1)
if(DPT_SANITIZE STREQUAL "address")
  # Open MPI keeps allocations until exit by design; leaks are checked in the other builds.
  list(APPEND DPT_MPI_TEST_ENV ASAN_OPTIONS=detect_leaks=0)
endif()
enable_testing()
foreach(mode collectives repro normal resume dead_rank hung_rank cli)
  add_test(NAME mpi_${mode} COMMAND ${CMAKE_COMMAND} -DMODE=${mode}
    -DTRAIN=$<TARGET_FILE:mpi_train> -DCOLLECTIVES=$<TARGET_FILE:mpi_collectives>
    -DCLI=$<TARGET_FILE:dptrain_cli>
    -DMPIEXEC=${MPIEXEC_EXECUTABLE} "-DMPIEXEC_FLAGS=${DPT_MPIEXEC_FLAGS}"
    -DWORK_DIR=${PROJECT_BINARY_DIR}/tests/mpi/work_${mode}
    -P ${CMAKE_CURRENT_SOURCE_DIR}/tests/mpi/run.cmake)
  # One mpi test at a time: each already runs up to 3 ranks x 2 threads.
  set_tests_properties(mpi_${mode} PROPERTIES LABELS mpi TIMEOUT 300 RESOURCE_LOCK dpt_mpi
    ENVIRONMENT "${DPT_MPI_TEST_ENV}")
endforeach()
