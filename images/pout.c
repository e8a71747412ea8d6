// SPDX-License-Identifier: MIT
/*
 * pout.c: the output stage of the page store: large sequential writes,
 * O_DIRECT through an aligned staging buffer when the filesystem allows it
 * (no page-cache copy), and a running XXH3 of every byte so that commit
 * need not read the file back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgint.h"
#include "util.h"

#define POUT_ALIGN	4096
#define POUT_STAGE	(8u << 20)

int pout_open(struct pout *o, int fd, const char *name, int try_direct)
{
	int fl;

	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->name = name;
	o->h = XXH3_createState();
	if (!o->h)
		return img_err(-ENOMEM, "no memory for a hash state");
	XXH3_64bits_reset(o->h);
	fl = fcntl(fd, F_GETFL);
	if (!try_direct || fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT))
		return 0;	/* buffered */
	o->stage = aligned_alloc(POUT_ALIGN, POUT_STAGE);
	if (!o->stage) {
		fcntl(fd, F_SETFL, fl);
		return 0;
	}
	o->cap = POUT_STAGE;
	o->direct = 1;
	return 0;
}

/* Leaves O_DIRECT (tail writes, or a filesystem that refuses it). */
static int pout_buffered(struct pout *o)
{
	int fl = fcntl(o->fd, F_GETFL);

	if (fl < 0 || fcntl(o->fd, F_SETFL, fl & ~O_DIRECT))
		return img_err(-errno, "'%s': cannot leave O_DIRECT", o->name);
	o->direct = 0;
	return 0;
}

static int pout_pwrite(struct pout *o, const void *p, size_t len, uint64_t off)
{
	int ret = pwrite_full(o->fd, p, len, off);

	if (ret == -EINVAL && o->direct) {	/* alignment refused: go buffered */
		ret = pout_buffered(o);
		if (!ret)
			ret = pwrite_full(o->fd, p, len, off);
	}
	if (ret)
		return img_err(ret, "'%s': write of %zu bytes at offset %llu", o->name, len,
			       (unsigned long long)off);
	return 0;
}

/* Writes the aligned part of the stage; keeps the tail (< POUT_ALIGN) at its start. */
static int pout_flush(struct pout *o)
{
	size_t n = ALIGN_DOWN(o->len, (size_t)POUT_ALIGN);
	int ret;

	if (!n)
		return 0;
	ret = pout_pwrite(o, o->stage, n, o->stage_off);
	if (ret)
		return ret;
	memmove(o->stage, o->stage + n, o->len - n);
	o->len -= n;
	o->stage_off += n;
	return 0;
}

static int pout_stage(struct pout *o, const uint8_t *p, size_t len)
{
	while (len) {
		size_t n = MIN(len, o->cap - o->len);
		int ret;

		memcpy(o->stage + o->len, p, n);
		o->len += n;
		p += n;
		len -= n;
		if (o->len == o->cap && (ret = pout_flush(o)))
			return ret;
	}
	return 0;
}

int pout_writev(struct pout *o, const struct iovec *iov, int n)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		XXH3_64bits_update(o->h, iov[i].iov_base, iov[i].iov_len);
		if (o->stage) {
			ret = pout_stage(o, iov[i].iov_base, iov[i].iov_len);
		} else {
			ret = pwrite_full(o->fd, iov[i].iov_base, iov[i].iov_len, o->off);
			if (ret)
				img_err(ret, "'%s': write of %zu bytes at offset %llu", o->name,
					iov[i].iov_len, (unsigned long long)o->off);
		}
		if (ret)
			return ret;
		o->off += iov[i].iov_len;
	}
	return 0;
}

int pout_close(struct pout *o, uint64_t *size, uint64_t *hash)
{
	int ret = 0;

	if (o->stage) {
		ret = o->direct ? pout_flush(o) : 0;
		if (!ret && o->direct && o->len)
			ret = pout_buffered(o);
		if (!ret && o->len)
			ret = pout_pwrite(o, o->stage, o->len, o->stage_off);
	}
	if (!ret && close(o->fd))
		ret = img_err(-errno, "'%s': close failed", o->name);
	o->fd = -1;
	*size = o->off;
	*hash = XXH3_64bits_digest(o->h);
	return ret;
}

void pout_release(struct pout *o)
{
	close_safe(&o->fd);
	free(o->stage);
	XXH3_freeState(o->h);
	o->stage = NULL;
	o->h = NULL;
}
