// SPDX-License-Identifier: MIT
/*
 * pout.c: the output stage of the page store: large sequential writes,
 * O_DIRECT through aligned staging buffers when the filesystem allows it
 * (no page-cache copy; one fills while a thread writes those already full),
 * and a running XXH3 of every byte so that commit need not read the file back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "imgint.h"
#ifdef __x86_64__
#include <xxh_x86dispatch.h>	/* XXH3 with AVX2/AVX-512 when the CPU has them */
#endif
#include "util.h"

#define POUT_ALIGN	4096
#define POUT_STAGE	(2u << 20)
/* Bytes copied into the stage before they are hashed there, still in cache. */
#define POUT_HASH_STEP	(128u << 10)

#define POUT_NBUF	4

/*
 * The I/O thread: writes the full stages queued behind the one being filled,
 * all that are queued in one pwritev, so a slow disk sees large requests.
 */
struct pout_io {
	struct pout *o;
	pthread_t th;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint8_t *ring[POUT_NBUF];	/* full stages from head on, then the one filling */
	unsigned int head, queued;
	uint64_t off;			/* file offset of ring[head] */
	int stop, err;
	char errmsg[256];
};

#define HUGE_SZ		(2u << 20)

static int pout_pwrite(struct pout *o, const void *p, size_t len, uint64_t off);

/*
 * Buffers reused for a whole dump: one fault per 2 MiB instead of 512 (fresh
 * pages are expensive under the balloon), and fewer TLB misses for the copies.
 */
void *img_huge_alloc(size_t len)
{
	size_t map = ALIGN_UP(len, (size_t)HUGE_SZ) + HUGE_SZ;
	uint8_t *p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)ALIGN_UP((uintptr_t)p, (uintptr_t)HUGE_SZ);
	if (a > p)
		munmap(p, a - p);
	map -= a - p;
	len = ALIGN_UP(len, (size_t)HUGE_SZ);
	if (map > len)
		munmap(a + len, map - len);
	madvise(a, len, MADV_HUGEPAGE);	/* a hint: plain pages otherwise */
	return a;
}

void img_huge_free(void *p, size_t len)
{
	if (p)
		munmap(p, ALIGN_UP(len, (size_t)HUGE_SZ));
}

static int pout_pwritev(struct pout *o, uint8_t *const *bufs, unsigned int n, uint64_t off)
{
	struct iovec iov[POUT_NBUF];
	unsigned int i;
	ssize_t w;

	for (i = 0; i < n; i++)
		iov[i] = (struct iovec){ bufs[i], POUT_STAGE };
	do
		w = pwritev(o->fd, iov, (int)n, (off_t)off);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)n * POUT_STAGE)
		return 0;
	/* Short, refused or failed: one stage at a time, with pout_pwrite's fallbacks. */
	for (i = 0; i < n; i++) {
		int ret = pout_pwrite(o, bufs[i], POUT_STAGE, off + (uint64_t)i * POUT_STAGE);

		if (ret)
			return ret;
	}
	return 0;
}

static void *pout_io_thread(void *arg)
{
	struct pout_io *io = arg;

	pthread_mutex_lock(&io->lock);
	for (;;) {
		uint8_t *bufs[POUT_NBUF];
		unsigned int n, i;
		uint64_t off;
		int ret;

		while (!io->queued && !io->stop)
			pthread_cond_wait(&io->cond, &io->lock);
		if (!io->queued)
			break;
		n = io->queued;
		off = io->off;
		for (i = 0; i < n; i++)
			bufs[i] = io->ring[(io->head + i) % POUT_NBUF];
		pthread_mutex_unlock(&io->lock);
		ret = pout_pwritev(io->o, bufs, n, off);
		pthread_mutex_lock(&io->lock);
		if (ret && !io->err) {
			io->err = ret;
			snprintf(io->errmsg, sizeof(io->errmsg), "%s", img_strerror());
		}
		io->head = (io->head + n) % POUT_NBUF;
		io->queued -= n;
		io->off += (uint64_t)n * POUT_STAGE;
		pthread_cond_broadcast(&io->cond);
	}
	pthread_mutex_unlock(&io->lock);
	return NULL;
}

/* Waits until every queued stage is written; returns the first write error. */
static int pout_io_wait(struct pout *o)
{
	struct pout_io *io = o->io;
	int ret;

	if (!io)
		return 0;
	pthread_mutex_lock(&io->lock);
	while (io->queued)
		pthread_cond_wait(&io->cond, &io->lock);
	ret = io->err;
	pthread_mutex_unlock(&io->lock);
	return ret ? img_err(ret, "%s", io->errmsg) : 0;
}

