// SPDX-License-Identifier: MIT
/*
 * json.c: the streaming JSON writer behind every --json output.
 */
#include <inttypes.h>
#include <math.h>

#include "json.h"

void json_init(struct json_out *j, FILE *f, int pretty)
{
	j->f = f;
	j->pretty = pretty;
	j->depth = 0;
	j->has_items[0] = 0;
}

static void json_indent(struct json_out *j)
{
	int i;

	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

static void json_escape(FILE *f, const char *s, size_t len)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Separator, indentation and key before a value. */
static void json_key(struct json_out *j, const char *key)
{
	if (j->depth > 0) {
		if (j->has_items[j->depth])
			fputc(',', j->f);
		j->has_items[j->depth] = 1;
		json_indent(j);
	}
	if (key) {
		json_escape(j->f, key, __builtin_strlen(key));
		fputs(j->pretty ? ": " : ":", j->f);
	}
}

static void json_open(struct json_out *j, const char *key, char c)
{
	json_key(j, key);
	fputc(c, j->f);
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->depth++;
	j->has_items[j->depth] = 0;
}

static void json_close(struct json_out *j, char c)
{
	int had = j->has_items[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (had)
		json_indent(j);
	fputc(c, j->f);
}

void json_obj_begin(struct json_out *j, const char *key)
{
	json_open(j, key, '{');
}

void json_obj_end(struct json_out *j)
{
	json_close(j, '}');
}

void json_arr_begin(struct json_out *j, const char *key)
{
	json_open(j, key, '[');
}

void json_arr_end(struct json_out *j)
{
	json_close(j, ']');
}

void json_strn(struct json_out *j, const char *key, const char *val, size_t len)
{
	json_key(j, key);
	if (!val)
		fputs("null", j->f);
	else
		json_escape(j->f, val, len);
}

void json_str(struct json_out *j, const char *key, const char *val)
{
	json_strn(j, key, val, val ? __builtin_strlen(val) : 0);
}

void json_u64(struct json_out *j, const char *key, uint64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json_out *j, const char *key, int64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void json_double(struct json_out *j, const char *key, double v)
{
	json_key(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.6g", v);
	else
		fputs("null", j->f);
}

void json_bool(struct json_out *j, const char *key, int v)
{
	json_key(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_hex(struct json_out *j, const char *key, uint64_t v)
{
	json_key(j, key);
	fprintf(j->f, "\"%#" PRIx64 "\"", v);
}

void json_bytes_hex(struct json_out *j, const char *key, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	json_key(j, key);
	fputc('"', j->f);
	for (i = 0; i < len; i++)
		fprintf(j->f, "%02x", b[i]);
	fputc('"', j->f);
}

void json_finish(struct json_out *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
