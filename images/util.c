// SPDX-License-Identifier: MIT
/*
 * util.c: fd loops, checked small-file reads, clocks and the zero check.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void close_safe(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	errno = saved;
}

/*
 * The one loop behind the four *_full() helpers: pos NULL means the file
 * position (read/write), else pread/pwrite at *pos (which may be "negative":
 * /proc/PID/mem takes unsigned offsets). A read stopping at EOF before len
 * bytes gives -ENODATA.
 */
static int rw_full(int fd, void *buf, size_t len, off_t *pos, int wr)
{
	char *p = buf;

	while (len) {
		ssize_t n;

		if (!pos)
			n = wr ? write(fd, p, len) : read(fd, p, len);
		else
			n = wr ? pwrite(fd, p, len, *pos) : pread(fd, p, len, *pos);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0 && !wr)
			return -ENODATA;
		p += n;
		len -= n;
		if (pos)
			*pos += n;
	}
	return 0;
}

int array_grow(void *arrp, size_t *cap, size_t nr, size_t elem, size_t first)
{
	void **arr = arrp;
	size_t ncap, bytes;
	void *na;

	if (nr < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : first;
	if (ncap <= nr || mul_overflow(ncap, elem, &bytes))
		return -EOVERFLOW;
	na = realloc(*arr, bytes);
	if (!na)
		return -ENOMEM;
	*arr = na;
	*cap = ncap;
	return 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	return rw_full(fd, (void *)buf, len, NULL, 1);
}

int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	return rw_full(fd, (void *)buf, len, &off, 1);
}

int read_full(int fd, void *buf, size_t len)
{
	return rw_full(fd, buf, len, NULL, 0);
}

int pread_full(int fd, void *buf, size_t len, off_t off)
{
	return rw_full(fd, buf, len, &off, 0);
}

int read_file_str(const char *path, char **out, size_t *lenp, size_t max)
{
	size_t cap = 4096, len = 0;
	char *buf = NULL;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap >= max) {
				ret = -EFBIG;
				goto out;
			}
			cap = MIN(cap * 2, max);
			nb = realloc(buf, cap + 1);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = 0;
	*out = buf;
	if (lenp)
		*lenp = len;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	close_safe(&fd);
	return ret;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

int mem_is_zero(const void *p, size_t len)
{
	const uint64_t *q = p;
	size_t i;

	for (i = 0; i + 4 <= len / 8; i += 4)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3])
			return 0;
	for (; i < len / 8; i++)
		if (q[i])
			return 0;
	return 1;
}
