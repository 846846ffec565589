# The mpi tests (ctest -L mpi): runs tests/mpi programs alone and under mpirun with 2 and 3 ranks
# and compares what they write.
#   cmake -DMODE=<mode> -DTRAIN=<mpi_train> -DCOLLECTIVES=<mpi_collectives> -DMPIEXEC=<mpirun>
#         -DMPIEXEC_FLAGS=<;-list> -DWORK_DIR=<scratch dir> -P run.cmake
# Modes:
#   collectives  mpi_collectives alone (MPI singleton) and under 1, 2 and 3 ranks
#   repro        reproducible mode: 1 process without MPI, the singleton, 2 and 3 ranks x 1 and 2
#                threads, both engines: all bitwise identical, on every rank
#   normal       normal mode: ranks agree bitwise; a rerun, another piece size and TCP instead of
#                shared memory give the same bits; within 1e-4 of one process
#   resume       stop mid-epoch on rank 0's request, save, resume: bitwise the uninterrupted run
#                (and in reproducible mode also when resumed with another number of ranks)
#   dead_rank    rank 1 of 3 exits mid-training: mpirun ends the job, non-zero, well within the
#                watchdog deadline
#   hung_rank    rank 2 of 3 hangs mid-training: the watchdog of the others aborts the job after
#                DPT_MPI_TIMEOUT = 3 s with its one-line message
#   cli          `mpirun dptrain train`: reproducible runs on 2 and 3 ranks save bitwise the model of
#                one process; normal runs repeat bitwise; only rank 0 prints; a set-up error on one
#                rank or on all ends the job at once (needs -DCLI=)
cmake_minimum_required(VERSION 3.25)

foreach(var MODE TRAIN COLLECTIVES MPIEXEC WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "mpi tests: -D${var}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# dpt_run(<np> <timeout s> <expect: ok|fail> <program> args...): np 0 runs the program alone;
# DPT_MPIRUN_EXTRA, when set, adds mpirun flags.
# Leaves the output in RUN_OUT and the exit status in RUN_RC; on an unexpected status, fails the
# test showing the command and its output.
function(dpt_run np timeout expect)
  if(np EQUAL 0)
    set(cmd ${ARGN})
  else()
    set(cmd ${MPIEXEC} -np ${np} ${MPIEXEC_FLAGS} ${DPT_MPIRUN_EXTRA} -x DPT_MPI_TIMEOUT ${ARGN})
  endif()
  string(TIMESTAMP t0 "%s")
  execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
    TIMEOUT ${timeout})
  string(TIMESTAMP t1 "%s")
  math(EXPR seconds "${t1} - ${t0}")
  list(JOIN cmd " " cmd_text)
  message(STATUS "[${seconds} s, status ${rc}] ${cmd_text}")
  if(expect STREQUAL "ok" AND NOT rc STREQUAL "0")
    message(FATAL_ERROR "failed (status ${rc}): ${cmd_text}\n${out}${err}")
  elseif(expect STREQUAL "fail" AND rc STREQUAL "0")
    message(FATAL_ERROR "succeeded but should have failed: ${cmd_text}\n${out}${err}")
  endif()
  set(RUN_RC "${rc}" PARENT_SCOPE)
  set(RUN_OUT "${out}${err}" PARENT_SCOPE)
  set(RUN_SECONDS "${seconds}" PARENT_SCOPE)
endfunction()

# dpt_same(<a> <b> <tolerance>): 0 means bitwise.
function(dpt_same a b tol)
  dpt_run(0 60 ok ${TRAIN} --compare ${a} ${b} ${tol})
endfunction()

# Every rank's file equals rank 0's, bitwise.
function(dpt_ranks_agree file np)
  math(EXPR last "${np} - 1")
  foreach(r RANGE 1 ${last})
    dpt_same(${file} ${file}.rank${r} 0)
  endforeach()
endfunction()

set(W ${WORK_DIR})
set(ENV{DPT_MPI_TIMEOUT} 60)

if(MODE STREQUAL "collectives")
  dpt_run(0 120 ok ${COLLECTIVES})
  foreach(np 1 2 3)
    dpt_run(${np} 120 ok ${COLLECTIVES})
  endforeach()

elseif(MODE STREQUAL "repro")
  dpt_run(0 120 ok ${TRAIN} --no-mpi --repro --threads 1 --out ${W}/ref)
  dpt_run(0 120 ok ${TRAIN} --repro --threads 2 --out ${W}/singleton)
  dpt_same(${W}/ref ${W}/singleton 0)
  foreach(cfg "2;1;pthreads" "2;2;pthreads" "3;1;pthreads" "3;2;openmp")
    list(GET cfg 0 np)
    list(GET cfg 1 t)
    list(GET cfg 2 engine)
    set(out ${W}/r${np}_t${t})
    dpt_run(${np} 120 ok ${TRAIN} --repro --threads ${t} --engine ${engine} --out ${out})
    dpt_ranks_agree(${out} ${np})
    dpt_same(${W}/ref ${out} 0)
  endforeach()

