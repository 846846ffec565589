// The AVX-512 kernels: isa/kernels.inc over the AVX-512 vector layer (compiled with -mavx512f).
#include "core/isa/avx512/simd.h"

#include "core/isa/kernels.inc"
