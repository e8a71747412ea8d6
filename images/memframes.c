// SPDX-License-Identifier: MIT
/*
 * memframes.c: frame access for struct img_mem: checked frame loads, the
 * LRU frame cache behind img_mem_read(), and the parallel frame walk used
 * by restore and verify.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "imgint.h"
#include "util.h"

int mem_frame_load(struct img_mem *m, const struct img_frame *f, void *dst, void *scratch,
		   ZSTD_DCtx *dctx)
{
	const char *name = m->cache->pages_name;
	unsigned long long id = f->id;
	uint8_t hbuf[IMG_FRAME_HDR_SIZE];
	struct img_frame_hdr h;
	void *payload = (f->flags & FRAME_ZSTD) ? scratch : dst;
	int ret;

	if (!f->raw_len)
		return img_err(-EBADMSG, "'%s': frame %llu: invalid index entry", name, id);
	ret = pread_full(m->pages_fd, hbuf, sizeof(hbuf), f->file_offset);
	if (!ret)
		ret = pread_full(m->pages_fd, payload, f->stored_len,
				 f->file_offset + IMG_FRAME_HDR_SIZE);
	if (ret == -ENODATA)
		return img_err(-EBADMSG, "'%s': frame %llu: truncated", name, id);
	if (ret)
		return img_err(ret, "'%s': frame %llu: read failed", name, id);
	ret = img_frame_hdr_decode(hbuf, sizeof(hbuf), &h, name, f->file_offset);
	if (ret)
		return img_err(ret, "frame %llu: %s", id, img_strerror());
	if (h.id != f->id || h.flags != f->flags || h.raw_len != f->raw_len ||
	    h.stored_len != f->stored_len || h.xxh3 != f->xxh3)
		return img_err(-EBADMSG, "'%s': frame %llu: header differs from its index entry",
			       name, id);
	if (img_frame_hash(payload, f->stored_len) != f->xxh3)
		return img_err(-EBADMSG, "'%s': frame %llu: payload checksum mismatch", name, id);
	if (f->flags & FRAME_ZSTD) {
		ret = zio_frame_decompress(dctx, dst, f->raw_len, payload, f->stored_len);
		if (ret)
			return img_err(ret, "'%s': frame %llu: %s", name, id, img_strerror());
	}
	return 0;
}

int img_mem_read_frame(struct img_mem *m, uint64_t id, void *buf)
{
	ZSTD_DCtx *dctx;
	void *scratch;
	int ret;

	if (id >= m->nr_frames)
		return img_err(-ENOENT, "frame %llu does not exist", (unsigned long long)id);
	dctx = ZSTD_createDCtx();
	scratch = malloc(m->frames[id].stored_len ? m->frames[id].stored_len : 1);
	if (!dctx || !scratch)
		ret = img_err(-ENOMEM, "no memory to read frame %llu", (unsigned long long)id);
	else
		ret = mem_frame_load(m, &m->frames[id], buf, scratch, dctx);
	ZSTD_freeDCtx(dctx);
	free(scratch);
	return ret;
}

int mem_group_runs(struct img_mem *m)
{
	struct img_mem_cache *mc = m->cache;
	size_t i, *pos;

	mc->fr_start = calloc(m->nr_frames + 2, sizeof(*mc->fr_start));
	mc->fr_runs = calloc(m->nr_runs + 1, sizeof(*mc->fr_runs));
	if (!mc->fr_start || !mc->fr_runs)
		return img_err(-ENOMEM, "no memory for the frame index");
	for (i = 0; i < m->nr_runs; i++)
		if (m->runs[i].flags == PE_PRESENT)
			mc->fr_start[m->runs[i].frame + 2]++;
	for (i = 2; i < m->nr_frames + 2; i++)
		mc->fr_start[i] += mc->fr_start[i - 1];
	pos = mc->fr_start + 1;	/* fill position per frame, ends as fr_start[f + 1] */
	for (i = 0; i < m->nr_runs; i++)
		if (m->runs[i].flags == PE_PRESENT)
			mc->fr_runs[pos[m->runs[i].frame]++] = &m->runs[i];
	return 0;
}

