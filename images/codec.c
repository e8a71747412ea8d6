// SPDX-License-Identifier: MIT
/*
 * codec.c: the fixed little-endian headers on plain buffers (file header,
 * page-store frame header) and byte sources (file or memory). No fds are
 * opened here.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <xxh_x86dispatch.h>	/* XXH3 with AVX2/AVX-512 when the CPU has them */

#include "imgint.h"
#include "util.h"

int img_src_pread(const struct img_src *s, void *buf, size_t len, uint64_t off, size_t *got)
{
	*got = 0;
	if (off >= s->size)
		return 0;
	if (len > s->size - off)
		len = s->size - off;
	if (s->fd < 0) {
		memcpy(buf, s->mem + off, len);
		*got = len;
		return 0;
	}
	while (*got < len) {
		ssize_t n = pread(s->fd, (char *)buf + *got, len - *got, off + *got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return img_err(-errno, "'%s': read at offset %llu", s->name,
				       (unsigned long long)(off + *got));
		}
		if (n == 0)
			break;
		*got += n;
	}
	return 0;
}

void img_hdr_encode(uint8_t out[IMG_HDR_SIZE], const struct img_hdr *h)
{
	put_le32(out, IMG_FILE_MAGIC);
	put_le32(out + 4, h->magic);
	out[8] = h->version;
	out[9] = h->version >> 8;
	out[10] = h->kind;
	out[11] = h->kind >> 8;
	put_le32(out + 12, h->flags);
	put_le32(out + 16, (uint32_t)XXH3_64bits(out, 16));
}

int img_hdr_decode(const uint8_t *in, size_t len, struct img_hdr *h, const char *name)
{
	const struct img_kind_desc *k;

	if (len < IMG_HDR_SIZE)
		return img_err(-EBADMSG, "'%s': truncated header (%zu bytes)", name, len);
	if (get_le32(in) != IMG_FILE_MAGIC)
		return img_err(-EBADMSG, "'%s': not a criu-mem image (magic %#x)", name,
			       get_le32(in));
	h->magic = get_le32(in + 4);
	h->version = in[8] | in[9] << 8;
	h->kind = in[10] | in[11] << 8;
	h->flags = get_le32(in + 12);
	if (h->version > IMG_FORMAT_VERSION)
		return img_err(-EPROTONOSUPPORT, "'%s': format version %u is newer than %u", name,
			       h->version, IMG_FORMAT_VERSION);
	if (get_le32(in + 16) != (uint32_t)XXH3_64bits(in, 16))
		return img_err(-EBADMSG, "'%s': header checksum mismatch at offset 16", name);
	if (h->version == 0)
		return img_err(-EBADMSG, "'%s': format version 0", name);
	k = img_kind_by_magic(h->magic);
	if (!k || (uint16_t)k->kind != h->kind)
		return img_err(-EBADMSG, "'%s': unknown kind %u / magic %#x", name, h->kind,
			       h->magic);
	if (h->flags & ~IMG_HF_ZSTD)
		return img_err(-EBADMSG, "'%s': unknown header flags %#x", name, h->flags);
	if (!!(h->flags & IMG_HF_ZSTD) != (h->kind != IMG_PAGES))
		return img_err(-EBADMSG, "'%s': header flags %#x do not fit kind %u", name,
			       h->flags, h->kind);
	return 0;
}

size_t img_frame_stored_max(void)
{
	return ZSTD_compressBound(IMG_MAX_FRAME_RAW);
}

void img_frame_hdr_encode(uint8_t out[IMG_FRAME_HDR_SIZE], const struct img_frame_hdr *h)
{
	put_le32(out, IMG_FRAME_MAGIC);
	put_le32(out + 4, h->flags);
	put_le32(out + 8, h->raw_len);
	put_le32(out + 12, h->stored_len);
	put_le64(out + 16, h->id);
	put_le64(out + 24, h->xxh3);
	put_le32(out + 32, (uint32_t)XXH3_64bits(out, 32));
	put_le32(out + 36, 0);
}

int img_frame_hdr_decode(const uint8_t *in, size_t len, struct img_frame_hdr *h,
			 const char *name, uint64_t off)
{
	unsigned long long o = off;

	if (len < IMG_FRAME_HDR_SIZE)
		return img_err(-EBADMSG, "'%s': truncated frame header at offset %llu", name, o);
	if (get_le32(in) != IMG_FRAME_MAGIC)
		return img_err(-EBADMSG, "'%s': bad frame magic %#x at offset %llu", name,
			       get_le32(in), o);
	h->flags = get_le32(in + 4);
	h->raw_len = get_le32(in + 8);
	h->stored_len = get_le32(in + 12);
	h->id = get_le64(in + 16);
	h->xxh3 = get_le64(in + 24);
	if (get_le32(in + 32) != (uint32_t)XXH3_64bits(in, 32) || get_le32(in + 36))
		return img_err(-EBADMSG, "'%s': frame header checksum mismatch at offset %llu",
			       name, o);
	if (h->flags & FRAME_END) {
		if (h->flags != FRAME_END || h->raw_len || h->stored_len || h->xxh3)
			return img_err(-EBADMSG, "'%s': bad end marker at offset %llu", name, o);
		return 0;
	}
	if (h->flags & ~(uint32_t)FRAME_ZSTD)
		return img_err(-EBADMSG, "'%s': frame %llu: unknown flags %#x at offset %llu",
			       name, (unsigned long long)h->id, h->flags, o);
	if (h->raw_len == 0 || h->raw_len > IMG_MAX_FRAME_RAW)
		return img_err(-EOVERFLOW, "'%s': frame %llu: raw length %u out of range at offset %llu",
			       name, (unsigned long long)h->id, h->raw_len, o);
	if (!(h->flags & FRAME_ZSTD) && h->stored_len != h->raw_len)
		return img_err(-EBADMSG, "'%s': frame %llu: raw frame with stored %u != raw %u",
			       name, (unsigned long long)h->id, h->stored_len, h->raw_len);
	if (h->stored_len == 0 || h->stored_len > img_frame_stored_max())
		return img_err(-EOVERFLOW, "'%s': frame %llu: stored length %u out of range at offset %llu",
			       name, (unsigned long long)h->id, h->stored_len, o);
	return 0;
}

uint64_t img_frame_hash(const void *payload, size_t len)
{
	return XXH3_64bits_dispatch(payload, len);
}
