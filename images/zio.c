// SPDX-License-Identifier: MIT
/*
 * zio.c: zstd streams (record files) and independent zstd frames (page
 * store). zstd errors become -EIO/-EBADMSG here and nowhere else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zstd_errors.h>

#include "imgint.h"
#include "util.h"

int zio_w_init(struct zio_w *z, int fd, int level)
{
	memset(z, 0, sizeof(*z));
	z->fd = fd;
	z->cctx = ZSTD_createCCtx();
	z->out_cap = ZSTD_CStreamOutSize();
	z->out = malloc(z->out_cap);
	if (!z->cctx || !z->out) {
		zio_w_release(z);
		return img_err(-ENOMEM, "zstd: no memory for a stream");
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1))) {
		zio_w_release(z);
		return img_err(-EIO, "zstd: cannot set stream parameters");
	}
	return 0;
}

static int zio_w_run(struct zio_w *z, ZSTD_inBuffer *ib, ZSTD_EndDirective mode)
{
	for (;;) {
		ZSTD_outBuffer ob = { z->out, z->out_cap, 0 };
		size_t r = ZSTD_compressStream2(z->cctx, &ob, ib, mode);
		int ret;

		if (ZSTD_isError(r))
			return img_err(-EIO, "zstd: %s", ZSTD_getErrorName(r));
		if (ob.pos) {
			ret = write_full(z->fd, z->out, ob.pos);
			if (ret)
				return img_err(ret, "write of %zu compressed bytes", ob.pos);
			z->bytes_out += ob.pos;
		}
		if (mode == ZSTD_e_end ? r == 0 : ib->pos == ib->size)
			return 0;
	}
}

int zio_w_write(struct zio_w *z, const void *p, size_t len)
{
	ZSTD_inBuffer ib = { p, len, 0 };

	return zio_w_run(z, &ib, ZSTD_e_continue);
}

int zio_w_finish(struct zio_w *z)
{
	ZSTD_inBuffer ib = { NULL, 0, 0 };

	return zio_w_run(z, &ib, ZSTD_e_end);
}

void zio_w_release(struct zio_w *z)
{
	ZSTD_freeCCtx(z->cctx);
	free(z->out);
	z->cctx = NULL;
	z->out = NULL;
}

int zio_r_init(struct zio_r *z, const struct img_src *src, uint64_t off)
{
	memset(z, 0, sizeof(*z));
	z->src = src;
	z->src_off = off;
	z->hint = 1;
	z->dctx = ZSTD_createDCtx();
	z->in_cap = ZSTD_DStreamInSize();
	z->in = malloc(z->in_cap);
	if (!z->dctx || !z->in) {
		zio_r_release(z);
		return img_err(-ENOMEM, "zstd: no memory for a stream");
	}
	/* Our writer needs 2 MiB; refuse streams that ask for more than 8 MiB of window. */
	ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, 23);
	z->ib.src = z->in;
	return 0;
}

static int zio_r_refill(struct zio_r *z)
{
	size_t got;
	int ret;

	ret = img_src_pread(z->src, z->in, z->in_cap, z->src_off, &got);
	if (ret)
		return ret;
	z->src_off += got;
	z->ib.size = got;
	z->ib.pos = 0;
	if (got == 0)
		z->eof = 1;
	return 0;
}

int zio_r_read(struct zio_r *z, void *buf, size_t len, size_t *got)
{
	ZSTD_outBuffer ob = { buf, len, 0 };
	int ret;

	while (ob.pos < len) {
		size_t r;

		if (z->ib.pos == z->ib.size && !z->eof) {
			ret = zio_r_refill(z);
			if (ret)
				return ret;
		}
		if (z->ib.pos == z->ib.size && z->eof) {
			if (z->hint)
				return img_err(-EBADMSG, "'%s': truncated zstd stream after %llu bytes",
					       z->src->name, (unsigned long long)z->bytes_in + ob.pos);
			break;
		}
		r = ZSTD_decompressStream(z->dctx, &ob, &z->ib);
		if (ZSTD_isError(r))
			return img_err(-EBADMSG, "'%s': corrupt zstd stream near input offset %llu: %s",
				       z->src->name,
				       (unsigned long long)(z->src_off - z->ib.size + z->ib.pos),
				       ZSTD_getErrorName(r));
		z->hint = r;
	}
	z->bytes_in += ob.pos;
	*got = ob.pos;
	return 0;
}

void zio_r_release(struct zio_r *z)
{
	ZSTD_freeDCtx(z->dctx);
	free(z->in);
	z->dctx = NULL;
	z->in = NULL;
}

long zio_frame_compress(ZSTD_CCtx *cctx, void *dst, size_t cap, const void *src, size_t len,
			int level)
{
	size_t r = ZSTD_compressCCtx(cctx, dst, cap, src, len, level);

	if (ZSTD_isError(r)) {
		if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
			return -ENOSPC;
		return img_err(-EIO, "zstd: %s", ZSTD_getErrorName(r));
	}
	return (long)r;
}

int zio_frame_decompress(ZSTD_DCtx *dctx, void *dst, size_t raw_len, const void *src,
			 size_t len)
{
	unsigned long long csize = ZSTD_getFrameContentSize(src, len);
	size_t r;

	if (csize != raw_len)
		return img_err(-EBADMSG, "zstd frame content size %lld, expected %zu",
			       (long long)csize, raw_len);
	if (ZSTD_findFrameCompressedSize(src, len) != len)
		return img_err(-EBADMSG, "zstd frame does not span its %zu stored bytes", len);
	r = ZSTD_decompressDCtx(dctx, dst, raw_len, src, len);
	if (ZSTD_isError(r))
		return img_err(-EBADMSG, "zstd: %s", ZSTD_getErrorName(r));
	if (r != raw_len)
		return img_err(-EBADMSG, "zstd frame gave %zu bytes, expected %zu", r, raw_len);
	return 0;
}