/* Returns the decompressed frame through the cache; call with mc->lock held. */
static int cache_get(struct img_mem *m, uint64_t id, const uint8_t **data)
{
	struct img_mem_cache *mc = m->cache;
	int i, victim = 0, ret;

	for (i = 0; i < IMG_MEM_CACHE_SLOTS; i++) {
		if (mc->slot[i].valid && mc->slot[i].id == id) {
			mc->slot[i].stamp = ++mc->clock;
			*data = mc->slot[i].buf;
			return 0;
		}
		if (!mc->slot[i].valid || mc->slot[i].stamp < mc->slot[victim].stamp)
			victim = i;
		if (!mc->slot[i].valid)
			break;
	}
	if (!mc->dctx) {
		mc->dctx = ZSTD_createDCtx();
		mc->scratch = malloc(mc->max_stored ? mc->max_stored : 1);
		if (!mc->dctx || !mc->scratch)
			return img_err(-ENOMEM, "no memory for the frame cache");
	}
	if (!mc->slot[victim].buf) {
		mc->slot[victim].buf = malloc(mc->max_raw ? mc->max_raw : 1);
		if (!mc->slot[victim].buf)
			return img_err(-ENOMEM, "no memory for the frame cache");
	}
	mc->slot[victim].valid = 0;
	ret = mem_frame_load(m, &m->frames[id], mc->slot[victim].buf, mc->scratch, mc->dctx);
	if (ret)
		return ret;
	mc->slot[victim] = (typeof(mc->slot[0])){ id, ++mc->clock, mc->slot[victim].buf, 1 };
	*data = mc->slot[victim].buf;
	return 0;
}

static void bit_set(uint8_t *bm, uint64_t i)
{
	bm[i / 8] |= 1u << (i % 8);
}

/* Copies [cur, cur + n) from run r (n within r). Returns absent pages or -errno. */
static long read_chunk(struct img_mem *m, const struct img_run *r, uint64_t cur, char *dst,
		       size_t n)
{
	uint64_t pg = (cur - r->vaddr) / m->page_size;
	struct img_mem *p;
	const uint8_t *data = NULL;
	long ret;

	switch (r->flags) {
	case PE_ZERO:
		memset(dst, 0, n);
		return 0;
	case PE_PRESENT:
		ret = cache_get(m, r->frame, &data);
		if (ret)
			return ret;
		memcpy(dst, data + (r->offset + pg) * m->page_size + (cur - r->vaddr) % m->page_size,
		       n);
		return 0;
	case PE_PARENT:
		if (img_mem_parent(m, &p))
			return 1;	/* parent unavailable: absent */
		ret = img_mem_read(p, cur, dst, n, NULL);
		return ret < 0 ? ret : ret > 0;
	default:
		return 1;
	}
}

long img_mem_read(struct img_mem *m, uint64_t addr, void *buf, size_t len, uint8_t *absent)
{
	uint64_t base = ALIGN_DOWN(addr, (uint64_t)m->page_size), cur = addr, end;
	long nr_absent = 0, ret = 0;
	char *out = buf;

	if (add_overflow(addr, (uint64_t)len, &end))
		return img_err(-EOVERFLOW, "read of %zu bytes at %#llx wraps", len,
			       (unsigned long long)addr);
	if (absent)
		memset(absent, 0, ((end - base + m->page_size - 1) / m->page_size + 7) / 8);
	pthread_mutex_lock(&m->cache->lock);
	while (cur < end) {
		const struct img_run *r = img_mem_find_run(m, cur);
		uint64_t pend = ALIGN_DOWN(cur, (uint64_t)m->page_size) + m->page_size;
		size_t n;

		if (r && (r->flags == PE_ZERO || r->flags == PE_PRESENT))	/* whole run */
			pend = r->vaddr + r->nr_pages * m->page_size;
		n = MIN(pend, end) - cur;
		ret = r ? read_chunk(m, r, cur, out + (cur - addr), n) : 1;
		if (ret < 0)
			break;
		if (ret) {
			nr_absent++;
			if (absent)
				bit_set(absent, (cur - base) / m->page_size);
		}
		cur += n;
		ret = 0;
	}
	pthread_mutex_unlock(&m->cache->lock);
	return ret < 0 ? ret : nr_absent;
}

/* The parallel frame walk: workers fill a window of slots, the caller consumes in order. */
enum { SLOT_FREE, SLOT_BUSY, SLOT_DONE };

struct ff_slot {
	uint64_t idx;
	int state, err;
	uint8_t *buf;
	char msg[256];
};

struct ff_ctx {
	struct img_mem *m;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t next;
	size_t nr_slots;
	struct ff_slot *slots;
	int stop;
};

