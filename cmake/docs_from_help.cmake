# Generates, from the help texts of the built dptrain (so they cannot drift from the flags):
#   MODE=completion: OUT = a bash completion script: commands, each command's flags, file names
#                    for flags whose value is a file or directory and for positional arguments;
#   MODE=man:        OUT = the man page, by help2man (HELP2MAN) from `dptrain --help`, with one
#                    section per command holding its `dptrain COMMAND --help`.
#   cmake -DMODE=completion|man -DDPTRAIN=<exe> -DOUT=<file> [-DHELP2MAN=<exe> -DVERSION=<x.y.z>]
#         [-DEMULATOR=<what runs exe: a cross build's qemu>] -P docs_from_help.cmake
cmake_minimum_required(VERSION 3.25)

function(help_of out)
  execute_process(COMMAND ${EMULATOR} "${DPTRAIN}" ${ARGN} --help OUTPUT_VARIABLE text RESULT_VARIABLE rc
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " what)
    message(FATAL_ERROR "docs_from_help: '${DPTRAIN} ${what} --help' failed (${rc}): ${err}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# The commands: the lines "  NAME  description" of the general help's "commands:" list.
help_of(main)
string(REGEX REPLACE ".*\ncommands:\n" "" list "${main}")
string(REGEX REPLACE "\n\n.*" "" list "${list}")
string(REGEX MATCHALL "(^|\n)  [a-z][a-z0-9-]*" names "${list}")
set(commands "")
foreach(n ${names})
  string(STRIP "${n}" n)
  list(APPEND commands "${n}")
endforeach()
if(NOT commands)
  message(FATAL_ERROR "docs_from_help: no commands found in '${DPTRAIN} --help'")
endif()

if(MODE STREQUAL "man")
  # help2man's include file: a [COMMANDS] section with each command's help, verbatim.
  set(inc "[COMMANDS]\n")
  foreach(c ${commands})
    help_of(text ${c})
    string(REPLACE "\\" "\\e" text "${text}")
    string(REPLACE "-" "\\-" text "${text}") # a minus, not a hyphen: flags copy and paste
    string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
    string(APPEND inc ".SS \"dptrain ${c}\"\n.nf\n${text}.fi\n")
  endforeach()
  string(APPEND inc "[FILES]\nThe formats of data, model and .npy files: docs/formats.md in the \
source tree; the schedule strings: docs/schedules.md; the math: docs/math.md.\n")
  file(WRITE "${OUT}.include" "${inc}")
  execute_process(COMMAND "${HELP2MAN}" --no-info --no-discard-stderr
    "--version-string=${VERSION}"
    "--name=train multi-layer perceptrons with backprop and mini-batch SGD on every core"
    "--include=${OUT}.include" --output=${OUT}.tmp "${DPTRAIN}"
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "docs_from_help: help2man failed (${rc}): ${err}")
  endif()
  file(RENAME "${OUT}.tmp" "${OUT}")
  return()
endif()

if(NOT MODE STREQUAL "completion")
  message(FATAL_ERROR "docs_from_help: MODE must be 'completion' or 'man'")
endif()

# Each command's flags ("  --name VALUE   text"); a flag whose value names a file or directory
# completes file names (directories only for DIR).
set(cases "")
set(file_flags "")
set(dir_flags "")
set(value_flags "")
set(positional "")
foreach(c ${commands})
  help_of(text ${c})
  string(REGEX MATCHALL "(^|\n)  --[a-z][a-z0-9-]*( [^ \n]+)?" lines "${text}")
  set(flags "")
  foreach(l ${lines})
    string(STRIP "${l}" l)
    string(REGEX MATCH "^--[a-z][a-z0-9-]*" flag "${l}")
    list(APPEND flags "${flag}")
    string(REGEX REPLACE "^--[a-z][a-z0-9-]* ?" "" value "${l}")
    if(NOT value STREQUAL "")
      list(APPEND value_flags "${c}:${flag}")
    endif()
    if(value MATCHES "^DIR")
      list(APPEND dir_flags "${c}:${flag}")
    elseif(value MATCHES "^(MODEL|FILE|PATH|LOG)" OR (value MATCHES "^SPEC" AND flag MATCHES
        "^--(data|test)$"))
      list(APPEND file_flags "${c}:${flag}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES flags)
  list(JOIN flags " " flags)
  string(APPEND cases "        ${c}) flags='${flags}' ;;\n")
  # Positional file arguments: "usage: dptrain info MODEL", "usage: dptrain plot LOG.jsonl ...".
  if(text MATCHES "usage: dptrain ${c} [A-Z]")
    list(APPEND positional "${c}")
  endif()
endforeach()
list(JOIN commands " " command_words)
list(JOIN file_flags "|" file_flags)
list(JOIN dir_flags "|" dir_flags)
list(JOIN positional "|" positional)
list(JOIN value_flags "|" value_flags)
if(file_flags STREQUAL "")
  set(file_flags "-")
endif()
if(dir_flags STREQUAL "")
  set(dir_flags "-")
endif()
if(value_flags STREQUAL "")
  set(value_flags "-")
endif()
if(positional STREQUAL "")
  set(positional "-")
endif()

file(WRITE "${OUT}.tmp" "# bash completion for dptrain. Generated from the help texts of dptrain ${VERSION} by
# cmake/docs_from_help.cmake; do not edit. Install as
# \$datadir/bash-completion/completions/dptrain, or source it from ~/.bashrc.
_dptrain()
{
    local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
    local cmd=\${COMP_WORDS[1]} flags
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        COMPREPLY=(\$(compgen -W '${command_words} --help --version' -- \"\$cur\"))
        return
    fi
    case \$cmd in
${cases}        *) return ;;
    esac
    # The value of a flag: file names where it names a file, data SPEC prefixes too.
    case \$cmd:\$prev in
        ${dir_flags})
            compopt -o filenames 2>/dev/null
            COMPREPLY=(\$(compgen -d -- \"\$cur\"))
            return
            ;;
        ${file_flags})
            compopt -o filenames 2>/dev/null
            COMPREPLY=(\$(compgen -f -- \"\$cur\"))
            if [[ \$prev == --data || \$prev == --test ]]; then
                COMPREPLY+=(\$(compgen -W 'fashion-mnist fashion-mnist: idx: csv: libsvm: synth:xor synth:spirals synth:blobs' -- \"\$cur\"))
            fi
            return
            ;;
    esac
    case \$cmd:\$prev in
        ${value_flags}) return ;; # another flag's value: nothing to offer
    esac
    if [[ \$cur == -* ]]; then
        COMPREPLY=(\$(compgen -W \"\$flags\" -- \"\$cur\"))
    else
        case \$cmd in
            ${positional})
                compopt -o filenames 2>/dev/null
                COMPREPLY=(\$(compgen -f -- \"\$cur\"))
                ;;
        esac
    fi
}
complete -F _dptrain dptrain
")
file(RENAME "${OUT}.tmp" "${OUT}")
