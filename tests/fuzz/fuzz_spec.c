// libFuzzer harness for the data SPEC parser (dpt_data_load): each input is a spec string.
//
// A spec names files, so the harness must keep the fuzzer from reading arbitrary ones (stdin,
// /dev/zero, the real Fashion-MNIST set) or making absurd synthetic sets. Before the spec reaches
// the library it is screened, using the parser's own split points (KIND ':' ARGS, then ','):
//  - csv and libsvm: the PATH must be one of the placeholders @csv, @svm, @img, @lab, @npx, @npy,
//    which the harness replaces by small fixture files it writes at start-up (in-memory files,
//    like the inputs of the other harnesses);
//  - idx and npy: both paths must be placeholders (@npx is a 3 x 2 float32 array, @npy 3 int64
//    labels);
//  - synth: every n=VALUE, and libsvm: every features=VALUE, must be at most 4096: they size the
//    data set as asked (features=666666665 is a valid request for 8 GB per 3 rows, which is what
//    the fuzzer found first), so only the memory limit would learn anything from larger ones;
//  - fashion-mnist: skipped (it reads a 30 MB data set);
//  - anything else goes through as it is: unknown kinds and malformed specs never open a file.
// Screened-out inputs return early. Everything after the path (options, their values, the
// separators) is the parser's alone, which is what this harness is for.
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "dptrain/dptrain.h"
#include "fuzz_common.h"

#define SIZE_OPTION_MAX 4096

#define N_FIXTURES 6
static struct fuzz_file fixture[N_FIXTURES];
static const char *const placeholder[N_FIXTURES] = {"@csv", "@svm", "@img", "@lab", "@npx", "@npy"};

// An NPY 1.0 file: magic, version, header length, the dict padded to 64 bytes, then len bytes.
static void npy_fixture(struct fuzz_file *f, const char *dict, const void *data, size_t len)
{
    unsigned char buf[128];
    const size_t n = strlen(dict);
    memcpy(buf, "\x93NUMPY\x01\x00\x36\x00", 10);
    memset(buf + 10, ' ', 54);
    memcpy(buf + 10, dict, n);
    buf[63] = '\n';
    memcpy(buf + 64, data, len);
    fuzz_file_set(f, buf, 64 + len);
}

// The fixtures are memfds too (see fuzz_common.h): nothing to clean up, even after a crash.
static void setup(void)
{
    static const char csv[] = "a,b,c\n1,2,0\n3,4,1\n5,6,0\n";
    static const char svm[] = "1 1:0.5 3:2\n0 2:1\n1 1:1 2:1 3:1\n";
    static const unsigned char img[] = {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6};
    static const unsigned char lab[] = {0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 0};
    fuzz_file_set(&fixture[0], (const uint8_t *)csv, sizeof csv - 1);
    fuzz_file_set(&fixture[1], (const uint8_t *)svm, sizeof svm - 1);
    fuzz_file_set(&fixture[2], img, sizeof img);
    fuzz_file_set(&fixture[3], lab, sizeof lab);
    static const float x[6] = {1, 2, 3, 4, 5, 6};
    static const int64_t y[3] = {0, 1, 0};
    npy_fixture(&fixture[4], "{'descr':'<f4','fortran_order':False,'shape':(3,2)}", x, sizeof x);
    npy_fixture(&fixture[5], "{'descr':'<i8','fortran_order':False,'shape':(3,)}", y, sizeof y);
}

// The fixture path for a placeholder token [s, s + len), or NULL.
static const char *resolve(const char *s, size_t len)
{
    for (int i = 0; i < N_FIXTURES; i++)
        if (strlen(placeholder[i]) == len && memcmp(s, placeholder[i], len) == 0)
            return fixture[i].path;
    return NULL;
}

// Appends [s, s + len) to out (capacity checked by the caller's sizing).
static char *put(char *out, const char *s, size_t len)
{
    memcpy(out, s, len);
    return out + len;
}

// Nonzero when some comma-separated option KEY=VALUE of args has a VALUE above SIZE_OPTION_MAX.
static int option_too_big(const char *args, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = args; p; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            errno = 0;
            unsigned long long v = strtoull(p + klen + 1, NULL, 10);
            if (errno == ERANGE || v > SIZE_OPTION_MAX)
                return 1;
        }
    }
    return 0;
}

// Screens the spec and writes the one to load into out (room for strlen(spec) + 2 * 64).
// Returns 0 to skip the input.
static int screen(const char *spec, char *out)
{
    const char *colon = strchr(spec, ':');
    size_t kind_len = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *args = colon ? colon + 1 : NULL;
#define KIND_IS(k) (kind_len == strlen(k) && memcmp(spec, k, kind_len) == 0)
    if (KIND_IS("fashion-mnist"))
        return 0;
    if (args && (KIND_IS("csv") || KIND_IS("libsvm"))) {
        if (option_too_big(args, "features"))
            return 0;
        const char *comma = strchr(args, ',');
        size_t path_len = comma ? (size_t)(comma - args) : strlen(args);
        const char *path = resolve(args, path_len);
        if (!path)
            return 0;
        char *o = put(out, spec, (size_t)(args - spec));
        o = put(o, path, strlen(path));
        strcpy(o, args + path_len);
        return 1;
    }
    if (args && KIND_IS("idx")) {
        const char *comma = strchr(args, ',');
        if (!comma)
            return 0;
        const char *a = resolve(args, (size_t)(comma - args));
        const char *b = resolve(comma + 1, strlen(comma + 1));
        if (!a || !b)
            return 0;
        sprintf(out, "idx:%s,%s", a, b);
        return 1;
    }
    if (args && KIND_IS("npy")) { // npy:X,Y[,options]: the options are the parser's
        const char *comma = strchr(args, ',');
        if (!comma)
            return 0;
        const char *rest = strchr(comma + 1, ',');
        const size_t ylen = rest ? (size_t)(rest - comma - 1) : strlen(comma + 1);
        const char *a = resolve(args, (size_t)(comma - args));
        const char *b = resolve(comma + 1, ylen);
        if (!a || !b)
            return 0;
        sprintf(out, "npy:%s,%s%s", a, b, rest ? rest : "");
        return 1;
    }
    if (args && KIND_IS("synth") && option_too_big(args, "n"))
        return 0;
#undef KIND_IS
    strcpy(out, spec);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    char *spec = malloc(size + 1), *load = malloc(size + 1 + 2 * sizeof fixture[0].path);
    if (!spec || !load)
        goto done;
    memcpy(spec, data, size);
    spec[size] = '\0';
    if (screen(spec, load)) {
        struct dpt_dataset *ds = NULL;
        for (int test = 0; test <= 1; test++) {
            if (dpt_data_load(load, test, &ds) == DPT_OK && dpt_dataset_n(ds) == 0)
                abort(); // a loaded set has samples
            dpt_dataset_destroy(ds);
            ds = NULL;
        }
    }
done:
    free(spec);
    free(load);
    return 0;
}
