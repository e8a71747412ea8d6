/* SPDX-License-Identifier: MIT */
/*
 * Internal interfaces of the image library: error messages, byte sources,
 * the on-disk header codec (codec.c) and the zstd streams (zio.c).
 * Not for use outside images/.
 */
#ifndef CM_IMGINT_H
#define CM_IMGINT_H

#include <stddef.h>
#include <stdint.h>

#include <pthread.h>
#include <sys/uio.h>
#include <xxhash.h>
#include <zstd.h>

#include "img.h"

/* Common first four bytes of every file: "CMIM". */
#define IMG_FILE_MAGIC		0x4d494d43u
/* Frame header magic "CMFR" and end-of-store marker flag. */
#define IMG_FRAME_MAGIC		0x52464d43u
#define FRAME_END		(1u << 31)
#define IMG_HDR_SIZE		20
#define IMG_FRAME_HDR_SIZE	40
/* Record length prefix meaning "end of records; u64 count follows". */
#define IMG_REC_END		0xffffffffu
/* Header flags */
#define IMG_HF_ZSTD		(1u << 0)

/* Sets the per-thread message and returns err (a negative errno). */
int img_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A byte source: a file (pread) or a memory buffer. */
struct img_src {
	int fd;			/* -1 for memory */
	const uint8_t *mem;
	uint64_t size;		/* bytes available */
	const char *name;	/* for messages */
};

int img_src_pread(const struct img_src *s, void *buf, size_t len, uint64_t off, size_t *got);

/* File header (FORMAT.md "file header"). */
struct img_hdr {
	uint32_t magic;		/* kind magic */
	uint16_t version;
	uint16_t kind;
	uint32_t flags;
};

void img_hdr_encode(uint8_t out[IMG_HDR_SIZE], const struct img_hdr *h);
/* Validates magic, version, header checksum. Returns 0 or -errno with a message. */
int img_hdr_decode(const uint8_t *in, size_t len, struct img_hdr *h, const char *name);

/* Page-store frame header. */
struct img_frame_hdr {
	uint32_t flags;
	uint32_t raw_len, stored_len;
	uint64_t id, xxh3;
};

void img_frame_hdr_encode(uint8_t out[IMG_FRAME_HDR_SIZE], const struct img_frame_hdr *h);
/* Validates magic, header checksum and lengths. Returns 0 or -EBADMSG/-EOVERFLOW. */
int img_frame_hdr_decode(const uint8_t *in, size_t len, struct img_frame_hdr *h,
			 const char *name, uint64_t off);

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Largest stored payload we accept for a frame. */
size_t img_frame_stored_max(void);

/* zstd stream writer: compresses into fd as it goes. */
struct zio_w {
	ZSTD_CCtx *cctx;
	int fd;
	uint8_t *out;
	size_t out_cap;
	uint64_t bytes_out;
};

int zio_w_init(struct zio_w *z, int fd, int level);
int zio_w_write(struct zio_w *z, const void *p, size_t len);
int zio_w_finish(struct zio_w *z);
void zio_w_release(struct zio_w *z);

/* zstd stream reader over an img_src starting at off. */
struct zio_r {
	ZSTD_DCtx *dctx;
	const struct img_src *src;
	uint64_t src_off;
	uint8_t *in;
	size_t in_cap;
	ZSTD_inBuffer ib;
	size_t hint;		/* last ZSTD_decompressStream() return */
	int eof;
	uint64_t bytes_in;	/* decompressed bytes delivered */
};

int zio_r_init(struct zio_r *z, const struct img_src *src, uint64_t off);
/*
 * Reads up to len bytes; *got < len only at the clean end of the stream.
 * A stream cut inside a frame or a corrupt frame gives -EBADMSG.
 */
int zio_r_read(struct zio_r *z, void *buf, size_t len, size_t *got);
void zio_r_release(struct zio_r *z);

/* One-shot frame helpers for the page store. */
/* Returns compressed size or -errno; -ENOSPC when it did not fit into cap. */
long zio_frame_compress(ZSTD_CCtx *cctx, void *dst, size_t cap, const void *src, size_t len,
			int level);
/* Decompresses exactly raw_len bytes or fails with -EBADMSG. */
int zio_frame_decompress(ZSTD_DCtx *dctx, void *dst, size_t raw_len, const void *src,
			 size_t len);

/* Reader on a memory buffer (fuzzing, tests). The buffer must outlive the reader. */
int img_reader_open_src(const struct img_src *src, int expect_kind, struct img_reader **out);

/* Kind from a file name ("mm-12.img" -> IMG_MM, pid 12); -1 when unknown. */
int img_kind_from_name(const char *name, unsigned int *pid);


/* Page-store output stage (pout.c). */
struct pout {
	int fd, direct;
	const char *name;
	uint8_t *stage;			/* O_DIRECT staging buffer, NULL when buffered */
	size_t cap, len;
	uint64_t stage_off;		/* file offset of stage[0] */
	uint64_t off;			/* bytes written so far */
	XXH3_state_t *h;		/* of every byte written */
	struct pout_io *io;		/* O_DIRECT: second stage written by a thread */
};

int pout_open(struct pout *o, int fd, const char *name, int try_direct);
int pout_writev(struct pout *o, const struct iovec *iov, int n);
/* Writes the rest, closes the fd, returns the file size and XXH3. */
int pout_close(struct pout *o, uint64_t *size, uint64_t *hash);
void pout_release(struct pout *o);
/* Zeroed anonymous memory, 2 MiB aligned, THP where the kernel allows (pout.c). */
void *img_huge_alloc(size_t len);
void img_huge_free(void *p, size_t len);

/* Private part of struct img_mem (imgmem.c, memframes.c). */
#define IMG_MEM_CACHE_SLOTS 4
struct img_mem_cache {
	pthread_mutex_t lock;
	struct {
		uint64_t id, stamp;
		uint8_t *buf;
		int valid;
	} slot[IMG_MEM_CACHE_SLOTS];
	uint64_t clock;
	uint8_t *scratch;		/* one stored payload */
	ZSTD_DCtx *dctx;
	uint32_t max_raw, max_stored;
	const struct img_run **fr_runs;	/* runs grouped by frame */
	size_t *fr_start;		/* nr_frames + 1 */
	struct img_dir *parent_dir;
	int parent_err;			/* 0 = not tried yet */
	char pages_name[64];
	uint8_t *parent_id;
	size_t parent_id_len;
	char *parent_path;
};

/* Reads and checks frame f of m into dst with a caller's scratch and dctx. */
int mem_frame_load(struct img_mem *m, const struct img_frame *f, void *dst, void *scratch,
		   ZSTD_DCtx *dctx);
/* Builds cache->fr_runs / fr_start. */
int mem_group_runs(struct img_mem *m);

#endif
