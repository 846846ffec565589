#!/usr/bin/env bash
# The ctest test neon_inner_loops of the arm64 build: the inner loops of the NEON kernels
# (src/core/isa/neon/kernels.c, as compiled into libdptrain.a) are vector code. From the
# disassembly (aarch64-linux-gnu-objdump -d), every innermost loop that multiplies (a backward
# branch whose body holds an FMLA and no other backward branch) must:
#   - multiply only with FMLA on whole 128-bit registers of 4 floats (Vd.4S, by vector or by
#     element), and
#   - hold no scalar floating-point arithmetic (FMADD, FMUL, FADD ... on S or D registers).
# Each of kernel_full (the packed 8 x 8 micro-kernel), nt_rows and bcast must have such a loop.
# Prints each loop found, as docs/architecture.md records them.
#   neon_loops.sh OBJDUMP LIBRARY
set -euo pipefail
objdump=$1
lib=$2
command -v "$objdump" >/dev/null 2>&1 || {
    echo "$objdump not installed: skipped"
    exit 77
}
"$objdump" -d --no-show-raw-insn "$lib" | awk '
    function hex(s,   v, i) {
        v = 0
        for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v
    }
    /^In archive/ { next }
    /^[^ ]*kernels\.c\.o:/ { inobj = 1; next }
    /^[^ ]*\.o:/ { inobj = 0 }
    !inobj { next }
    /^[0-9a-f]+ <[^>]+>:$/ { fn = $2; gsub(/[<>:]/, "", fn); n = 0; next }
    /^ *[0-9a-f]+:\t/ {
        split($0, f, "\t"); addr = f[1]; gsub(/[ :]/, "", addr)
        n++; A[fn, n] = hex(addr); I[fn, n] = f[2] " " f[3]; N[fn] = n
        if (f[2] ~ /^(b\.|b$|cbnz|cbz|tbnz|tbz)/ && match(f[3], /^[0-9a-f]+/)) {
            t = hex(substr(f[3], RSTART, RLENGTH))
            B[fn, n] = t
            if (t < A[fn, n]) { nl++; LF[nl] = fn; LT[nl] = t; LE[nl] = n }
        }
    }
    END {
        bad = 0
        for (l = 1; l <= nl; l++) {
            fn = LF[l]; fmla = 0; other = 0; scalar = ""; narrow = ""; body = ""
            for (i = LE[l]; i >= 1 && A[fn, i] >= LT[l]; i--) {
                ins = I[fn, i]
                if (i < LE[l] && B[fn, i] != "" && B[fn, i] < A[fn, i]) other = 1 # a nested loop
                if (ins ~ /^fmla/) { fmla++; if (ins !~ /v[0-9]+\.4s, v[0-9]+\.4s, v[0-9]+\.(4s|s\[[0-3]\])/) narrow = ins }
                if (ins ~ /^f(n?madd|n?msub|mul|add|sub|div|max|min|neg|abs)[ \t]+[sdh][0-9]/) scalar = ins
                body = ins "\n" body
            }
            if (!fmla || other) continue
            printf "%s: loop of %d instructions, %d FMLA\n%s", fn, LE[l] - i, fmla, body
            if (narrow != "") { printf "  NOT 4 x 32-bit: %s\n", narrow; bad = 1 }
            if (scalar != "") { printf "  SCALAR ARITHMETIC: %s\n", scalar; bad = 1 }
            seen[fn] = 1
        }
        split("kernel_full nt_rows bcast", want, " ")
        for (w in want) if (!(want[w] in seen)) { printf "no FMLA loop found in %s\n", want[w]; bad = 1 }
        exit bad
    }'
