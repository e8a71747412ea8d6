// SPDX-License-Identifier: MIT
/*
 * pstore.c: the page-store writer. The producer fills pooled frame buffers;
 * worker threads split out zero pages and compress each buffer into one
 * independent zstd frame; frames, index records and runs are appended in
 * submission order with large writes. Runs are merged with the one
 * before and streamed to pagemap-PID.img as their frame is written, so memory
 * does not depend on how many runs the target has. Whichever thread finds the
 * oldest frame done takes the writer's turn (no writer thread to wake).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>


#include "imgint.h"
#ifdef __x86_64__
#endif
#include "util.h"

#define PW_BATCH 8
/* Holes queued behind frames still being compressed; add_hole waits beyond. */
#define PW_MAX_HOLES 1024

struct pw_item {
	struct pstore_buf pub;		/* first: container of the public buffer */
	struct pw_item *next_work, *next_order, *next_free;
	int is_hole, done;
	struct img_run *out;		/* runs after the zero split; frame set at write */
	size_t nr_out;
	struct img_frame_hdr fh;	/* raw_len 0: no frame */
	uint8_t hdr[IMG_FRAME_HDR_SIZE];
	void *hold;			/* buffer owned until written: payload or raw data */
	const void *payload;
	struct img_run hole;
};

struct pstore_writer {
	struct pstore_opts o;
	size_t ps, frame_pages;
	unsigned int pid;
	pthread_mutex_t lock;
	pthread_cond_t cond_free, cond_work;
	struct pw_item *items;
	size_t nr_items;
	void **bufs, **pool;		/* every frame buffer; the free ones (a FIFO ring) */
	size_t nr_bufs, pool_head, pool_n;
	unsigned int nr_scratch;	/* buffers bufs[0..threads) start as workers' output */
	struct pw_item *free_list, *free_tail, *work_head, *work_tail, *order_head, *order_tail;
	int stop, err, writing;		/* writing: a thread has the writer's turn */
	pthread_t *workers;
	unsigned int nr_workers;
	struct img_dir *d;
	struct pout out;		/* pages file */
	int out_open;
	uint64_t pages_off, next_frame;
	struct img_writer *idx;
	struct img_writer *map;		/* pagemap-PID.img, head written at open */
	struct img_run pend;		/* merge window: the last run, not yet written */
	int has_pend;
	size_t nr_holes;		/* hole items allocated and not yet written */
	struct pstore_stats st;
	char pages_name[64], map_name[64], idx_name[64];
	char errmsg[512];		/* message of err, set by the thread that failed */
};

/* Records the first pipeline error with the failing thread's message; lock held. */
static void pw_set_err(struct pstore_writer *w, int err)
{
	if (w->err)
		return;
	w->err = err;
	snprintf(w->errmsg, sizeof(w->errmsg), "%s", img_strerror());
	pthread_cond_broadcast(&w->cond_free);
}

/* Returns the pipeline error to the caller's thread with its message. */
static int pw_err(struct pstore_writer *w, int err)
{
	return err ? img_err(err, "%s", w->errmsg) : 0;
}

/*
 * Returns a buffer to the pool; lock held. First in, first out: every buffer
 * is in use after a few frames, so peak memory does not depend on the size
 * or pace of the dump.
 */
static void pw_free_push(struct pstore_writer *w, struct pw_item *it)
{
	it->next_free = NULL;
	if (w->free_tail)
		w->free_tail->next_free = it;
	else
		w->free_list = it;
	w->free_tail = it;
}

/* Returns a frame buffer to the free ring; lock held. */
static void pw_pool_push(struct pstore_writer *w, void *b)
{
	w->pool[(w->pool_head + w->pool_n++) % w->nr_bufs] = b;
}

static void *pw_pool_pop(struct pstore_writer *w)
{
	void *b = w->pool[w->pool_head];

	w->pool_head = (w->pool_head + 1) % w->nr_bufs;
	w->pool_n--;
	return b;
}

