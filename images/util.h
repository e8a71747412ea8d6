/* SPDX-License-Identifier: MIT */
/*
 * Small helpers used everywhere: checked arithmetic, safe close, full
 * read/write loops. No allocation policy lives here.
 */
#ifndef CM_UTIL_H
#define CM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))

/* Returns true on overflow (as __builtin_*_overflow). */
#define add_overflow(a, b, res) __builtin_add_overflow(a, b, res)
#define mul_overflow(a, b, res) __builtin_mul_overflow(a, b, res)

/* Closes *fd when >= 0 and sets it to -1. Accepts -1. Keeps errno. */
void close_safe(int *fd);

/*
 * Loops over short reads/writes and EINTR. Return 0 or -errno;
 * read_full returns -ENODATA on EOF before len bytes.
 */
int write_full(int fd, const void *buf, size_t len);
int read_full(int fd, void *buf, size_t len);
int pread_full(int fd, void *buf, size_t len, off_t off);
int pwrite_full(int fd, const void *buf, size_t len, off_t off);

/*
 * Makes room for element nr of the array *arrp (elem bytes each, *cap
 * allocated): when nr == *cap the capacity doubles (first when 0) with
 * realloc. 0, -ENOMEM or -EOVERFLOW; *arrp and *cap are unchanged on
 * failure. No message: the caller names what it was growing.
 */
int array_grow(void *arrp, size_t *cap, size_t nr, size_t elem, size_t first);

/* Reads a whole small file (procfs) into a NUL-terminated malloc'd buffer. */
int read_file_str(const char *path, char **out, size_t *len, size_t max);

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

/* Page size of the running kernel. */
size_t page_size(void);

/* True when all len bytes at p are zero (len multiple of 8). */
int mem_is_zero(const void *p, size_t len);

#endif
