// SPDX-License-Identifier: MIT
/*
 * test_img_codec.c: kinds table, headers, record files and the page-store
 * frame walker, including every error path: truncation at every byte,
 * flipped bits, wrong magic, newer version, absurd lengths.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "imgint.h"
#include "test_img.h"
#include "unit.h"
#include "util.h"

UNIT_TEST(img_kinds_table)
{
	char name[64];
	unsigned int pid;
	int k;

	for (k = IMG_INVENTORY; k < IMG_KIND_MAX; k++) {
		const struct img_kind_desc *d = img_kind_get(k);

		CHECK(d && (int)d->kind == k);
		CHECK(img_kind_by_magic(d->magic) == d);
		CHECK(!img_kind_filename(k, 1234, name, sizeof(name)));
		CHECK_EQ(img_kind_from_name(name, &pid), k);
		CHECK(k == IMG_INVENTORY || pid == 1234);
	}
	CHECK(!img_kind_filename(IMG_MM, 5, name, sizeof(name)) && !strcmp(name, "mm-5.img"));
	CHECK_EQ(img_kind_filename(IMG_MM, 5, name, 4), -ENAMETOOLONG);
	CHECK_EQ(img_kind_from_name("mm-.img", NULL), -1);
	CHECK_EQ(img_kind_from_name("mm-5.imgx", NULL), -1);
	CHECK(img_kind_get(0) == NULL && img_kind_by_magic(0) == NULL);
	return 0;
}

UNIT_TEST(img_header_codec)
{
	struct img_hdr h = { img_kind_get(IMG_MM)->magic, IMG_FORMAT_VERSION, IMG_MM, IMG_HF_ZSTD };
	struct img_hdr got;
	uint8_t *buf = unit_guard_alloc(IMG_HDR_SIZE);
	size_t i;
	int b;

	img_hdr_encode(buf, &h);
	CHECK_EQ(img_hdr_decode(buf, IMG_HDR_SIZE, &got, "t"), 0);
	CHECK(got.magic == h.magic && got.kind == IMG_MM && got.version == 1);
	for (i = 0; i < IMG_HDR_SIZE; i++)
		CHECK(img_hdr_decode(buf, i, &got, "t") == -EBADMSG);
	for (i = 0; i < IMG_HDR_SIZE * 8; i++) {
		buf[i / 8] ^= 1 << (i % 8);
		b = img_hdr_decode(buf, IMG_HDR_SIZE, &got, "t");
		CHECK(b == -EBADMSG || b == -EPROTONOSUPPORT);
		buf[i / 8] ^= 1 << (i % 8);
	}
	h.version = IMG_FORMAT_VERSION + 1;
	img_hdr_encode(buf, &h);
	CHECK_EQ(img_hdr_decode(buf, IMG_HDR_SIZE, &got, "t"), -EPROTONOSUPPORT);
	CHECK(strstr(img_strerror(), "newer"));
	unit_guard_free(buf, IMG_HDR_SIZE);
	return 0;
}

UNIT_TEST(img_frame_header_codec)
{
	struct img_frame_hdr h = { FRAME_ZSTD, 8192, 100, 7, 0x1234567890ull }, got;
	uint8_t *buf = unit_guard_alloc(IMG_FRAME_HDR_SIZE);
	size_t i;

	img_frame_hdr_encode(buf, &h);
	CHECK_EQ(img_frame_hdr_decode(buf, IMG_FRAME_HDR_SIZE, &got, "t", 0), 0);
	CHECK(got.id == 7 && got.xxh3 == h.xxh3 && got.raw_len == 8192 && got.stored_len == 100);
	for (i = 0; i < IMG_FRAME_HDR_SIZE * 8; i++) {
		buf[i / 8] ^= 1 << (i % 8);
		CHECK(img_frame_hdr_decode(buf, IMG_FRAME_HDR_SIZE, &got, "t", 0) < 0);
		buf[i / 8] ^= 1 << (i % 8);
	}
	h.raw_len = IMG_MAX_FRAME_RAW + 4096;
	img_frame_hdr_encode(buf, &h);
	CHECK_EQ(img_frame_hdr_decode(buf, IMG_FRAME_HDR_SIZE, &got, "t", 0), -EOVERFLOW);
	h = (struct img_frame_hdr){ 0, 4096, 4095, 0, 0 };	/* raw but stored != raw */
	img_frame_hdr_encode(buf, &h);
	CHECK_EQ(img_frame_hdr_decode(buf, IMG_FRAME_HDR_SIZE, &got, "t", 0), -EBADMSG);
	unit_guard_free(buf, IMG_FRAME_HDR_SIZE);
	return 0;
}