/* Splits b into zero and present runs and compacts the present pages. */
static void pw_split(struct pstore_writer *w, struct pw_item *it)
{
	struct pstore_buf *b = &it->pub;
	uint8_t *data = b->data;
	size_t r, src = 0, dst = 0, ps = w->ps;

	it->nr_out = 0;
	for (r = 0; r < b->nr_runs; r++) {
		uint64_t i;

		for (i = 0; i < b->runs[r].nr_pages; i++, src++) {
			int zero = mem_is_zero(data + src * ps, ps);
			uint32_t fl = zero ? PE_ZERO : PE_PRESENT;
			struct img_run *last = it->nr_out ? &it->out[it->nr_out - 1] : NULL;
			uint64_t va = b->runs[r].vaddr + i * ps;

			if (!zero) {
				if (dst != src)
					memcpy(data + dst * ps, data + src * ps, ps);
				dst++;
			}
			if (last && i && last->flags == fl) {
				last->nr_pages++;
				continue;
			}
			it->out[it->nr_out++] = (struct img_run){ .vaddr = va, .nr_pages = 1,
				.flags = fl, .offset = zero ? 0 : dst - 1 };
		}
	}
	it->fh = (struct img_frame_hdr){ .raw_len = dst * ps };
}

/*
 * Compresses into the worker's spare buffer. When that becomes the payload,
 * the raw buffer becomes the worker's spare: a frame waiting for its turn to
 * be written holds one buffer, not two.
 */
static void pw_compress(struct pstore_writer *w, struct pw_item *it, ZSTD_CCtx *cctx,
			void **spare)
{
	size_t raw;
	long c = -1;

	pw_split(w, it);
	it->hold = it->pub.data;
	raw = it->fh.raw_len;
	if (!raw)
		return;
	if (!w->o.no_compress)
		c = zio_frame_compress(cctx, *spare, raw, it->pub.data, raw, w->o.level);
	if (c > 0 && (size_t)c < raw) {
		it->fh.flags = FRAME_ZSTD;
		it->fh.stored_len = c;
		it->payload = *spare;
		it->hold = *spare;
		*spare = it->pub.data;
	} else {
		it->fh.flags = 0;
		it->fh.stored_len = raw;
		it->payload = it->pub.data;
	}
	it->fh.xxh3 = img_frame_hash(it->payload, it->fh.stored_len);
}

/* Appends run r to pagemap-PID.img. */
static int pw_put_run(struct pstore_writer *w, const struct img_run *r)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	pe.vaddr = r->vaddr;
	pe.nr_pages = r->nr_pages;
	pe.flags = r->flags;
	if (r->flags == PE_PRESENT) {
		pe.has_frame = pe.has_offset = 1;
		pe.frame = r->frame;
		pe.offset = r->offset;
	}
	return img_writer_put(w->map, &pe.base);
}

/* Merges r into the pending run, or writes the pending run and keeps r instead. */
static int pw_add_run(struct pstore_writer *w, const struct img_run *r)
{
	struct img_run *last = &w->pend;
	uint64_t end;
	int ret;

	if (w->has_pend) {
		end = last->vaddr + last->nr_pages * w->ps;
		if (r->vaddr < end)
			return img_err(-EINVAL, "'%s': run %#llx overlaps or precedes %#llx",
				       w->map_name, (unsigned long long)r->vaddr,
				       (unsigned long long)last->vaddr);
		if (r->vaddr == end && r->flags == last->flags &&
		    (r->flags != PE_PRESENT ||
		     (r->frame == last->frame && r->offset == last->offset + last->nr_pages))) {
			last->nr_pages += r->nr_pages;
			return 0;
		}
		ret = pw_put_run(w, last);
		if (ret)
			return ret;
	}
	w->pend = *r;
	w->has_pend = 1;
	return 0;
}

/* Creates pagemap-PID.img with its head; the runs follow as frames are written. */
static int pw_open_pagemap(struct pstore_writer *w)
{
	PagemapHead head = PAGEMAP_HEAD__INIT;
	int ret;

	head.pid = w->pid;
	head.page_size = w->ps;
	head.pages_file = w->pages_name;
	/* The page counts are not known yet: left unset (FORMAT.md "Pagemap"). */
	ret = img_writer_open(w->d, IMG_PAGEMAP, w->map_name, &w->map);
	if (ret)
		return ret;
	return img_writer_put(w->map, &head.base);
}

static uint64_t fe_bytes(const struct iovec *iov, int n)
{
	uint64_t sum = 0;

	while (n--)
		sum += iov[n].iov_len;
	return sum;
}