elseif(MODE STREQUAL "normal")
  dpt_run(0 120 ok ${TRAIN} --no-mpi --threads 1 --out ${W}/ref)
  dpt_run(2 120 ok ${TRAIN} --threads 1 --out ${W}/a)
  dpt_ranks_agree(${W}/a 2)
  # Same seed, same ranks x threads: the same bits. The piece size cuts the all-reduce
  # differently but never changes an element's summation order: the same bits again.
  dpt_run(2 120 ok ${TRAIN} --threads 1 --out ${W}/b)
  dpt_same(${W}/a ${W}/b 0)
  dpt_run(2 120 ok ${TRAIN} --threads 1 --piece 1000 --out ${W}/c)
  dpt_same(${W}/a ${W}/c 0)
  # Over TCP (the transport between hosts) instead of shared memory: the same bits again.
  set(DPT_MPIRUN_EXTRA --mca btl self,tcp)
  dpt_run(2 120 ok ${TRAIN} --threads 1 --out ${W}/tcp)
  unset(DPT_MPIRUN_EXTRA)
  dpt_same(${W}/a ${W}/tcp 0)
  # Against one process: a different summation order; after 48 Adam steps the parameters agree
  # to ~1e-6 of their norm (as in tests/parallel/test_comm.c), so 1e-4 has a wide margin and
  # still catches a missing or doubled contribution (off by whole percents).
  dpt_same(${W}/ref ${W}/a 1e-4)
  dpt_run(3 120 ok ${TRAIN} --threads 2 --out ${W}/d)
  dpt_ranks_agree(${W}/d 3)
  dpt_same(${W}/ref ${W}/d 1e-4)

elseif(MODE STREQUAL "resume")
  foreach(cfg "repro;2;1;3" "normal;2;2;2")
    list(GET cfg 0 mode)
    list(GET cfg 1 np)
    list(GET cfg 2 t)
    list(GET cfg 3 np_resume)
    set(flags --threads ${t})
    if(mode STREQUAL "repro")
      list(APPEND flags --repro)
    endif()
    dpt_run(${np} 120 ok ${TRAIN} ${flags} --out ${W}/${mode}_full)
    # Step 20 of 16 per epoch: mid-epoch 2.
    dpt_run(${np} 120 ok ${TRAIN} ${flags} --stop-at-step 20 --state ${W}/${mode}_state
      --out ${W}/${mode}_unused)
    if(NOT EXISTS ${W}/${mode}_state OR EXISTS ${W}/${mode}_unused)
      message(FATAL_ERROR "the stopped run should write its state and no result\n${RUN_OUT}")
    endif()
    dpt_run(${np_resume} 120 ok ${TRAIN} ${flags} --resume ${W}/${mode}_state
      --out ${W}/${mode}_resumed)
    dpt_ranks_agree(${W}/${mode}_resumed ${np_resume})
    dpt_same(${W}/${mode}_full ${W}/${mode}_resumed 0)
  endforeach()

elseif(MODE STREQUAL "dead_rank")
  # mpirun notices the exit at once; the bound is far below the 60 s watchdog deadline, so the
  # test shows that nothing waited for it.
  dpt_run(3 120 fail ${TRAIN} --threads 1 --epochs 50 --die-rank 1 --fault-step 5 --out ${W}/x)
  if(RUN_SECONDS GREATER 30)
    message(FATAL_ERROR "the job took ${RUN_SECONDS} s to end after rank 1 exited\n${RUN_OUT}")
  endif()
  if(NOT RUN_OUT MATCHES "rank 1: exiting at step 5")
    message(FATAL_ERROR "rank 1 did not reach its fault\n${RUN_OUT}")
  endif()
  # Open MPI's mpirun names the rank that exited and its status.
  if(NOT RUN_OUT MATCHES "exited on signal|non-zero (exit )?status|exiting improperly")
    message(FATAL_ERROR "mpirun did not report the dead rank\n${RUN_OUT}")
  endif()
  message(STATUS "output of the job:\n${RUN_OUT}")