static void pout_io_free(struct pout *o)
{
	struct pout_io *io = o->io;
	unsigned int i;

	if (!io)
		return;
	if (io->started) {
		pthread_mutex_lock(&io->lock);
		io->stop = 1;
		pthread_cond_broadcast(&io->cond);
		pthread_mutex_unlock(&io->lock);
		pthread_join(io->th, NULL);
	}
	pthread_mutex_destroy(&io->lock);
	pthread_cond_destroy(&io->cond);
	for (i = 0; i < POUT_NBUF; i++)
		if (io->ring[i] != o->stage)	/* the stage is pout_release's */
			img_huge_free(io->ring[i], POUT_STAGE);
	free(io);
	o->io = NULL;
}

/* More stages and their thread; without them writes stay synchronous. */
static void pout_io_start(struct pout *o)
{
	struct pout_io *io = calloc(1, sizeof(*io));
	unsigned int i;

	if (!io)
		return;
	io->o = o;
	pthread_mutex_init(&io->lock, NULL);
	pthread_cond_init(&io->cond, NULL);
	o->io = io;
	io->off = o->stage_off;
	io->ring[0] = o->stage;
	for (i = 1; i < POUT_NBUF; i++)
		if (!(io->ring[i] = img_huge_alloc(POUT_STAGE)))
			break;
	if (i == POUT_NBUF && !pthread_create(&io->th, NULL, pout_io_thread, io)) {
		io->started = 1;
		return;
	}
	pout_io_free(o);
}

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
	o->stage = img_huge_alloc(POUT_STAGE);
	if (!o->stage) {
		fcntl(fd, F_SETFL, fl);
		return 0;
	}
	o->cap = POUT_STAGE;
	o->direct = 1;
	pout_io_start(o);
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

/* Queues the full stage for the I/O thread and continues in a free one. */
static int pout_swap(struct pout *o)
{
	struct pout_io *io = o->io;
	int ret;

	if (!io)
		return pout_flush(o);
	pthread_mutex_lock(&io->lock);
	while (io->queued == POUT_NBUF - 1 && !io->err)
		pthread_cond_wait(&io->cond, &io->lock);
	ret = io->err;
	if (!ret) {
		io->queued++;
		o->stage = io->ring[(io->head + io->queued) % POUT_NBUF];
		pthread_cond_signal(&io->cond);
	}
	pthread_mutex_unlock(&io->lock);
	if (ret)
		return img_err(ret, "%s", io->errmsg);
	o->stage_off += o->len;
	o->len = 0;
	return 0;
}

static int pout_stage(struct pout *o, const uint8_t *p, size_t len)
{
	while (len) {
		size_t n = MIN(MIN(len, o->cap - o->len), (size_t)POUT_HASH_STEP);
		int ret;

		memcpy(o->stage + o->len, p, n);
		XXH3_64bits_update(o->h, o->stage + o->len, n);
		o->len += n;
		p += n;
		len -= n;
		if (o->len == o->cap && (ret = pout_swap(o)))
			return ret;
	}
	return 0;
}

int pout_writev(struct pout *o, const struct iovec *iov, int n)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		if (o->stage) {
			ret = pout_stage(o, iov[i].iov_base, iov[i].iov_len);
		} else {
			XXH3_64bits_update(o->h, iov[i].iov_base, iov[i].iov_len);
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
	int ret = pout_io_wait(o);

	if (!ret && o->stage) {
		ret = o->direct ? pout_flush(o) : 0;
		if (!ret && o->direct && o->len)
			ret = pout_buffered(o);
		if (!ret && o->len)
			ret = pout_pwrite(o, o->stage, o->len, o->stage_off);
	}
	pout_io_free(o);
	if (close(o->fd) && !ret)
		ret = img_err(-errno, "'%s': close failed", o->name);
	o->fd = -1;
	*size = o->off;
	*hash = XXH3_64bits_digest(o->h);
	return ret;
}

void pout_release(struct pout *o)
{
	pout_io_free(o);
	close_safe(&o->fd);
	img_huge_free(o->stage, POUT_STAGE);
	XXH3_freeState(o->h);
	o->stage = NULL;
	o->h = NULL;
}
