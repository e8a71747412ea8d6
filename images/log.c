// SPDX-License-Identifier: MIT
/*
 * log.c owns the process-wide log level and formats every message that
 * criu-mem prints to stderr.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"

/* The only mutable global of the project: the log level (see log.h). */
static enum log_level log_level = LOG_WARN;

void log_set_level(enum log_level lvl)
{
	log_level = lvl;
}

enum log_level log_get_level(void)
{
	return log_level;
}

static void log_vprintf(enum log_level lvl, const char *fmt, va_list ap, const char *tail)
	__attribute__((format(printf, 2, 0)));
static void log_vprintf(enum log_level lvl, const char *fmt, va_list ap, const char *tail)
{
	char buf[2048];
	int n;

	if (lvl > log_level)
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	/* One write per message so that threads don't interleave lines. */
	fprintf(stderr, "%s%s\n", buf, tail ? tail : "");
}

void log_printf(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprintf(lvl, fmt, ap, NULL);
	va_end(ap);
}

int cm_err_at(const char *prefix, int err, const char *fmt, ...)
{
	char msg[1600], tail[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(tail, sizeof(tail), ": %s", strerror(err < 0 ? -err : err));
	log_printf(LOG_ERR, "error: %s%s%s", prefix, msg, tail);
	return err;
}