static void *ff_worker(void *arg)
{
	struct ff_ctx *c = arg;
	struct img_mem *m = c->m;
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	void *scratch = malloc(m->cache->max_stored ? m->cache->max_stored : 1);

	for (;;) {
		struct ff_slot *s;
		uint64_t i;
		int err;

		pthread_mutex_lock(&c->lock);
		while (!c->stop && c->next < c->m->nr_frames &&
		       c->slots[c->next % c->nr_slots].state != SLOT_FREE)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->stop || c->next >= c->m->nr_frames) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		i = c->next++;
		s = &c->slots[i % c->nr_slots];
		s->state = SLOT_BUSY;
		s->idx = i;
		pthread_mutex_unlock(&c->lock);

		if (!dctx || !scratch)
			err = img_err(-ENOMEM, "no memory to read frame %llu", (unsigned long long)i);
		else if (!m->frames[i].raw_len)
			err = 1;	/* invalid index entry, reported at load */
		else
			err = mem_frame_load(m, &m->frames[i], s->buf, scratch, dctx);

		pthread_mutex_lock(&c->lock);
		s->err = err;
		if (err < 0)
			snprintf(s->msg, sizeof(s->msg), "%s", img_strerror());
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	ZSTD_freeDCtx(dctx);
	free(scratch);
	return NULL;
}

/* With pcb set, frame errors are reported and counted instead of stopping the walk. */
static long ff_walk(struct img_mem *m, unsigned int threads, img_frame_cb cb, void *arg,
		    img_problem_cb pcb, void *parg)
{
	struct ff_ctx c = { .m = m };
	pthread_t tids[64];
	unsigned int nt = 0, i;
	long ret = 0, bad = 0;
	uint64_t f;

	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? n : 1;
	}
	threads = MIN(threads, 64u);
	c.nr_slots = 2 * threads;
	c.slots = calloc(c.nr_slots, sizeof(*c.slots));
	if (!c.slots)
		return img_err(-ENOMEM, "no memory for the frame walk");
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	for (i = 0; i < c.nr_slots; i++) {
		c.slots[i].buf = malloc(m->cache->max_raw ? m->cache->max_raw : 1);
		if (!c.slots[i].buf) {
			ret = img_err(-ENOMEM, "no memory for the frame walk");
			goto out;
		}
	}
	for (i = 0; i < threads; i++, nt++)
		if (pthread_create(&tids[i], NULL, ff_worker, &c)) {
			ret = img_err(-EAGAIN, "cannot start a frame thread");
			goto out;
		}
	for (f = 0; f < m->nr_frames; f++) {
		struct ff_slot *s = &c.slots[f % c.nr_slots];
		const size_t *st = m->cache->fr_start;

		pthread_mutex_lock(&c.lock);
		while (!(s->state == SLOT_DONE && s->idx == f))
			pthread_cond_wait(&c.cond, &c.lock);
		pthread_mutex_unlock(&c.lock);
		if (s->err < 0 && pcb) {
			pcb(parg, s->msg);
			bad++;
		} else if (s->err < 0) {
			ret = img_err(s->err, "%s", s->msg);
		} else if (!s->err && cb) {
			ret = cb(arg, &m->frames[f], s->buf, m->cache->fr_runs + st[f],
				 st[f + 1] - st[f]);
		}
		pthread_mutex_lock(&c.lock);
		s->state = SLOT_FREE;
		pthread_cond_broadcast(&c.cond);
		pthread_mutex_unlock(&c.lock);
		if (ret)
			break;
	}
out:
	pthread_mutex_lock(&c.lock);
	c.stop = 1;
	pthread_cond_broadcast(&c.cond);
	pthread_mutex_unlock(&c.lock);
	for (i = 0; i < nt; i++)
		pthread_join(tids[i], NULL);
	for (i = 0; i < c.nr_slots; i++)
		free(c.slots[i].buf);
	free(c.slots);
	pthread_mutex_destroy(&c.lock);
	pthread_cond_destroy(&c.cond);
	return ret ? ret : bad;
}

int img_mem_foreach_frame(struct img_mem *m, unsigned int threads, img_frame_cb cb, void *arg)
{
	return ff_walk(m, threads, cb, arg, NULL, NULL);
}

long img_mem_check_frames(struct img_mem *m, unsigned int threads, img_problem_cb cb, void *arg)
{
	return ff_walk(m, threads, NULL, NULL, cb, arg);
}
