/* SPDX-License-Identifier: MIT */
/*
 * A streaming JSON writer for --json output. Keys are required inside
 * objects and must be NULL inside arrays and at the top level. Strings are
 * escaped (control characters, quotes, backslashes, invalid UTF-8 bytes as
 * \u00XX). Output is written as it goes; nothing is buffered but FILE's.
 */
#ifndef CM_JSON_H
#define CM_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json_out {
	FILE *f;
	int pretty;
	int depth;
	unsigned char has_items[JSON_MAX_DEPTH];
};

void json_init(struct json_out *j, FILE *f, int pretty);
void json_obj_begin(struct json_out *j, const char *key);
void json_obj_end(struct json_out *j);
void json_arr_begin(struct json_out *j, const char *key);
void json_arr_end(struct json_out *j);
/* val NULL writes null. */
void json_str(struct json_out *j, const char *key, const char *val);
void json_strn(struct json_out *j, const char *key, const char *val, size_t len);
void json_u64(struct json_out *j, const char *key, uint64_t v);
void json_i64(struct json_out *j, const char *key, int64_t v);
void json_double(struct json_out *j, const char *key, double v);
void json_bool(struct json_out *j, const char *key, int v);
/* "0x1234" as a string (addresses). */
void json_hex(struct json_out *j, const char *key, uint64_t v);
/* Bytes as a lowercase hex string. */
void json_bytes_hex(struct json_out *j, const char *key, const void *p, size_t len);
/* Ends the document with a newline. */
void json_finish(struct json_out *j);

#endif
