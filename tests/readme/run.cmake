# ctest readme_quickstart: the README's quick start must compile and run.
#   cmake -DREADME=... -DOUT=<.c to write> -DBINARY_DIR=<build> -DCONFIG=<cfg> -DEXE=<program>
#         [-DEMULATOR=<command that runs it: a cross build's qemu>] -P run.cmake
# Extracts the one ```c block between the lines <!-- quickstart:begin --> and
# <!-- quickstart:end --> of README.md, writes it (with a #line directive, so compiler messages
# point into README.md), builds the readme_quickstart target and runs it.
cmake_minimum_required(VERSION 3.25)

foreach(var README OUT BINARY_DIR EXE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "readme_quickstart: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${README}")
  message(FATAL_ERROR "readme_quickstart: ${README} does not exist")
endif()

file(READ "${README}" text)
set(begin_marker "<!-- quickstart:begin -->")
set(end_marker "<!-- quickstart:end -->")
string(FIND "${text}" "${begin_marker}" begin)
string(FIND "${text}" "${end_marker}" end)
if(begin EQUAL -1 OR end EQUAL -1 OR end LESS begin)
  message(FATAL_ERROR "readme_quickstart: ${README} needs the lines '${begin_marker}' and "
    "'${end_marker}' (in this order) around the quick start")
endif()
string(LENGTH "${begin_marker}" marker_len)
math(EXPR section_start "${begin} + ${marker_len}")
math(EXPR section_len "${end} - ${section_start}")
string(SUBSTRING "${text}" ${section_start} ${section_len} section)

# Exactly one fenced block, and it is C: two ``` fences in the section.
string(REGEX MATCHALL "```" fences "${section}")
list(LENGTH fences n_fences)
if(NOT n_fences EQUAL 2)
  message(FATAL_ERROR "readme_quickstart: expected exactly one ```c block between the quickstart "
    "markers of ${README}, found ${n_fences} fences")
endif()
if(NOT section MATCHES "```c[ \t]*\r?\n(.*)\n[ \t]*```")
  message(FATAL_ERROR "readme_quickstart: the block between the quickstart markers of "
    "${README} must open with ```c on its own line")
endif()
set(code "${CMAKE_MATCH_1}")

# Line number of the first code line: lines before the fence's end in README.md, plus one.
string(FIND "${section}" "```c" fence_pos)
math(EXPR upto "${section_start} + ${fence_pos}")
string(SUBSTRING "${text}" 0 ${upto} before)
string(REGEX MATCHALL "\n" newlines "${before}")
list(LENGTH newlines first_line)
math(EXPR first_line "${first_line} + 2")

get_filename_component(out_dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${out_dir}")
# Written only when it changed, so an unchanged README does not rebuild.
file(WRITE "${OUT}.new" "#line ${first_line} \"${README}\"\n${code}\n")
file(COPY_FILE "${OUT}.new" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.new")

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BINARY_DIR}" --target readme_quickstart
  ${config_args} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readme_quickstart: the quick start of ${README} does not build (${rc})")
endif()

execute_process(COMMAND ${EMULATOR} "${EXE}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readme_quickstart: the quick start of ${README} exited with '${rc}'")
endif()
message(STATUS "readme_quickstart: the quick start builds and runs")
