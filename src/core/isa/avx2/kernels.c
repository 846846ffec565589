// The AVX2 + FMA kernels: isa/kernels.inc over the AVX2 vector layer (compiled with -mavx2
// -mfma).
#include "core/isa/avx2/simd.h"

#include "core/isa/kernels.inc"
