// SPDX-License-Identifier: MIT
/*
 * cmd_decode.c: `criu-mem decode FILE [--json]`: every record of any image
 * file, printed generically from its protobuf descriptors; for a page store,
 * every frame header. Garbage input gives a clear error, never a crash.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "decode: "
#include "cli.h"
#include "img.h"
#include "imgopen.h"
#include "json.h"
#include "log.h"
#include "util.h"

struct dec {
	FILE *out;
	struct json_out *j;	/* NULL: text */
	int depth;
};

static void dec_usage(FILE *f)
{
	fprintf(f, "usage: criu-mem decode [--json] FILE\n\n"
		   "Prints every record of an image file (any kind), decoded from its\n"
		   "protobuf schema; for a page store (pages-PID.img), every frame header.\n"
		   "Text output shows numbers >= 0x10000 in hex and bytes as hex.\n\n"
		   "  -j, --json   one JSON document on stdout\n");
}

static void dec_msg(struct dec *d, const char *key, const ProtobufCMessage *m);

/* Human output shows at most this many bytes of a string or bytes field. */
#define DEC_TEXT_MAX	4096

static void dec_hex(FILE *f, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < DEC_TEXT_MAX; i++)
		fprintf(f, "%02x", p[i]);
	if (len > DEC_TEXT_MAX)
		fputs("...", f);
}

static void dec_text_key(struct dec *d, const char *key)
{
	fprintf(d->out, "%*s%s: ", 2 * d->depth, "", key);
}

static void dec_u64(struct dec *d, const char *key, uint64_t v)
{
	if (d->j) {
		json_u64(d->j, key, v);
		return;
	}
	dec_text_key(d, key);
	fprintf(d->out, v >= 0x10000 ? "%#" PRIx64 "\n" : "%" PRIu64 "\n", v);
}

static void dec_i64(struct dec *d, const char *key, int64_t v)
{
	if (d->j)
		json_i64(d->j, key, v);
	else {
		dec_text_key(d, key);
		fprintf(d->out, "%" PRId64 "\n", v);
	}
}

/* A number or bool of field f at p. */
static void dec_scalar(struct dec *d, const ProtobufCFieldDescriptor *f, const void *p)
{
	double v;
	int b;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		dec_i64(d, f->name, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		dec_u64(d, f->name, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		dec_i64(d, f->name, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		dec_u64(d, f->name, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		v = f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)p : *(const double *)p;
		if (d->j)
			json_double(d->j, f->name, v);
		else {
			dec_text_key(d, f->name);
			fprintf(d->out, "%g\n", v);
		}
		break;
	case PROTOBUF_C_TYPE_BOOL:
		b = *(const protobuf_c_boolean *)p;
		if (d->j)
			json_bool(d->j, f->name, b);
		else {
			dec_text_key(d, f->name);
			fprintf(d->out, "%s\n", b ? "true" : "false");
		}
		break;
	default:
		break;
	}
}

/* One value of field f at p. */
static void dec_value(struct dec *d, const ProtobufCFieldDescriptor *f, const void *p)
{
	const ProtobufCEnumValue *ev;
	const ProtobufCBinaryData *bd;
	char safe[DEC_TEXT_MAX + 8];
	const char *s;

	switch (f->type) {
	case PROTOBUF_C_TYPE_ENUM:
		ev = protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
		if (!ev) {
			dec_i64(d, f->name, *(const int *)p);
		} else if (d->j) {
			json_str(d->j, f->name, ev->name);
		} else {
			dec_text_key(d, f->name);
			fprintf(d->out, "%s\n", ev->name);
		}
		break;
	case PROTOBUF_C_TYPE_STRING:
		s = *(char *const *)p;
		if (d->j)
			json_str(d->j, f->name, s);
		else {
			dec_text_key(d, f->name);
			fprintf(d->out, "\"%s\"\n", img_str_safe(s, safe, sizeof(safe)));
		}
		break;
	case PROTOBUF_C_TYPE_BYTES:
		bd = p;
		if (d->j) {
			json_bytes_hex(d->j, f->name, bd->data, bd->len);
		} else {
			dec_text_key(d, f->name);
			dec_hex(d->out, bd->data, bd->len);
			fprintf(d->out, " (%zu bytes)\n", bd->len);
		}
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		dec_msg(d, f->name, *(ProtobufCMessage *const *)p);
		break;
	default:
		dec_scalar(d, f, p);
		break;
	}
}

static size_t dec_elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

/* Is optional field f present in m? */
static int dec_has(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
	if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
		return *(void *const *)(base + f->offset) != NULL;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
		return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
	return 1;
}

static void dec_msg(struct dec *d, const char *key, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *md = m->descriptor;
	const char *base = (const char *)m;
	unsigned int i;

	if (d->j) {
		json_obj_begin(d->j, key);
	} else if (key) {
		fprintf(d->out, "%*s%s {\n", 2 * d->depth, "", key);
	}
	if (key)
		d->depth++;
	for (i = 0; i < md->n_fields && d->depth < JSON_MAX_DEPTH - 4; i++) {
		const ProtobufCFieldDescriptor *f = &md->fields[i];

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset), k;
			const char *arr = *(char *const *)(base + f->offset);
			ProtobufCFieldDescriptor one = *f;

			if (d->j)
				json_arr_begin(d->j, f->name);
			one.name = d->j ? NULL : f->name;
			for (k = 0; k < n; k++)
				dec_value(d, &one, arr + k * dec_elem_size(f));
			if (d->j)
				json_arr_end(d->j);
			continue;
		}
		if (dec_has(m, f))
			dec_value(d, f, base + f->offset);
	}
	if (key)
		d->depth--;
	if (d->j)
		json_obj_end(d->j);
	else if (key)
		fprintf(d->out, "%*s}\n", 2 * d->depth, "");
}