/* Writes mm-1.img with nr VMAs into a fresh temp dir; returns its bytes. */
static long write_mm(size_t nr, uint8_t **out)
{
	MmEntry mm = MM_ENTRY__INIT;
	struct img_writer *w;
	struct img_dir *d;
	char path[128], file[256];
	size_t i;
	long len;

	snprintf(path, sizeof(path), "%s/d", unit_tmpdir());
	if (img_dir_create(path, IMG_DIR_NOFSYNC, &d) || img_writer_open(d, IMG_MM, "mm-1.img", &w))
		return -1;
	mm.pid = 1;
	mm.nr_vmas = nr;
	if (img_writer_put(w, &mm.base))
		return -1;
	for (i = 0; i < nr; i++) {
		VmaEntry v = VMA_ENTRY__INIT;

		v.start = 0x1000 * (2 * i + 1);
		v.end = v.start + 0x1000;
		v.path = i % 3 ? "/lib/libc.so.6" : NULL;
		if (img_writer_put(w, &v.base))
			return -1;
	}
	if (img_writer_close(w))
		return -1;
	snprintf(file, sizeof(file), "/proc/self/fd/%d/mm-1.img", img_dir_fd(d));
	len = timg_slurp(file, out);
	img_dir_free(d);
	*strrchr(path, '/') = 0;
	timg_rmrf(path);
	return len;
}

