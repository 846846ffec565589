// Helpers shared by the text loaders (CSV, LIBSVM): whole-file reading and number parsing.
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_impl.h"
#include "data/data_impl.h"

enum dpt_status dpt_data_read_all(const char *path, const char *name, char **buf_out,
                                  size_t *len_out)
{
    *buf_out = NULL;
    *len_out = 0;
    int is_stdin = strcmp(path, "-") == 0;
    enum dpt_status st = DPT_OK;
    char *buf = NULL;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return dpt_error(DPT_ERR_IO, "%s: cannot open: %s", name, strerror(errno));
    // A regular file is read in one piece of its own size; pipes, devices and FIFOs grow the
    // buffer as they go, up to a quarter of this machine's memory (csv:/dev/zero grew to 24 GB
    // until the kernel killed it; the data set made from the text can take twice its size). Text
    // has no NUL byte: the first one ends the read at once, so a binary file or device fails in its
    // first block.
    size_t cap = 1 << 16, len = 0, limit = DPT_DATA_MAX_BYTES;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            st = dpt_error(DPT_ERR_IO, "%s: cannot read: is a directory", name);
            goto cleanup;
        }
        if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
            if ((unsigned long long)sb.st_size >= DPT_DATA_MAX_BYTES) {
                st = dpt_error(DPT_ERR_RANGE, "%s: %lld bytes, more than the limit of %zu", name,
                               (long long)sb.st_size, (size_t)DPT_DATA_MAX_BYTES);
                goto cleanup;
            }
            cap = (size_t)sb.st_size + 2;
        }
        if (!S_ISREG(sb.st_mode)) {
            const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
            if (pages > 0 && page > 0 && (size_t)pages / 4 < limit / (size_t)page)
                limit = (size_t)pages / 4 * (size_t)page;
        }
    }
    buf = dpt_malloc(cap);
    if (!buf) {
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", name);
        goto cleanup;
    }
    for (;;) {
        if (cap - len < 2) {
            if (cap >= limit) {
                st = dpt_error(DPT_ERR_RANGE,
                               limit < DPT_DATA_MAX_BYTES
                                   ? "%s: more than %zu bytes, a quarter of this machine's memory, "
                                     "from a stream (a regular file may be larger)"
                                   : "%s: more than the limit of %zu bytes",
                               name, limit);
                goto cleanup;
            }
            char *bigger = dpt_realloc(buf, cap * 2);
            if (!bigger) {
                st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", name);
                goto cleanup;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        const char *nul = memchr(buf + len, '\0', got);
        if (nul) {
            st = dpt_error(DPT_ERR_FORMAT, "%s: byte offset %zu: NUL byte (not a text file?)", name,
                           (size_t)(nul - buf));
            goto cleanup;
        }
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                st = dpt_error(DPT_ERR_IO, "%s: read error at byte offset %zu: %s", name, len,
                               strerror(errno));
                goto cleanup;
            }
            break;
        }
    }
    buf[len] = '\0';
    *buf_out = buf;
    *len_out = len;
    buf = NULL;
cleanup:
    if (!is_stdin)
        fclose(f);
    dpt_free(buf);
    return st;
}

// Clinger's fast path: a decimal whose digits form an integer m < 2^53 and whose power of ten
// |e| <= 22 is exactly m * 10^e or m / 10^-e rounded once, since both operands are exact
// doubles; that is what strtod returns, so results are identical, at a fraction of the cost
// (CSV files are mostly such numbers). Anything else (long mantissas, big exponents, hex, inf,
// nan) returns 0 and goes to strtod.
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int dpt_data_fast_number(const char *s, const char **end, double *out)
{
    const uint64_t limit = ((uint64_t)1 << 53) / 10 - 1; // m * 10 + 9 stays below 2^53
    const char *p = s;
    int neg = 0, any = 0, exp10 = 0;
    uint64_t m = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    for (; *p >= '0' && *p <= '9'; p++, any = 1) {
        if (m > limit)
            return 0;
        m = m * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, any = 1) {
            if (m > limit)
                return 0;
            m = m * 10 + (uint64_t)(*p - '0');
            exp10--;
        }
    }
    if (!any)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        int eneg = 0, e = 0;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        if (*p < '0' || *p > '9')
            return 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (e > 1000)
                return 0;
            e = e * 10 + (*p - '0');
        }
        exp10 += eneg ? -e : e;
    }
    double v = (double)m;
    if (m != 0) {
        if (exp10 < -22 || exp10 > 22)
            return 0;
        v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    }
    *out = neg ? -v : v;
    *end = p;
    return 1;
}

enum dpt_num_result dpt_data_classify(double v)
{
    if (!isfinite(v))
        return DPT_NUM_NONFINITE;
    // Too large for a float, or so small that it would become 0 (below half the smallest
    // subnormal, 1.4e-45): either way not the value the file holds.
    if (fabs(v) > FLT_MAX || (v != 0.0 && (float)v == 0.0f))
        return DPT_NUM_FLOATRANGE;
    return DPT_NUM_OK;
}

enum dpt_num_result dpt_data_parse_number(const char *s, double *out)
{
    // strtod would skip leading space itself; callers trim, so a leading space here means the
    // cell was not a plain number.
    if (*s == '\0' || *s == ' ' || *s == '\t')
        return DPT_NUM_BAD;
    const char *fast_end;
    if (dpt_data_fast_number(s, &fast_end, out) && *fast_end == '\0')
        return dpt_data_classify(*out);
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return DPT_NUM_BAD;
    *out = v;
    return dpt_data_classify(v);
}

int dpt_data_is_label(double v)
{
    return isfinite(v) && v == floor(v) && v >= (double)INT32_MIN && v <= (double)INT32_MAX;
}

const char *dpt_data_name_problem(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char b = *p;
        if (b < 0x20 || b == 0x7f)
            return "a control character";
        if (b < 0x80) {
            p++;
            continue;
        }
        // The length of a UTF-8 sequence and the range of its second byte (which rules out
        // overlong forms, surrogates and code points above U+10FFFF).
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf;
        if (b >= 0xc2 && b <= 0xdf)
            len = 2;
        else if (b >= 0xe0 && b <= 0xef) {
            len = 3;
            lo = b == 0xe0 ? 0xa0 : 0x80;
            hi = b == 0xed ? 0x9f : 0xbf;
        } else if (b >= 0xf0 && b <= 0xf4) {
            len = 4;
            lo = b == 0xf0 ? 0x90 : 0x80;
            hi = b == 0xf4 ? 0x8f : 0xbf;
        } else {
            return "not valid UTF-8";
        }
        if (p[1] < lo || p[1] > hi)
            return "not valid UTF-8";
        for (size_t i = 2; i < len; i++)
            if (p[i] < 0x80 || p[i] > 0xbf)
                return "not valid UTF-8";
        p += len;
    }
    return NULL;
}