static int dec_records(struct dec *d, struct img_reader *r)
{
	const struct img_kind_desc *k = img_kind_get(img_reader_kind(r));
	ProtobufCMessage *m;
	int ret;

	if (d->j)
		json_arr_begin(d->j, "records");
	while ((ret = img_reader_next(r, &m)) > 0) {
		uint64_t idx = img_reader_index(r);

		if (d->j) {
			json_obj_begin(d->j, NULL);
			json_u64(d->j, "index", idx);
			json_u64(d->j, "offset", img_reader_offset(r));
			json_str(d->j, "type", m->descriptor->name);
			dec_msg(d, "value", m);
			json_obj_end(d->j);
		} else {
			fprintf(d->out, "record %" PRIu64 " at offset %" PRIu64 ": %s%s\n", idx,
				img_reader_offset(r), m->descriptor->name,
				idx == 0 && k->head ? " (head)" : "");
			d->depth = 1;
			dec_msg(d, NULL, m);
			d->depth = 0;
		}
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if (d->j)
		json_arr_end(d->j);
	return ret;
}

static int dec_frames(struct dec *d, struct pstore_iter *it)
{
	struct img_frame f;
	int ret;

	if (d->j)
		json_arr_begin(d->j, "frames");
	while ((ret = pstore_iter_next(it, &f, 0)) > 0) {
		if (d->j) {
			json_obj_begin(d->j, NULL);
			json_u64(d->j, "id", f.id);
			json_u64(d->j, "file_offset", f.file_offset);
			json_str(d->j, "flags", f.flags & FRAME_ZSTD ? "zstd" : "raw");
			json_u64(d->j, "raw_len", f.raw_len);
			json_u64(d->j, "stored_len", f.stored_len);
			json_hex(d->j, "xxh3", f.xxh3);
			json_obj_end(d->j);
		} else {
			fprintf(d->out, "frame %" PRIu64 " at offset %" PRIu64
				": %s raw_len %u stored_len %u xxh3 %016" PRIx64 "\n", f.id,
				f.file_offset, f.flags & FRAME_ZSTD ? "zstd" : "raw", f.raw_len,
				f.stored_len, f.xxh3);
		}
	}
	if (d->j)
		json_arr_end(d->j);
	return ret;
}

static int dec_file(struct dec *d, const char *path)
{
	struct img_reader *r = NULL;
	struct pstore_iter *it = NULL;
	const struct img_kind_desc *k;
	int ret;

	ret = img_reader_open_path(path, &r);
	if (ret) {
		if (d->j) {
			json_obj_begin(d->j, NULL);
			json_str(d->j, "file", path);
			json_str(d->j, "error", img_strerror());
			json_obj_end(d->j);
			json_finish(d->j);
		}
		return cm_err(ret, "%s", img_strerror());
	}
	k = img_kind_get(img_reader_kind(r));
	if (d->j) {
		json_obj_begin(d->j, NULL);
		json_str(d->j, "file", path);
		json_str(d->j, "kind", k->name);
		json_u64(d->j, "format_version", IMG_FORMAT_VERSION);
	} else {
		fprintf(d->out, "# %s: %s image\n", path, k->name);
	}
	if (k->kind == IMG_PAGES) {
		ret = pstore_iter_open_path(path, &it);
		if (!ret)
			ret = dec_frames(d, it);
	} else {
		ret = dec_records(d, r);
	}
	if (ret < 0) {
		if (d->j)
			json_str(d->j, "error", img_strerror());
		cm_err(ret, "%s", img_strerror());
	}
	if (d->j) {
		json_obj_end(d->j);
		json_finish(d->j);
	}
	pstore_iter_free(it);
	img_reader_free(r);
	return ret < 0 ? ret : 0;
}

int cmd_decode(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_out j;
	struct dec d = { .out = stdout };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			d.j = &j;
			break;
		default:	/* 'h' or a bad option */
			return imgopen_usage(c, dec_usage);
		}
	}
	if (optind + 1 != argc) {
		dec_usage(stderr);
		return CM_EXIT_USAGE;
	}
	if (d.j)
		json_init(&j, stdout, 1);
	return cm_exit_code(dec_file(&d, argv[optind]));
}
