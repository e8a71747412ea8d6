// SPDX-License-Identifier: MIT
/*
 * reader.c: libFuzzer target for the image readers. The input is parsed
 * from memory as a record file (every record decoded) and as a page store
 * (every frame header, payload checksum and decompression).
 */
#include <stddef.h>
#include <stdint.h>

#include "img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_records(const uint8_t *data, size_t size)
{
	struct img_reader *r;
	ProtobufCMessage *m;

	if (img_reader_open_mem(data, size, "fuzz", &r))
		return;
	while (img_reader_next(r, &m) > 0)
		protobuf_c_message_free_unpacked(m, NULL);
	img_reader_free(r);
}

static void fuzz_frames(const uint8_t *data, size_t size)
{
	struct pstore_iter *it;
	struct img_frame f;
	int ret;

	if (pstore_iter_open_mem(data, size, "fuzz", &it))
		return;
	while ((ret = pstore_iter_next(it, &f, 1)) > 0 || (ret < 0 && pstore_iter_can_go_on(it)))
		;
	pstore_iter_free(it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_records(data, size);
	fuzz_frames(data, size);
	return 0;
}
