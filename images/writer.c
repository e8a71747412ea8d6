// SPDX-License-Identifier: MIT
/*
 * writer.c: record files. Header, then one zstd stream (content checksum
 * on) of u32-length-prefixed protobuf records ended by an end marker that
 * carries the record count.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgint.h"
#include "util.h"

struct img_writer {
	const struct img_kind_desc *k;
	char *name;
	int fd;
	struct zio_w z;
	uint64_t nr;
	uint8_t *buf;
	size_t cap;
};

void img_writer_free(struct img_writer *w)
{
	if (!w)
		return;
	zio_w_release(&w->z);
	close_safe(&w->fd);
	free(w->name);
	free(w->buf);
	free(w);
}

int img_writer_open(struct img_dir *d, enum img_kind kind, const char *name,
		    struct img_writer **out)
{
	const struct img_kind_desc *k = img_kind_get(kind);
	uint8_t hdr[IMG_HDR_SIZE];
	struct img_hdr h;
	struct img_writer *w;
	int ret;

	if (!k || kind == IMG_PAGES)
		return img_err(-EINVAL, "'%s': kind %d is not a record file", name, kind);
	w = calloc(1, sizeof(*w));
	if (!w || !(w->name = strdup(name))) {
		free(w);
		return img_err(-ENOMEM, "no memory for writer of '%s'", name);
	}
	w->k = k;
	w->fd = img_dir_create_file(d, name);
	if (w->fd < 0) {
		ret = w->fd;
		goto err;
	}
	h = (struct img_hdr){ .magic = k->magic, .version = IMG_FORMAT_VERSION, .kind = kind,
			      .flags = IMG_HF_ZSTD };
	img_hdr_encode(hdr, &h);
	ret = write_full(w->fd, hdr, sizeof(hdr));
	if (ret) {
		img_err(ret, "'%s': cannot write header", name);
		goto err;
	}
	ret = zio_w_init(&w->z, w->fd, 3);
	if (ret)
		goto err;
	*out = w;
	return 0;
err:
	img_writer_free(w);
	return ret;
}

int img_writer_put(struct img_writer *w, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *want = (w->nr == 0 && w->k->head) ? w->k->head :
										   w->k->entry;
	size_t len;
	int ret;

	if (msg->descriptor != want)
		return img_err(-EINVAL, "'%s': record %llu is a %s, expected %s", w->name,
			       (unsigned long long)w->nr, msg->descriptor->name,
			       want ? want->name : "nothing");
	if (w->nr >= IMG_MAX_RECORDS)
		return img_err(-EOVERFLOW, "'%s': too many records", w->name);
	len = protobuf_c_message_get_packed_size(msg);
	if (len > IMG_MAX_RECORD)
		return img_err(-EOVERFLOW, "'%s': record %llu of %zu bytes is too large", w->name,
			       (unsigned long long)w->nr, len);
	if (len + 4 > w->cap) {
		size_t ncap = MAX(len + 4, 4096);
		uint8_t *nb = realloc(w->buf, ncap);

		if (!nb)
			return img_err(-ENOMEM, "no memory for a record of %zu bytes", len);
		w->buf = nb;
		w->cap = ncap;
	}
	put_le32(w->buf, len);
	protobuf_c_message_pack(msg, w->buf + 4);
	ret = zio_w_write(&w->z, w->buf, len + 4);
	if (ret)
		return img_err(ret, "'%s': record %llu: %s", w->name, (unsigned long long)w->nr,
			       img_strerror());
	w->nr++;
	return 0;
}

int img_writer_close(struct img_writer *w)
{
	uint8_t end[12];
	int ret;

	if (w->k->head && w->nr == 0) {
		ret = img_err(-EINVAL, "'%s': closed without its head record", w->name);
		goto out;
	}
	put_le32(end, IMG_REC_END);
	put_le64(end + 4, w->nr);
	ret = zio_w_write(&w->z, end, sizeof(end));
	if (!ret)
		ret = zio_w_finish(&w->z);
	if (ret) {
		img_err(ret, "'%s': %s", w->name, img_strerror());
		goto out;
	}
	if (close(w->fd)) {
		w->fd = -1;
		ret = img_err(-errno, "'%s': close failed", w->name);
		goto out;
	}
	w->fd = -1;
out:
	img_writer_free(w);
	return ret;
}