/* Writes a batch of done items in order: frames, index records, runs. */
static int pw_write_batch(struct pstore_writer *w, struct pw_item **items, int n)
{
	struct iovec iov[2 * PW_BATCH];
	int i, nio = 0, ret;
	size_t j;

	for (i = 0; i < n; i++) {
		struct pw_item *it = items[i];
		FrameEntry fe = FRAME_ENTRY__INIT;

		if (it->is_hole || !it->fh.raw_len)
			continue;
		it->fh.id = w->next_frame++;
		img_frame_hdr_encode(it->hdr, &it->fh);
		fe.id = it->fh.id;
		fe.file_offset = w->pages_off;
		for (j = 0; j < (size_t)nio; j++)
			fe.file_offset += iov[j].iov_len;
		fe.raw_len = it->fh.raw_len;
		fe.stored_len = it->fh.stored_len;
		fe.flags = it->fh.flags;
		fe.xxh3 = it->fh.xxh3;
		ret = img_writer_put(w->idx, &fe.base);
		if (ret)
			return ret;
		iov[nio++] = (struct iovec){ it->hdr, IMG_FRAME_HDR_SIZE };
		iov[nio++] = (struct iovec){ (void *)it->payload, it->fh.stored_len };
		w->st.frames++;
		w->st.bytes_raw += it->fh.raw_len;
		w->st.bytes_stored += it->fh.stored_len;
	}
	ret = pout_writev(&w->out, iov, nio);
	if (ret)
		return ret;
	w->pages_off += fe_bytes(iov, nio);
	for (i = 0; i < n; i++) {
		struct pw_item *it = items[i];
		struct img_run *runs = it->is_hole ? &it->hole : it->out;
		size_t nr = it->is_hole ? 1 : it->nr_out;

		for (j = 0; j < nr; j++) {
			struct img_run r = runs[j];

			if (r.flags == PE_PRESENT) {
				r.frame = it->fh.id;
				w->st.pages_stored += r.nr_pages;
			} else if (r.flags == PE_ZERO) {
				w->st.pages_zero += r.nr_pages;
			} else if (r.flags == PE_PARENT) {
				w->st.pages_parent += r.nr_pages;
			}
			ret = pw_add_run(w, &r);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Oldest item done and nobody writing: the caller may take the writer's turn. */
static int pw_can_write(struct pstore_writer *w)
{
	return !w->writing && w->order_head && w->order_head->done;
}

/* The writer's turn: writes the done items at the head of the order; lock held. */
static void pw_write_turn(struct pstore_writer *w)
{
	struct pw_item *batch[PW_BATCH];
	int n = 0, i, ret;

	w->writing = 1;
	while (n < PW_BATCH && w->order_head && w->order_head->done) {
		batch[n++] = w->order_head;
		w->order_head = w->order_head->next_order;
	}
	if (!w->order_head)
		w->order_tail = NULL;
	ret = w->err;
	pthread_mutex_unlock(&w->lock);

	if (!ret)
		ret = pw_write_batch(w, batch, n);

	pthread_mutex_lock(&w->lock);
	if (ret)
		pw_set_err(w, ret);
	for (i = 0; i < n; i++) {
		if (batch[i]->is_hole) {
			free(batch[i]);
			w->nr_holes--;
			continue;
		}
		pw_pool_push(w, batch[i]->hold);
		batch[i]->hold = NULL;
		pw_free_push(w, batch[i]);
	}
	w->writing = 0;
	pthread_cond_broadcast(&w->cond_free);
	if (pw_can_write(w))	/* became writable during the turn: wake one to write it */
		pthread_cond_signal(&w->cond_work);
}

/* Compresses queued buffers and takes the writer's turn when it is free. */
static void *pw_worker(void *arg)
{
	struct pstore_writer *w = arg;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	void *spare;

	pthread_mutex_lock(&w->lock);
	spare = w->bufs[w->nr_scratch++];
	for (;;) {
		struct pw_item *it;

		if (pw_can_write(w)) {
			pw_write_turn(w);
			continue;
		}
		it = w->work_head;
		if (!it) {
			if (w->stop)
				break;	/* what is left is another thread's */
			pthread_cond_wait(&w->cond_work, &w->lock);
			continue;
		}
		w->work_head = it->next_work;
		if (!w->work_head)
			w->work_tail = NULL;
		pthread_mutex_unlock(&w->lock);

		if (cctx)
			pw_compress(w, it, cctx, &spare);
		else
			it->hold = it->pub.data;

		pthread_mutex_lock(&w->lock);
		if (!cctx)
			pw_set_err(w, img_err(-ENOMEM, "no memory for a zstd context"));
		it->done = 1;
	}
	pthread_mutex_unlock(&w->lock);
	ZSTD_freeCCtx(cctx);
	return NULL;
}

static int pw_opts(struct pstore_writer *w, const struct pstore_opts *o)
{
	long cpus;

	if (o)
		w->o = *o;
	if (!w->o.level)
		w->o.level = 1;
	if (w->o.level < ZSTD_minCLevel() || w->o.level > ZSTD_maxCLevel())
		return img_err(-EINVAL, "zstd level %d out of range", w->o.level);
	if (!w->o.frame_bytes)
		w->o.frame_bytes = 2u << 20;
	if (w->o.frame_bytes < w->ps || w->o.frame_bytes > IMG_MAX_FRAME_RAW)
		return img_err(-EINVAL, "frame size %zu out of range", w->o.frame_bytes);
	w->frame_pages = w->o.frame_bytes / w->ps;
	w->o.frame_bytes = w->frame_pages * w->ps;
	if (!w->o.threads) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		w->o.threads = cpus > 0 ? cpus : 1;
	}
	w->o.threads = MIN(w->o.threads, 64u);
	return 0;
}

static int pw_alloc_items(struct pstore_writer *w)
{
	size_t i, fb = w->o.frame_bytes;

	/*
	 * One spare buffer per worker, and enough in the ring that frames done
	 * behind a slow (or preempted) oldest one do not stop the producer.
	 */
	w->nr_bufs = 2 * w->o.threads + MIN(w->o.threads + 6, 10u);
	w->nr_items = w->nr_bufs + 2;
	w->items = calloc(w->nr_items, sizeof(*w->items));
	w->bufs = calloc(w->nr_bufs, sizeof(*w->bufs));
	w->pool = calloc(w->nr_bufs, sizeof(*w->pool));
	if (!w->items || !w->bufs || !w->pool)
		return img_err(-ENOMEM, "no memory for frame buffers");
	for (i = 0; i < w->nr_bufs; i++) {
		w->bufs[i] = img_huge_alloc(fb);
		if (!w->bufs[i])
			return img_err(-ENOMEM, "no memory for frame buffers");
		if (i >= w->o.threads)	/* the first ones are the workers' spares */
			pw_pool_push(w, w->bufs[i]);
	}
	for (i = 0; i < w->nr_items; i++) {
		struct pw_item *it = &w->items[i];

		it->pub.runs = calloc(w->frame_pages, sizeof(*it->pub.runs));
		it->out = calloc(w->frame_pages, sizeof(*it->out));
		if (!it->pub.runs || !it->out)
			return img_err(-ENOMEM, "no memory for frame buffers");
		it->pub.cap_pages = w->frame_pages;
		it->pub.cap_runs = w->frame_pages;
		pw_free_push(w, it);
	}
	return 0;
}

static int pw_start(struct pstore_writer *w)
{
	unsigned int i;

	w->workers = calloc(w->o.threads, sizeof(*w->workers));
	if (!w->workers)
		return img_err(-ENOMEM, "no memory for threads");
	for (i = 0; i < w->o.threads; i++) {
		int ret = pthread_create(&w->workers[i], NULL, pw_worker, w);

		if (ret)
			return img_err(-ret, "cannot start a compression thread");
		w->nr_workers++;
	}
	return 0;
}

int pstore_writer_open(struct img_dir *d, unsigned int pid, const struct pstore_opts *opts,
		       struct pstore_writer **out)
{
	struct pstore_writer *w = calloc(1, sizeof(*w));
	uint8_t hdr[IMG_HDR_SIZE];
	struct img_hdr h = { .magic = img_kind_get(IMG_PAGES)->magic,
			     .version = IMG_FORMAT_VERSION, .kind = IMG_PAGES };
	int ret;

	if (!w)
		return img_err(-ENOMEM, "no memory for the page store");
	w->d = d;
	w->pid = pid;
	w->ps = page_size();
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond_free, NULL);
	pthread_cond_init(&w->cond_work, NULL);
	ret = pw_opts(w, opts);
	if (!ret)
		ret = img_kind_filename(IMG_PAGES, pid, w->pages_name, sizeof(w->pages_name));
	if (!ret)
		ret = img_kind_filename(IMG_PAGEMAP, pid, w->map_name, sizeof(w->map_name));
	if (!ret)
		ret = img_kind_filename(IMG_PAGEIDX, pid, w->idx_name, sizeof(w->idx_name));
	if (ret)
		goto err;
	ret = pw_alloc_items(w);
	if (ret)
		goto err;
	ret = img_dir_create_file(d, w->pages_name);
	if (ret < 0)
		goto err;
	w->out_open = 1;
	ret = pout_open(&w->out, ret, w->pages_name, 1);
	if (ret)
		goto err;
	img_hdr_encode(hdr, &h);
	ret = pout_writev(&w->out, &(struct iovec){ hdr, sizeof(hdr) }, 1);
	if (ret)
		goto err;
	w->pages_off = sizeof(hdr);
	ret = img_writer_open(d, IMG_PAGEIDX, w->idx_name, &w->idx);
	if (!ret)
		ret = pw_open_pagemap(w);
	if (ret)
		goto err;
	ret = pw_start(w);
	if (ret)
		goto err;
	*out = w;
	return 0;
err:
	pstore_writer_free(w);
	return ret;
}

int pstore_writer_get(struct pstore_writer *w, struct pstore_buf **out)
{
	struct pw_item *it;
	int ret;

	pthread_mutex_lock(&w->lock);
	while ((!w->free_list || !w->pool_n) && !w->err) {
		if (pw_can_write(w))
			pw_write_turn(w);	/* frees a buffer sooner than a wakeup */
		else
			pthread_cond_wait(&w->cond_free, &w->lock);
	}
	ret = w->err;
	it = w->free_list;
	if (!ret) {
		w->free_list = it->next_free;
		if (!w->free_list)
			w->free_tail = NULL;
		it->pub.data = pw_pool_pop(w);
	}
	pthread_mutex_unlock(&w->lock);
	if (ret)
		return pw_err(w, ret);
	it->pub.nr_pages = 0;
	it->pub.nr_runs = 0;
	it->done = 0;
	it->next_work = it->next_order = NULL;
	*out = &it->pub;
	return 0;
}

int pstore_buf_add_run(struct pstore_buf *b, uint64_t vaddr, uint64_t nr_pages)
{
	struct pstore_src *last = b->nr_runs ? &b->runs[b->nr_runs - 1] : NULL;
	size_t ps = page_size();

	if (!nr_pages || nr_pages > b->cap_pages - b->nr_pages)
		return img_err(-ENOSPC, "run %#llx of %llu pages does not fit the frame buffer",
			       (unsigned long long)vaddr, (unsigned long long)nr_pages);
	if (vaddr & (ps - 1))
		return img_err(-EINVAL, "run %#llx is not page aligned", (unsigned long long)vaddr);
	if (last && last->vaddr + last->nr_pages * ps == vaddr) {
		last->nr_pages += nr_pages;
	} else {
		if (b->nr_runs == b->cap_runs)
			return img_err(-ENOSPC, "too many runs in a frame buffer");
		b->runs[b->nr_runs++] = (struct pstore_src){ vaddr, nr_pages };
	}
	b->nr_pages += nr_pages;
	return 0;
}

/* Appends it to the order queue, and to the work queue when it needs a worker. */
static int pw_enqueue(struct pstore_writer *w, struct pw_item *it, int work)
{
	int ret;

	pthread_mutex_lock(&w->lock);
	ret = w->err;
	if (w->order_tail)
		w->order_tail->next_order = it;
	else
		w->order_head = it;
	w->order_tail = it;
	if (work) {
		if (w->work_tail)
			w->work_tail->next_work = it;
		else
			w->work_head = it;
		w->work_tail = it;
		pthread_cond_signal(&w->cond_work);
	} else {
		pthread_cond_broadcast(&w->cond_work);	/* a hole: whoever writes next */
	}
	pthread_mutex_unlock(&w->lock);
	return pw_err(w, ret);
}

int pstore_writer_submit(struct pstore_writer *w, struct pstore_buf *b)
{
	struct pw_item *it = (struct pw_item *)b;
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < b->nr_runs; i++)
		sum += b->runs[i].nr_pages;
	if (sum != b->nr_pages || b->nr_pages > b->cap_pages) {
		img_err(-EINVAL, "frame buffer holds %zu pages but its runs %llu", b->nr_pages,
			(unsigned long long)sum);
		pthread_mutex_lock(&w->lock);
		pw_pool_push(w, it->pub.data);
		pw_free_push(w, it);
		pthread_cond_broadcast(&w->cond_free);
		pthread_mutex_unlock(&w->lock);
		return -EINVAL;
	}
	return pw_enqueue(w, it, 1);
}

