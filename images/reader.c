// SPDX-License-Identifier: MIT
/*
 * reader.c: reads record files (header, zstd stream of length-prefixed
 * records, end marker) from a file or a memory buffer, and walks the frames
 * of a page store. Every length is checked before it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "imgint.h"
#include "util.h"

struct img_reader {
	struct img_src src;
	int fd;
	char *name;
	const struct img_kind_desc *k;
	struct zio_r z;
	int zinit, done;
	uint64_t nr;		/* records returned */
	uint64_t last_idx, last_off;
	uint8_t *buf;
	size_t cap;
};

void img_reader_free(struct img_reader *r)
{
	if (!r)
		return;
	if (r->zinit)
		zio_r_release(&r->z);
	close_safe(&r->fd);
	free(r->name);
	free(r->buf);
	free(r);
}

static int reader_start(struct img_reader *r, int expect_kind)
{
	uint8_t hdr[IMG_HDR_SIZE];
	struct img_hdr h;
	size_t got;
	int ret;

	ret = img_src_pread(&r->src, hdr, sizeof(hdr), 0, &got);
	if (ret)
		return ret;
	ret = img_hdr_decode(hdr, got, &h, r->name);
	if (ret)
		return ret;
	if (expect_kind > 0 && h.kind != expect_kind)
		return img_err(-EBADMSG, "'%s': kind %u, expected %d", r->name, h.kind,
			       expect_kind);
	r->k = img_kind_get(h.kind);
	if (h.kind == IMG_PAGES)
		return 0;
	ret = zio_r_init(&r->z, &r->src, IMG_HDR_SIZE);
	if (ret)
		return ret;
	r->zinit = 1;
	return 0;
}

static int reader_alloc(const char *name, struct img_reader **out)
{
	struct img_reader *r = calloc(1, sizeof(*r));

	if (!r || !(r->name = strdup(name))) {
		free(r);
		return img_err(-ENOMEM, "no memory for reader of '%s'", name);
	}
	r->fd = -1;
	r->src.fd = -1;
	r->src.name = r->name;
	*out = r;
	return 0;
}

static int reader_open_fd(int fd, const char *name, int expect_kind, struct img_reader **out)
{
	struct img_reader *r;
	struct stat st;
	int ret;

	ret = reader_alloc(name, &r);
	if (ret) {
		close(fd);
		return ret;
	}
	r->fd = fd;
	r->src.fd = fd;
	if (fstat(fd, &st)) {
		ret = img_err(-errno, "cannot stat '%s'", name);
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = img_err(-EINVAL, "'%s' is not a regular file", name);
		goto err;
	}
	r->src.size = st.st_size;
	ret = reader_start(r, expect_kind);
	if (ret)
		goto err;
	*out = r;
	return 0;
err:
	img_reader_free(r);
	return ret;
}

int img_reader_open(const struct img_dir *d, enum img_kind kind, const char *name,
		    struct img_reader **out)
{
	int fd = img_dir_open_file(d, name);

	if (fd < 0)
		return fd;
	return reader_open_fd(fd, name, kind, out);
}

int img_reader_open_path(const char *path, struct img_reader **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return img_err(-errno, "cannot open '%s'", path);
	return reader_open_fd(fd, path, -1, out);
}