elseif(MODE STREQUAL "hung_rank")
  set(ENV{DPT_MPI_TIMEOUT} 3)
  dpt_run(3 120 fail ${TRAIN} --threads 1 --epochs 50 --hang-rank 2 --fault-step 5 --out ${W}/x)
  if(NOT RUN_OUT MATCHES "rank 2: hanging at step 5")
    message(FATAL_ERROR "rank 2 did not reach its fault\n${RUN_OUT}")
  endif()
  if(NOT RUN_OUT MATCHES "dptrain: error: rank [01]: no progress from the other ranks for 3 s in (all-reduce|status agreement) \\(a rank died or hangs\\); aborting")
    message(FATAL_ERROR "no watchdog message\n${RUN_OUT}")
  endif()
  if(RUN_SECONDS GREATER 60)
    message(FATAL_ERROR "the job took ${RUN_SECONDS} s to end with a 3 s deadline\n${RUN_OUT}")
  endif()
  message(STATUS "output of the job:\n${RUN_OUT}")

elseif(MODE STREQUAL "cli")
  if(NOT DEFINED CLI)
    message(FATAL_ERROR "mpi tests: -DCLI=<dptrain> is required for MODE cli")
  endif()
  set(args train --data synth:blobs,n=600,classes=3 --layers 2,32,3 --act tanh,softmax --batch 20
    --epochs 3 --pin none)
  # The models' tensors, bitwise (the files themselves also hold the command line).
  function(dpt_same_model a b)
    foreach(m ${a} ${b})
      dpt_run(0 60 ok ${CLI} export --model ${m} --npy ${m}.npy)
    endforeach()
    file(GLOB tensors RELATIVE ${a}.npy ${a}.npy/*.npy)
    if(NOT tensors)
      message(FATAL_ERROR "no tensors exported from ${a}")
    endif()
    foreach(t ${tensors})
      file(SHA256 ${a}.npy/${t} ha)
      file(SHA256 ${b}.npy/${t} hb)
      if(NOT ha STREQUAL hb)
        message(FATAL_ERROR "${t} differs between ${a} and ${b}")
      endif()
    endforeach()
  endfunction()
  dpt_run(0 120 ok ${CLI} ${args} --reproducible --threads 1 --quiet --save ${W}/ref.st)
  dpt_run(2 120 ok ${CLI} ${args} --reproducible --threads 1 --save ${W}/r2.st)
  # Only rank 0 prints: one description, one row per epoch (the third: "    3  1.0234 0.5617 ..."),
  # one final result line.
  string(REGEX MATCHALL "dptrain [0-9.]+: [0-9]+ training samples" headers "${RUN_OUT}")
  string(REGEX MATCHALL "\n +3 +[0-9]+\\.[0-9]+ " last_epochs "${RUN_OUT}")
  string(REGEX MATCHALL "training accuracy: " finals "${RUN_OUT}")
  list(LENGTH headers n_headers)
  list(LENGTH last_epochs n_last)
  list(LENGTH finals n_finals)
  if(NOT n_headers EQUAL 1 OR NOT n_last EQUAL 1 OR NOT n_finals EQUAL 1)
    message(FATAL_ERROR "expected one description, one row for epoch 3 and one final line (rank 0 "
      "only), got ${n_headers}, ${n_last} and ${n_finals}\n${RUN_OUT}")
  endif()
  dpt_same_model(${W}/ref.st ${W}/r2.st)
  dpt_run(3 120 ok ${CLI} ${args} --reproducible --threads 2 --quiet --save ${W}/r3.st)
  dpt_same_model(${W}/ref.st ${W}/r3.st)
  dpt_run(2 120 ok ${CLI} ${args} --threads 1 --quiet --save ${W}/n1.st)
  dpt_run(2 120 ok ${CLI} ${args} --threads 1 --quiet --save ${W}/n2.st)
  dpt_same_model(${W}/n1.st ${W}/n2.st)
  # Set-up errors stop every rank at once, well before the 60 s watchdog: one that every rank
  # meets (missing data), and one that only rank 0 checks (the --save directory).
  dpt_run(2 120 fail ${CLI} train --data csv:${W}/missing.csv --quiet)
  if(RUN_SECONDS GREATER 20 OR NOT RUN_OUT MATCHES "missing.csv")
    message(FATAL_ERROR "missing data: ${RUN_SECONDS} s\n${RUN_OUT}")
  endif()
  dpt_run(2 120 fail ${CLI} ${args} --quiet --save ${W}/no/such/dir/m.st)
  if(RUN_SECONDS GREATER 20 OR NOT RUN_OUT MATCHES "--save")
    message(FATAL_ERROR "rank 0's --save error took ${RUN_SECONDS} s to end the job\n${RUN_OUT}")
  endif()

else()
  message(FATAL_ERROR "mpi tests: unknown MODE '${MODE}'")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