int pstore_writer_add_hole(struct pstore_writer *w, uint64_t vaddr, uint64_t nr_pages,
			   uint32_t flags)
{
	struct pw_item *it;
	int ret;

	if (flags != PE_ZERO && flags != PE_PARENT && flags != PE_LAZY)
		return img_err(-EINVAL, "hole %#llx: bad flags %#x", (unsigned long long)vaddr,
			       flags);
	if (!nr_pages || (vaddr & (w->ps - 1)))
		return img_err(-EINVAL, "hole %#llx: bad range", (unsigned long long)vaddr);
	/* Extend a queued hole instead: memory stays bounded however many holes come. */
	pthread_mutex_lock(&w->lock);
	it = w->order_tail;
	if (it && it->is_hole && it->hole.flags == flags &&
	    it->hole.vaddr + it->hole.nr_pages * w->ps == vaddr &&
	    it->hole.nr_pages + nr_pages > nr_pages) {
		it->hole.nr_pages += nr_pages;
		pthread_mutex_unlock(&w->lock);
		return 0;
	}
	/* Bounded: wait while too many holes queue behind frames being compressed. */
	while (w->nr_holes >= PW_MAX_HOLES && !w->err)
		pthread_cond_wait(&w->cond_free, &w->lock);
	ret = w->err;
	if (ret) {
		pthread_mutex_unlock(&w->lock);
		return pw_err(w, ret);
	}
	w->nr_holes++;
	pthread_mutex_unlock(&w->lock);
	it = calloc(1, sizeof(*it));
	if (!it) {
		pthread_mutex_lock(&w->lock);
		w->nr_holes--;
		pthread_mutex_unlock(&w->lock);
		return img_err(-ENOMEM, "no memory for a hole");
	}
	it->is_hole = 1;
	it->done = 1;
	it->hole = (struct img_run){ .vaddr = vaddr, .nr_pages = nr_pages, .flags = flags };
	return pw_enqueue(w, it, 0);
}

