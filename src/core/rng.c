// The RNG: xoshiro256** seeded through splitmix64, plus uniform, normal, bounded integers and a
// Fisher-Yates shuffle. Every stream is a pure function of the seed.
#include <math.h>

#include "dptrain/core.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void dpt_rng_seed(struct dpt_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

uint64_t dpt_rng_next(struct dpt_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double dpt_rng_uniform(struct dpt_rng *rng)
{
    return (double)(dpt_rng_next(rng) >> 11) * 0x1.0p-53;
}

double dpt_rng_normal(struct dpt_rng *rng)
{
    // Box-Muller with u1 in (0, 1] so log() is finite.
    double u1 = 1.0 - dpt_rng_uniform(rng);
    double u2 = dpt_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t dpt_rng_below(struct dpt_rng *rng, uint64_t n)
{
    // Rejection sampling: drop the lowest (2^64 mod n) values so every residue is equally likely.
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = dpt_rng_next(rng);
        if (x >= threshold)
            return x % n;
    }
}

void dpt_rng_shuffle(struct dpt_rng *rng, size_t *perm, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)dpt_rng_below(rng, i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
