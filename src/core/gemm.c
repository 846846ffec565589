// The GEMM shim over CBLAS (OpenBLAS by default; any CBLAS through the DPT_BLAS CMake option).
#include <cblas.h>

#include "gemm_impl.h"

#ifdef DPT_HAVE_OPENBLAS_SET_NUM_THREADS
// cblas.h of OpenBLAS declares these.
#endif

void dpt_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
              const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

void dpt_blas_single_thread(void)
{
#ifdef DPT_HAVE_OPENBLAS_SET_NUM_THREADS
    openblas_set_num_threads(1);
#endif
}

const char *dpt_blas_info(void)
{
#ifdef DPT_HAVE_OPENBLAS_SET_NUM_THREADS
    return openblas_get_config();
#else
    return "CBLAS";
#endif
}