static void pw_stop(struct pstore_writer *w)
{
	unsigned int i;

	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond_work);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nr_workers; i++)
		pthread_join(w->workers[i], NULL);
	w->nr_workers = 0;
	/* Anything still done and unwritten (a worker left while another wrote). */
	pthread_mutex_lock(&w->lock);
	while (pw_can_write(w))
		pw_write_turn(w);
	pthread_mutex_unlock(&w->lock);
}

/* Writes the pending run and closes pagemap-PID.img. */
static int pw_close_pagemap(struct pstore_writer *w)
{
	struct img_writer *mw = w->map;
	int ret = 0;

	if (w->has_pend)
		ret = pw_put_run(w, &w->pend);
	w->has_pend = 0;
	w->map = NULL;
	if (ret) {
		img_writer_free(mw);
		return ret;
	}
	return img_writer_close(mw);
}

static int pw_finish(struct pstore_writer *w)
{
	struct img_frame_hdr end = { .flags = FRAME_END, .id = w->next_frame };
	uint8_t buf[IMG_FRAME_HDR_SIZE];
	uint64_t size, hash;
	int ret;

	img_frame_hdr_encode(buf, &end);
	ret = pout_writev(&w->out, &(struct iovec){ buf, sizeof(buf) }, 1);
	if (!ret)
		ret = pout_close(&w->out, &size, &hash);
	if (!ret)
		ret = img_dir_file_hashed(w->d, w->pages_name, size, hash);
	if (ret)
		return ret;
	ret = img_writer_close(w->idx);
	w->idx = NULL;
	if (ret)
		return ret;
	return pw_close_pagemap(w);
}

int pstore_writer_close(struct pstore_writer *w, struct pstore_stats *st)
{
	int ret;

	pw_stop(w);
	ret = pw_err(w, w->err);
	if (!ret)
		ret = pw_finish(w);
	if (st)
		*st = w->st;
	pstore_writer_free(w);
	return ret;
}

void pstore_writer_free(struct pstore_writer *w)
{
	size_t i;

	if (!w)
		return;
	pw_stop(w);
	while (w->order_head) {	/* holes never written (error paths) */
		struct pw_item *it = w->order_head;

		w->order_head = it->next_order;
		if (it->is_hole)
			free(it);
	}
	for (i = 0; w->bufs && i < w->nr_bufs; i++)
		img_huge_free(w->bufs[i], w->o.frame_bytes);
	free(w->bufs);
	free(w->pool);
	for (i = 0; w->items && i < w->nr_items; i++) {
		free(w->items[i].pub.runs);
		free(w->items[i].out);
	}
	free(w->items);
	free(w->workers);
	img_writer_free(w->idx);
	img_writer_free(w->map);
	if (w->out_open)
		pout_release(&w->out);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond_free);
	pthread_cond_destroy(&w->cond_work);
	free(w);
}