int img_reader_open_mem(const void *buf, size_t len, const char *name, struct img_reader **out)
{
	struct img_reader *r;
	int ret;

	ret = reader_alloc(name, &r);
	if (ret)
		return ret;
	r->src.mem = buf;
	r->src.size = len;
	ret = reader_start(r, -1);
	if (ret) {
		img_reader_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

enum img_kind img_reader_kind(const struct img_reader *r)
{
	return r->k->kind;
}

uint64_t img_reader_index(const struct img_reader *r)
{
	return r->last_idx;
}

uint64_t img_reader_offset(const struct img_reader *r)
{
	return r->last_off;
}

/* Reads exactly len bytes of the stream or fails naming what was cut. */
static int reader_read(struct img_reader *r, void *buf, size_t len, const char *what)
{
	uint64_t off = r->z.bytes_in;
	size_t got;
	int ret;

	ret = zio_r_read(&r->z, buf, len, &got);
	if (ret)
		return img_err(ret, "%s (record %llu)", img_strerror(), (unsigned long long)r->nr);
	if (got < len)
		return img_err(-EBADMSG, "'%s': record %llu: stream ends inside the %s at offset %llu",
			       r->name, (unsigned long long)r->nr, what, (unsigned long long)off);
	return 0;
}

static int reader_end(struct img_reader *r)
{
	uint8_t cnt[8], extra;
	size_t got;
	int ret;

	ret = reader_read(r, cnt, sizeof(cnt), "end marker");
	if (ret)
		return ret;
	if (get_le64(cnt) != r->nr)
		return img_err(-EBADMSG, "'%s': end marker counts %llu records, read %llu", r->name,
			       (unsigned long long)get_le64(cnt), (unsigned long long)r->nr);
	if (r->k->head && r->nr == 0)
		return img_err(-EBADMSG, "'%s': no head record", r->name);
	ret = zio_r_read(&r->z, &extra, 1, &got);
	if (ret)
		return ret;
	if (got)
		return img_err(-EBADMSG, "'%s': data after the end marker at offset %llu", r->name,
			       (unsigned long long)r->z.bytes_in - 1);
	r->done = 1;
	return 0;
}

int img_reader_next(struct img_reader *r, ProtobufCMessage **msg)
{
	const ProtobufCMessageDescriptor *desc;
	uint8_t pfx[4];
	uint64_t off;
	uint32_t len;
	int ret;

	if (r->done)
		return 0;
	if (!r->zinit)
		return img_err(-EINVAL, "'%s': a page store holds no records", r->name);
	off = r->z.bytes_in;
	ret = reader_read(r, pfx, sizeof(pfx), "length prefix");
	if (ret)
		return ret;
	len = get_le32(pfx);
	if (len == IMG_REC_END)
		return reader_end(r);
	if (len > IMG_MAX_RECORD)
		return img_err(-EOVERFLOW, "'%s': record %llu at offset %llu: length %u over %u",
			       r->name, (unsigned long long)r->nr, (unsigned long long)off, len,
			       IMG_MAX_RECORD);
	if (r->nr >= IMG_MAX_RECORDS)
		return img_err(-EOVERFLOW, "'%s': more than %llu records", r->name,
			       (unsigned long long)IMG_MAX_RECORDS);
	if (len > r->cap) {
		uint8_t *nb = realloc(r->buf, MAX(len, 4096u));

		if (!nb)
			return img_err(-ENOMEM, "no memory for a record of %u bytes", len);
		r->buf = nb;
		r->cap = MAX(len, 4096u);
	}
	ret = reader_read(r, r->buf, len, "record");
	if (ret)
		return ret;
	desc = (r->nr == 0 && r->k->head) ? r->k->head : r->k->entry;
	*msg = protobuf_c_message_unpack(desc, NULL, len, r->buf);
	if (!*msg)
		return img_err(-EBADMSG, "'%s': record %llu at offset %llu: cannot unpack a %s",
			       r->name, (unsigned long long)r->nr, (unsigned long long)off,
			       desc->name);
	r->last_idx = r->nr++;
	r->last_off = off;
	return 1;
}

int img_inventory_read(const struct img_dir *d, InventoryEntry **out)
{
	struct img_reader *r = NULL;
	ProtobufCMessage *m = NULL, *extra = NULL;
	int ret;

	ret = img_reader_open(d, IMG_INVENTORY, "inventory.img", &r);
	if (ret)
		return ret;
	ret = img_reader_next(r, &m);
	if (ret == 0)
		ret = img_err(-EBADMSG, "'%s/inventory.img': empty", img_dir_path(d));
	if (ret < 0)
		goto out;
	ret = img_reader_next(r, &extra);
	if (ret > 0)
		ret = img_err(-EBADMSG, "'%s/inventory.img': more than one record",
			      img_dir_path(d));
	if (ret < 0)
		goto out;
	*out = (InventoryEntry *)m;
	m = NULL;
	ret = 0;
out:
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	if (extra)
		protobuf_c_message_free_unpacked(extra, NULL);
	img_reader_free(r);
	return ret;
}
