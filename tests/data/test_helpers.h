// Helpers shared by the data tests: a per-test temporary directory (created by the .init fixture,
// removed with its files by .fini, which criterion runs even when an assertion fails) and small
// file writers.
#ifndef DPT_TEST_DATA_HELPERS_H
#define DPT_TEST_DATA_HELPERS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dptrain/dptrain.h"

static char tmp_dir[64];

static inline void tmp_setup(void)
{
    strcpy(tmp_dir, "/tmp/dpt-test-data-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp failed");
}

static inline void tmp_teardown(void)
{
    DIR *d = opendir(tmp_dir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(tmp_dir);
}

// The path of `name` inside the temporary directory, in caller storage of 512 bytes.
static inline const char *tmp_path(char *buf, const char *name)
{
    snprintf(buf, 512, "%s/%s", tmp_dir, name);
    return buf;
}

// Writes len bytes to path, gzip-compressed when gz is nonzero.
static inline void write_bytes(const char *path, const void *data, size_t len, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        cr_assert_not_null(f, "gzopen %s", path);
        if (len)
            cr_assert_eq(gzwrite(f, data, (unsigned)len), (int)len);
        cr_assert_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f, "fopen %s", path);
        cr_assert_eq(fwrite(data, 1, len, f), len);
        cr_assert_eq(fclose(f), 0);
    }
}

// Writes a text file into the temporary directory and returns its path (caller storage).
static inline const char *write_text(char *buf, const char *name, const char *text)
{
    tmp_path(buf, name);
    write_bytes(buf, text, strlen(text), 0);
    return buf;
}

// Asserts that the last error message contains every non-NULL needle.
static inline void expect_msg(const char *a, const char *b, const char *c)
{
    const char *msg = dpt_last_error();
    const char *needles[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (needles[i])
            cr_expect_not_null(strstr(msg, needles[i]), "message '%s' lacks '%s'", msg, needles[i]);
}

#endif