/* Reads every record of buf; returns count, or -errno; sum of starts into *sum. */
static long read_all(const uint8_t *buf, size_t len, uint64_t *sum)
{
	struct img_reader *r;
	ProtobufCMessage *m;
	long n = 0;
	int ret;

	*sum = 0;
	ret = img_reader_open_mem(buf, len, "mem", &r);
	if (ret)
		return ret;
	while ((ret = img_reader_next(r, &m)) > 0) {
		if (n++)
			*sum += ((VmaEntry *)m)->start;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	img_reader_free(r);
	return ret ? ret : n;
}

UNIT_TEST(img_record_roundtrip)
{
	uint8_t *file, *g;
	uint64_t sum, want = 0;
	long len = write_mm(1000, &file);
	size_t i;

	CHECK(len > IMG_HDR_SIZE);
	for (i = 0; i < 1000; i++)
		want += 0x1000 * (2 * i + 1);
	g = unit_guard_alloc(len);
	memcpy(g, file, len);
	CHECK_EQ(read_all(g, len, &sum), 1001);
	CHECK_EQ(sum, want);
	unit_guard_free(g, len);
	free(file);
	return 0;
}

UNIT_TEST(img_record_truncation_every_byte)
{
	uint8_t *file;
	uint64_t sum;
	long len = write_mm(5, &file), i;

	CHECK(len > 0);
	for (i = 0; i < len; i++) {
		uint8_t *g = unit_guard_alloc(i);
		long r;

		memcpy(g, file, i);
		r = read_all(g, i, &sum);
		if (r >= 0) {
			fprintf(stderr, "  truncation at %ld not detected (%ld records)\n", i, r);
			return 1;
		}
		unit_guard_free(g, i);
	}
	free(file);
	return 0;
}

/* A flipped bit must give an error or leave every record intact. */
UNIT_TEST(img_record_bitflip_every_bit)
{
	uint8_t *file, *g;
	uint64_t sum, want;
	long len = write_mm(5, &file), i, undetected = 0;

	CHECK(len > 0);
	CHECK_EQ(read_all(file, len, &want), 6);
	g = unit_guard_alloc(len);
	for (i = 0; i < len * 8; i++) {
		long r;

		memcpy(g, file, len);
		g[i / 8] ^= 1 << (i % 8);
		r = read_all(g, len, &sum);
		if (r >= 0 && (r != 6 || sum != want)) {
			fprintf(stderr, "  flip of bit %ld: silent corruption\n", i);
			return 1;
		}
		undetected += r >= 0;
	}
	CHECK(undetected < 16);	/* only zstd frame-header bits that change nothing */
	unit_guard_free(g, len);
	free(file);
	return 0;
}

/* Builds header + one zstd frame (checksummed) of raw record bytes. */
static size_t make_file(uint8_t *out, size_t cap, int version, const void *raw, size_t len)
{
	struct img_hdr h = { img_kind_get(IMG_PAGEIDX)->magic, version, IMG_PAGEIDX, IMG_HF_ZSTD };
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t n;

	img_hdr_encode(out, &h);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	n = ZSTD_compress2(c, out + IMG_HDR_SIZE, cap - IMG_HDR_SIZE, raw, len);
	ZSTD_freeCCtx(c);
	return ZSTD_isError(n) ? 0 : IMG_HDR_SIZE + n;
}

UNIT_TEST(img_record_bad_lengths)
{
	uint8_t raw[64], file[256], *g;
	uint64_t sum;
	size_t n;

	memset(raw, 0, sizeof(raw));
	put_le32(raw, 0x7ffffff0);		/* absurd length */
	n = make_file(file, sizeof(file), 1, raw, 16);
	g = unit_guard_alloc(n);
	memcpy(g, file, n);
	CHECK_EQ(read_all(g, n, &sum), -EOVERFLOW);
	unit_guard_free(g, n);

	put_le32(raw, 40);			/* longer than the stream */
	n = make_file(file, sizeof(file), 1, raw, 20);
	CHECK_EQ(read_all(file, n, &sum), -EBADMSG);
	CHECK(strstr(img_strerror(), "record 0"));

	put_le32(raw, 3);			/* not a protobuf */
	memset(raw + 4, 0xff, 3);
	put_le32(raw + 7, IMG_REC_END);
	put_le64(raw + 11, 1);
	n = make_file(file, sizeof(file), 1, raw, 19);
	CHECK_EQ(read_all(file, n, &sum), -EBADMSG);

	put_le32(raw, IMG_REC_END);		/* wrong count in the end marker */
	put_le64(raw + 4, 3);
	n = make_file(file, sizeof(file), 1, raw, 12);
	CHECK_EQ(read_all(file, n, &sum), -EBADMSG);
	put_le64(raw + 4, 0);			/* right count: an empty pageidx */
	n = make_file(file, sizeof(file), 1, raw, 12);
	CHECK_EQ(read_all(file, n, &sum), 0);
	n = make_file(file, sizeof(file), 1, raw, 13);	/* data after the end */
	CHECK_EQ(read_all(file, n, &sum), -EBADMSG);
	n = make_file(file, sizeof(file), 2, raw, 12);	/* newer version */
	CHECK_EQ(read_all(file, n, &sum), -EPROTONOSUPPORT);
	n = make_file(file, sizeof(file), 1, raw, 12);
	file[0] ^= 0x20;			/* wrong magic */
	CHECK_EQ(read_all(file, n, &sum), -EBADMSG);
	return 0;
}

/* A small page store: 3 frames, one raw. */
static long write_pages(uint8_t **out)
{
	static const struct timg_vma v[] = { { 0x10000, 3, 0, NULL, "PPZPPRRP" } };
	struct timg t = { .pid = 3, .vmas = v, .nr_vmas = 1,
			  .opts = { .frame_bytes = 3 * 4096, .threads = 2 } };
	char path[128], file[256];
	long len;

	snprintf(path, sizeof(path), "%s/img", unit_tmpdir());
	if (timg_write(path, &t, NULL))
		return -1;
	snprintf(file, sizeof(file), "%s/pages-3.img", path);
	len = timg_slurp(file, out);
	*strrchr(path, '/') = 0;
	timg_rmrf(path);
	return len;
}

static long walk_pages(const uint8_t *buf, size_t len)
{
	struct pstore_iter *it;
	struct img_frame f;
	long n = 0;
	int ret;

	ret = pstore_iter_open_mem(buf, len, "pages", &it);
	if (ret)
		return ret;
	while ((ret = pstore_iter_next(it, &f, 1)) > 0)
		n++;
	pstore_iter_free(it);
	return ret ? ret : n;
}

UNIT_TEST(img_pages_truncation_and_flips)
{
	uint8_t *file;
	long len = write_pages(&file), i;

	CHECK(len > 0);
	CHECK_EQ(walk_pages(file, len), 3);
	for (i = 0; i < len; i++) {
		uint8_t *g = unit_guard_alloc(i);

		memcpy(g, file, i);
		if (walk_pages(g, i) >= 0) {
			fprintf(stderr, "  truncation at %ld not detected\n", i);
			return 1;
		}
		unit_guard_free(g, i);
	}
	{
		uint8_t *g = unit_guard_alloc(len);

		for (i = 0; i < len; i++) {	/* one bit per byte: headers, payloads, end */
			memcpy(g, file, len);
			g[i] ^= 1 << (i % 8);
			if (walk_pages(g, len) >= 0) {
				fprintf(stderr, "  flip at byte %ld not detected\n", i);
				return 1;
			}
		}
		unit_guard_free(g, len);
	}
	free(file);
	return 0;
}

/* A payload error names its frame and the walk goes on; a header error stops it. */
UNIT_TEST(img_pages_walk_goes_on_after_payload_errors)
{
	struct pstore_iter *it;
	struct img_frame f;
	uint8_t *file;
	long len = write_pages(&file);
	int ret, ok = 0, bad = 0;

	CHECK(len > 0);
	file[IMG_HDR_SIZE + IMG_FRAME_HDR_SIZE + 3] ^= 0x80;	/* payload of frame 0 */
	CHECK(!pstore_iter_open_mem(file, len, "p", &it));
	while ((ret = pstore_iter_next(it, &f, 1)) != 0) {
		if (ret > 0) {
			ok++;
			continue;
		}
		CHECK(pstore_iter_can_go_on(it));
		CHECK(strstr(img_strerror(), "frame 0"));
		bad++;
	}
	CHECK_EQ(ok, 2);
	CHECK_EQ(bad, 1);
	pstore_iter_free(it);
	file[IMG_HDR_SIZE + IMG_FRAME_HDR_SIZE + 3] ^= 0x80;
	file[IMG_HDR_SIZE + 9] ^= 0x01;				/* header of frame 0 */
	CHECK(!pstore_iter_open_mem(file, len, "p", &it));
	CHECK(pstore_iter_next(it, &f, 1) < 0);
	CHECK(!pstore_iter_can_go_on(it));
	CHECK(pstore_iter_next(it, &f, 1) < 0);
	pstore_iter_free(it);
	free(file);
	return 0;
}

/* The page-store output stage, buffered and O_DIRECT: same bytes, same hash. */
UNIT_TEST(img_pout_direct_and_buffered)
{
	const size_t len = (9u << 20) + 12345;
	uint8_t *src = malloc(len), *back;
	char path[128];
	int direct;
	size_t i;

	for (i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 7 + (i >> 12));
	for (direct = 0; direct < 2; direct++) {
		struct pout o;
		uint64_t size, hash;
		size_t off = 0, step = 1;
		int fd;
		long got;

		snprintf(path, sizeof(path), "%s/p", unit_tmpdir());
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0);
		CHECK(!pout_open(&o, fd, "p", direct));
		while (off < len) {	/* odd-sized pieces */
			struct iovec iov[2] = { { src + off, MIN(step, len - off) }, { NULL, 0 } };

			CHECK(!pout_writev(&o, iov, 2));
			off += iov[0].iov_len;
			step = step * 3 + 1;
		}
		CHECK(!pout_close(&o, &size, &hash));
		pout_release(&o);
		CHECK_EQ(size, len);
		CHECK(hash == XXH3_64bits(src, len));
		got = timg_slurp(path, &back);
		CHECK_EQ(got, (long)len);
		CHECK(!memcmp(back, src, len));
		free(back);
		*strrchr(path, '/') = 0;
		timg_rmrf(path);
	}
	free(src);
	return 0;
}
