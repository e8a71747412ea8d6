// SPDX-License-Identifier: MIT
/*
 * pages.c: walks the frames of a page store file without its index:
 * header, frame headers, optional payload checks, end marker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "imgint.h"
#include "util.h"

struct pstore_iter {
	struct img_src src;
	int fd;
	char *name;
	uint64_t off, nr;
	int done, dead;
	uint8_t *payload, *raw;
	ZSTD_DCtx *dctx;
};

void pstore_iter_free(struct pstore_iter *it)
{
	if (!it)
		return;
	close_safe(&it->fd);
	free(it->name);
	free(it->payload);
	free(it->raw);
	ZSTD_freeDCtx(it->dctx);
	free(it);
}

static int iter_start(struct pstore_iter *it)
{
	uint8_t hdr[IMG_HDR_SIZE];
	struct img_hdr h;
	size_t got;
	int ret;

	ret = img_src_pread(&it->src, hdr, sizeof(hdr), 0, &got);
	if (ret)
		return ret;
	ret = img_hdr_decode(hdr, got, &h, it->name);
	if (ret)
		return ret;
	if (h.kind != IMG_PAGES)
		return img_err(-EBADMSG, "'%s': kind %u is not a page store", it->name, h.kind);
	it->off = IMG_HDR_SIZE;
	return 0;
}

static int iter_alloc(const char *name, struct pstore_iter **out)
{
	struct pstore_iter *it = calloc(1, sizeof(*it));

	if (!it || !(it->name = strdup(name))) {
		free(it);
		return img_err(-ENOMEM, "no memory for '%s'", name);
	}
	it->fd = -1;
	it->src.fd = -1;
	it->src.name = it->name;
	*out = it;
	return 0;
}

int pstore_iter_open_path(const char *path, struct pstore_iter **out)
{
	struct pstore_iter *it;
	struct stat st;
	int ret;

	ret = iter_alloc(path, &it);
	if (ret)
		return ret;
	it->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (it->fd < 0 || fstat(it->fd, &st)) {
		ret = img_err(-errno, "cannot open '%s'", path);
		goto err;
	}
	it->src.fd = it->fd;
	it->src.size = st.st_size;
	ret = iter_start(it);
	if (ret)
		goto err;
	*out = it;
	return 0;
err:
	pstore_iter_free(it);
	return ret;
}

int pstore_iter_open_mem(const void *buf, size_t len, const char *name, struct pstore_iter **out)
{
	struct pstore_iter *it;
	int ret;

	ret = iter_alloc(name, &it);
	if (ret)
		return ret;
	it->src.mem = buf;
	it->src.size = len;
	ret = iter_start(it);
	if (ret) {
		pstore_iter_free(it);
		return ret;
	}
	*out = it;
	return 0;
}

static int iter_check_payload(struct pstore_iter *it, const struct img_frame_hdr *h,
			      uint64_t payload_off)
{
	unsigned long long id = h->id;
	size_t got;
	int ret;

	if (!it->payload) {
		it->payload = malloc(img_frame_stored_max());
		it->raw = malloc(IMG_MAX_FRAME_RAW);
		it->dctx = ZSTD_createDCtx();
		if (!it->payload || !it->raw || !it->dctx)
			return img_err(-ENOMEM, "no memory to check frames");
	}
	ret = img_src_pread(&it->src, it->payload, h->stored_len, payload_off, &got);
	if (ret)
		return ret;
	if (got < h->stored_len)
		return img_err(-EBADMSG, "'%s': frame %llu: payload truncated", it->name, id);
	if (img_frame_hash(it->payload, h->stored_len) != h->xxh3)
		return img_err(-EBADMSG, "'%s': frame %llu: payload checksum mismatch", it->name, id);
	if (h->flags & FRAME_ZSTD) {
		ret = zio_frame_decompress(it->dctx, it->raw, h->raw_len, it->payload,
					   h->stored_len);
		if (ret)
			return img_err(ret, "'%s': frame %llu: %s", it->name, id, img_strerror());
	}
	return 0;
}

int pstore_iter_next(struct pstore_iter *it, struct img_frame *f, int check)
{
	uint8_t buf[IMG_FRAME_HDR_SIZE];
	struct img_frame_hdr h;
	size_t got;
	int ret;

	if (it->done)
		return 0;
	if (it->dead)
		return img_err(it->dead, "'%s': the walk stopped at offset %llu", it->name,
			       (unsigned long long)it->off);
	it->dead = -EBADMSG;	/* until this frame's header is known good */
	ret = img_src_pread(&it->src, buf, sizeof(buf), it->off, &got);
	if (ret)
		return ret;
	if (got == 0)
		return img_err(-EBADMSG, "'%s': no end marker after %llu frames (offset %llu)",
			       it->name, (unsigned long long)it->nr, (unsigned long long)it->off);
	ret = img_frame_hdr_decode(buf, got, &h, it->name, it->off);
	if (ret)
		return img_err(ret, "frame %llu: %s", (unsigned long long)it->nr, img_strerror());
	if (h.flags & FRAME_END) {
		if (h.id != it->nr)
			return img_err(-EBADMSG, "'%s': end marker counts %llu frames, found %llu",
				       it->name, (unsigned long long)h.id,
				       (unsigned long long)it->nr);
		if (it->off + IMG_FRAME_HDR_SIZE != it->src.size)
			return img_err(-EBADMSG, "'%s': data after the end marker at offset %llu",
				       it->name, (unsigned long long)it->off + IMG_FRAME_HDR_SIZE);
		it->dead = 0;
		it->done = 1;
		return 0;
	}
	if (h.id != it->nr)
		return img_err(-EBADMSG, "'%s': frame %llu at offset %llu has id %llu", it->name,
			       (unsigned long long)it->nr, (unsigned long long)it->off,
			       (unsigned long long)h.id);
	if (it->off + IMG_FRAME_HDR_SIZE + h.stored_len > it->src.size)
		return img_err(-EBADMSG, "'%s': frame %llu: payload truncated at offset %llu",
			       it->name, (unsigned long long)h.id, (unsigned long long)it->off);
	it->dead = 0;
	it->off += IMG_FRAME_HDR_SIZE + h.stored_len;
	it->nr++;
	if (check) {
		ret = iter_check_payload(it, &h, it->off - h.stored_len);
		if (ret)
			return ret;	/* the walk can go on with the next frame */
	}
	f->id = h.id;
	f->file_offset = it->off - h.stored_len - IMG_FRAME_HDR_SIZE;
	f->raw_len = h.raw_len;
	f->stored_len = h.stored_len;
	f->flags = h.flags;
	f->xxh3 = h.xxh3;
	return 1;
}

int pstore_iter_can_go_on(const struct pstore_iter *it)
{
	return !it->dead && !it->done;
}
