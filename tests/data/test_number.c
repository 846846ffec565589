// The fast decimal parser behind the CSV and LIBSVM loaders must agree bit for bit with strtod
// wherever it answers, and must decline what it cannot do exactly.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"

// Checks one string: when the fast path answers, the value and the end equal strtod's.
static void agree(const char *s)
{
    const char *fend;
    double fast;
    char *send;
    double slow = strtod(s, &send);
    if (dpt_data_fast_number(s, &fend, &fast)) {
        cr_assert_eq(fend, send, "'%s': fast path ends at %td, strtod at %td", s, fend - s,
                     send - s);
        cr_assert_eq(memcmp(&fast, &slow, sizeof fast), 0, "'%s': %.17g vs strtod %.17g", s, fast,
                     slow);
    }
}

Test(data, fast_number_matches_strtod)
{
    const char *fixed[] = {"0",
                           "-0",
                           "+0.0",
                           "1",
                           "-1",
                           "3.14159",
                           "1e22",
                           "1e-22",
                           "9007199254740991",
                           "0.1",
                           "123.456e-7",
                           ".5",
                           "5.",
                           "1E+3",
                           "-2.5e-3",
                           "255",
                           "0.003921568627451",
                           "1e23",
                           "1e-23",
                           "12345678901234567890",
                           "00001.2500",
                           "7e0"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        agree(fixed[i]);
    // Random decimals of varied length and exponent (seeded, so reproducible).
    srand(12345);
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        int digits = 1 + rand() % 17, point = rand() % (digits + 1), pos = 0;
        if (rand() % 2)
            buf[pos++] = '-';
        for (int d = 0; d < digits; d++) {
            if (d == point)
                buf[pos++] = '.';
            buf[pos++] = (char)('0' + rand() % 10);
        }
        if (rand() % 3 == 0)
            pos += snprintf(buf + pos, sizeof buf - (size_t)pos, "e%d", rand() % 61 - 30);
        buf[pos] = '\0';
        agree(buf);
    }
}

Test(data, fast_number_declines_what_it_cannot_do)
{
    const char *end;
    double v;
    const char *declined[] = {
        "", "-", ".", "e5", "inf", "nan", "1e23", "1e-23", "12345678901234567890", "1e", "1e+"};
    for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++)
        cr_assert_eq(dpt_data_fast_number(declined[i], &end, &v), 0, "'%s'", declined[i]);
    // Hex stops after the "0": the end is not the terminator, so callers fall back to strtod.
    cr_assert_eq(dpt_data_fast_number("0x10", &end, &v), 1);
    cr_assert_eq(*end, 'x');
    double out;
    cr_assert_eq(dpt_data_parse_number("0x10", &out), DPT_NUM_OK);
    cr_assert_eq(out, 16.0);
    cr_assert_eq(dpt_data_parse_number("2.5", &out), DPT_NUM_OK);
    cr_assert_eq(out, 2.5);
    cr_assert_eq(dpt_data_parse_number("1e39", &out), DPT_NUM_FLOATRANGE);
    // Nonzero values that a float would hold as 0 are refused too (issue 14, class 12); the
    // smallest subnormal and zero itself are not.
    cr_assert_eq(dpt_data_parse_number("1e-50", &out), DPT_NUM_FLOATRANGE);
    cr_assert_eq(dpt_data_parse_number("-7e-46", &out), DPT_NUM_FLOATRANGE);
    cr_assert_eq(dpt_data_parse_number("1.5e-45", &out), DPT_NUM_OK);
    cr_assert_eq((float)out, 1.4e-45f);
    cr_assert_eq(dpt_data_parse_number("1e-40", &out), DPT_NUM_OK);
    cr_assert_eq(dpt_data_parse_number("0e-50", &out), DPT_NUM_OK);
    cr_assert_eq(dpt_data_parse_number("-0.0", &out), DPT_NUM_OK);
    cr_assert_eq(dpt_data_parse_number("-inf", &out), DPT_NUM_NONFINITE);
    cr_assert_eq(dpt_data_parse_number("1.2.3", &out), DPT_NUM_BAD);
}
