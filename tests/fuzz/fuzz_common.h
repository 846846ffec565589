// Shared by the fuzz harnesses (tests/fuzz/fuzz_*.c): the loaders under test take paths, so each
// input is written to an anonymous in-memory file (memfd) and passed as /proc/self/fd/N. Nothing
// touches the file system, and a crashing input leaves no temporary file behind. Header-only.
#ifndef DPT_FUZZ_COMMON_H
#define DPT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

// The entry point libFuzzer (or tests/fuzz/replay.c) calls with each input.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// A memfd holding exactly `size` bytes of data, its path in `path`. One fd per slot, created on
// first use and rewritten for every input. Exits (fuzzing cannot go on) if the OS refuses.
struct fuzz_file {
    int fd;
    char path[64];
};

static inline const char *fuzz_file_set(struct fuzz_file *f, const uint8_t *data, size_t size)
{
    if (f->fd <= 0) {
        f->fd = memfd_create("dpt-fuzz", 0);
        if (f->fd < 0) {
            perror("memfd_create");
            exit(1);
        }
        snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
    }
    if (ftruncate(f->fd, 0) != 0 || (size > 0 && pwrite(f->fd, data, size, 0) != (ssize_t)size)) {
        perror("memfd write");
        exit(1);
    }
    return f->path;
}

#endif
