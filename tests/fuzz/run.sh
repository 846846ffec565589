#!/usr/bin/env bash
# One bounded libFuzzer run, as the ctest test fuzz_<parser> of the 'fuzz' preset runs it:
#   run.sh FUZZER CORPUS_DIR WORK_DIR SECONDS
# Fuzzes from a fresh copy of the committed corpus in WORK_DIR/corpus (the repository is never
# written), for SECONDS of wall time. A crash, sanitizer report, leak, timeout (10 s per input),
# out-of-memory (2 GB resident) or single allocation over 512 MB (from inputs of a few KB, that
# is a size check missing) fails the test; its input is saved as WORK_DIR/crash-*, leak-*,
# timeout-* or oom-*.
# To keep a finding: copy it into tests/fuzz/corpus/<parser>/ and add a criterion test.
set -euo pipefail
fuzzer=$1 corpus=$2 work=$3 seconds=$4

rm -rf "$work"
mkdir -p "$work/corpus"
cp "$corpus"/* "$work/corpus/"
# -jobs/-workers stay at 1: ctest already runs two fuzzers side by side on a 2-core machine.
"$fuzzer" "$work/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -timeout=10 -artifact_prefix="$work/" -print_final_stats=1 2>"$work/log" || {
    status=$?
    tail -n 60 "$work/log"
    echo "run.sh: $(basename "$fuzzer") failed (exit $status); the input is in $work/" >&2
    ls "$work" >&2
    exit 1
}
# The summary: executions, speed, coverage and corpus size at the end.
grep -E '^(#[0-9]+.*DONE|stat::|Done )' "$work/log" || tail -n 5 "$work/log"
