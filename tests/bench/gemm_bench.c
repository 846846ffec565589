// dpt_gemm against the BLAS's cblas_sgemm, one thread, on the products of the reference
// workloads (or the shapes given): the evidence behind dpt_gemm's choice of path. Not a test.
//
//   build/release/tests/gemm_bench [--rounds R] [--bf16 | --kernels | --image] [--cold]
//                                  [--blocking KC,NC] [SHAPE ...]
//
// --bf16: dpt_gemm (fp32) against dpt_gemm_bf16 (bf16 operands, fp32 accumulation; only on a CPU
// with AVX512_BF16) instead of the BLAS against dpt_gemm.
// --kernels: the packed GEMM (forced, whatever dpt_gemm's rule says) against the small kernels
// (dpt_gemm on a thread without a packing buffer: nt for NT, bcast for TN and NN), instead.
// --image: dpt_gemm, packing op(A) itself, against dpt_gemm_image reading op(A) from an image
// packed beforehand (one per copy of the operands), as split_all's workers read the activations
// and deltas the others computed (NN and NT shapes; the product must take the packed GEMM).
// --cold: each call takes the next of several copies of A and B (64 MiB of them in all), so the
// operands come from memory, as a batch's inputs or another core's activations do in training,
// rather than from this core's caches.
// --blocking KC,NC: the packed GEMM's block sizes, in place of those from the caches (gemm.c).
//
// SHAPE is op(A) op(B) and m x n x k, e.g. NT:256x1024x784 (C = A B^T, A 256 x 784).
//
// For each shape the two run alternately, R rounds (default 7) of enough calls for ~0.1 s each;
// it prints the median GFLOP/s of each and their ratio, then the ratio of the summed median times
// (every shape weighted by its own time, not by how often training calls it).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "core/gemm_bf16.h"
#include "core/gemm_impl.h"
#include "bench_util.h"

struct shape {
    int ta, tb;
    size_t m, n, k;
};

static int parse(const char *s, struct shape *sh)
{
    char t[3];
    if (sscanf(s, "%2[NT]:%zux%zux%zu", t, &sh->m, &sh->n, &sh->k) != 4 || strlen(t) != 2 ||
        sh->m == 0 || sh->n == 0 || sh->k == 0 || sh->m * sh->n * sh->k > ((size_t)1 << 34))
        return -1;
    sh->ta = t[0] == 'T';
    sh->tb = t[1] == 'T';
    return 0;
}

// One call of contender `who` (0: the first column, 1: the second) of the mode: 0 the BLAS
// against dpt_gemm, 1 dpt_gemm against dpt_gemm_bf16, 2 the packed GEMM against the small kernels,
// 3 dpt_gemm against dpt_gemm_image with op(A)'s image aimg.
static void run(int mode, int who, const struct shape *sh, const float *a, size_t lda,
                const float *b, size_t ldb, float *c, float *pack, size_t floats, const float *aimg)
{
    if (mode == 3 && who == 1)
        dpt_gemm_image(0, sh->tb, sh->m, sh->n, sh->k, 1.0f, a, lda, aimg, b, ldb, NULL, 0.0f, c,
                       sh->n);
    else if (mode == 0 && who == 0)
        cblas_sgemm(CblasRowMajor, sh->ta ? CblasTrans : CblasNoTrans,
                    sh->tb ? CblasTrans : CblasNoTrans, (int)sh->m, (int)sh->n, (int)sh->k, 1.0f, a,
                    (int)lda, b, (int)ldb, 0.0f, c, (int)sh->n);
    else if (mode == 1 && who == 1)
        dpt_gemm_bf16(sh->ta, sh->tb, sh->m, sh->n, sh->k, 1.0f, a, lda, b, ldb, 0.0f, c, sh->n);
    else if (mode == 2 && who == 0) {
        if (!dpt_gemm_packed(sh->ta, sh->tb, sh->m, sh->n, sh->k, 1.0f, a, lda, b, ldb, 0.0f, c,
                             sh->n)) {
            fprintf(stderr, "gemm_bench: --kernels: the packed GEMM declined the product\n");
            exit(2);
        }
    } else if (mode == 2) { // the small kernels: a thread without a packing buffer
        dpt_gemm_pack_use(NULL, 0);
        dpt_gemm(sh->ta, sh->tb, sh->m, sh->n, sh->k, 1.0f, a, lda, b, ldb, 0.0f, c, sh->n);
        dpt_gemm_pack_use(pack, floats);
    } else
        dpt_gemm(sh->ta, sh->tb, sh->m, sh->n, sh->k, 1.0f, a, lda, b, ldb, 0.0f, c, sh->n);
}

