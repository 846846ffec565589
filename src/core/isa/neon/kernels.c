// The NEON kernels: isa/kernels.inc over the NEON vector layer (arm64; Advanced SIMD is part of
// the base architecture, so no extra compiler flag).
#include "core/isa/neon/simd.h"

#include "core/isa/kernels.inc"