int main(int argc, char **argv)
{
    // L at 1 thread (batch 256), L's 2-thread shard and row shapes, then M's (batch 128).
    static const char *defaults[] = {
        "NT:256x1024x784", "NT:256x1024x1024", "NN:256x1024x1024", "TN:1024x1024x256",
        "TN:1024x784x256", "NT:128x1024x1024", "NN:128x1024x1024", "TN:512x1024x256",
        "TN:512x784x256",  "NT:256x512x784",   "NT:128x512x784",   "NT:128x512x512",
        "NN:128x512x512",  "TN:512x784x128",   "TN:512x512x128",
    };
    int rounds = 7, first = 1, bf16 = 0, kernels = 0, image = 0, cold = 0;
    for (;;) {
        if (argc > first + 1 && strcmp(argv[first], "--rounds") == 0) {
            rounds = atoi(argv[first + 1]);
            first += 2;
        } else if (argc > first + 1 && strcmp(argv[first], "--blocking") == 0) {
            size_t kc, nc;
            if (sscanf(argv[first + 1], "%zu,%zu", &kc, &nc) != 2 || kc < 16 || kc > 4096 ||
                nc < 16 || nc > 16384) {
                fprintf(stderr, "gemm_bench: --blocking '%s' is not KC,NC\n", argv[first + 1]);
                return 2;
            }
            dpt_gemm_blocking_force(kc, nc);
            first += 2;
        } else if (argc > first && strcmp(argv[first], "--bf16") == 0) {
            bf16 = 1;
            first++;
        } else if (argc > first && strcmp(argv[first], "--kernels") == 0) {
            kernels = 1;
            first++;
        } else if (argc > first && strcmp(argv[first], "--image") == 0) {
            image = 1;
            first++;
        } else if (argc > first && strcmp(argv[first], "--cold") == 0) {
            cold = 1;
            first++;
        } else {
            break;
        }
    }
    if (rounds < 1 || rounds > 99 || (argc > first && argv[first][0] == '-') ||
        bf16 + kernels + image > 1) {
        fprintf(stderr,
                "usage: gemm_bench [--rounds R (1-99)] [--bf16 | --kernels | --image] [--cold] "
                "[--blocking KC,NC] [NT:MxNxK ...]\n");
        return 2;
    }
    if ((kernels || image) && !dpt_gemm_rows_available()) {
        fprintf(stderr, "gemm_bench: --kernels, --image: no built-in kernels at this level\n");
        return 2;
    }
    if (bf16 && dpt_precision_check(DPT_PRECISION_BF16)) {
        fprintf(stderr, "gemm_bench: --bf16: %s\n", dpt_precision_check(DPT_PRECISION_BF16));
        return 2;
    }
    const size_t n_shapes =
        argc > first ? (size_t)(argc - first) : sizeof defaults / sizeof defaults[0];
    const size_t floats = dpt_gemm_pack_floats();
    float *pack = floats ? aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64) : NULL;
    dpt_gemm_pack_use(pack, floats);
    dpt_blas_single_thread();
    printf("# %s; packed GEMM %s\n", dpt_blas_info(),
           pack && dpt_gemm_rows_available() ? "available" : "not available (BLAS only)");
    static const char *const heads[4][2] = {{"BLAS GF/s", "dpt GF/s"},
                                            {"fp32 GF/s", "bf16 GF/s"},
                                            {"packed GF/s", "small GF/s"},
                                            {"packing GF/s", "image GF/s"}};
    const int mode = bf16 ? 1 : kernels ? 2 : image ? 3 : 0;
    printf("%-18s %11s %11s %7s%s\n", "shape", heads[mode][0], heads[mode][1], "ratio",
           cold ? "  (cold operands)" : "");
    double sum_blas = 0.0, sum_dpt = 0.0;
    for (size_t s = 0; s < n_shapes; s++) {
        const char *name = argc > first ? argv[first + (int)s] : defaults[s];
        struct shape sh;
        if (parse(name, &sh) != 0) {
            fprintf(stderr, "gemm_bench: '%s' is not a shape like NT:256x1024x784\n", name);
            return 2;
        }
        if (image && (sh.ta || !dpt_gemm_image_pays(0, sh.tb, sh.m, sh.n, sh.k))) {
            fprintf(stderr, "gemm_bench: --image: %s does not read an image of op(A)\n", name);
            return 2;
        }
        const size_t lda = sh.ta ? sh.m : sh.k, ldb = sh.tb ? sh.k : sh.n;
        const size_t fa = sh.m * sh.k, fb = sh.n * sh.k, fab = fa + fb;
        const size_t copies = cold && fab < ((size_t)16 << 20) ? ((size_t)16 << 20) / fab : 1;
        float *ab = malloc(copies * fab * sizeof *ab), *c = calloc(sh.m * sh.n, sizeof *c);
        double *tb = malloc((size_t)rounds * sizeof *tb), *td = malloc((size_t)rounds * sizeof *td);
        if (!ab || !c || !tb || !td) {
            fprintf(stderr, "gemm_bench: out of memory\n");
            return 2;
        }
        for (size_t i = 0; i < copies * fab; i++)
            ab[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        const size_t fi = image ? dpt_gemm_image_floats(sh.m, sh.k) : 0;
        float *imgs =
            image ? aligned_alloc(64, (copies * fi * sizeof(float) + 63) / 64 * 64) : NULL;
        if (image && !imgs) {
            fprintf(stderr, "gemm_bench: out of memory\n");
            return 2;
        }
        for (size_t q = 0; q < copies && image; q++)
            dpt_gemm_pack_a_image(sh.m, sh.k, ab + q * fab, lda, 0, sh.k, imgs + q * fi);
        const double flop = 2.0 * (double)sh.m * (double)sh.n * (double)sh.k;
        const int calls = (int)(1e10 / flop) + 1; // ~0.1 s at 100 GFLOP/s
        for (int r = 0; r < rounds; r++)
            for (int who = 0; who < 2; who++) {
                const double t = now();
                for (int q = 0; q < calls; q++) {
                    const float *a = ab + (size_t)q % copies * fab, *b = a + fa;
                    run(mode, who, &sh, a, lda, b, ldb, c, pack, floats,
                        image ? imgs + (size_t)q % copies * fi : NULL);
                }
                (who ? td : tb)[r] = now() - t;
            }
        qsort(tb, (size_t)rounds, sizeof *tb, cmp_double);
        qsort(td, (size_t)rounds, sizeof *td, cmp_double);
        const double mb = tb[rounds / 2], md = td[rounds / 2];
        sum_blas += mb;
        sum_dpt += md;
        printf("%-18s %11.1f %11.1f %6.3fx\n", name, flop * calls / mb * 1e-9,
               flop * calls / md * 1e-9, mb / md);
        free(ab);
        free(imgs);
        free(c);
        free(tb);
        free(td);
    }
    printf("%-18s %11s %11s %6.3fx\n", "all (time)", "", "", sum_blas / sum_dpt);
    dpt_gemm_pack_use(NULL, 0);
    free(pack);
    return 0;
}
