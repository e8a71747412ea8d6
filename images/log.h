/* SPDX-License-Identifier: MIT */
/*
 * Logging and error reporting shared by every part of criu-mem.
 *
 * Contract:
 *  - pr_err/pr_warn/pr_info/pr_debug print "<LOG_PREFIX>msg\n" to stderr
 *    when the level allows; the logger adds the newline.
 *  - cm_err(err, fmt, ...) logs "error: <msg>: <strerror(-err)>" and returns
 *    err unchanged (err is a negative errno), so a caller can write
 *    "return cm_err(-errno, "cannot open '%s'", path);".
 *  - The level is process-wide state owned by log.c (the one deliberate
 *    exception to "no mutable globals"); main() sets it once from -v/-q.
 *  - images/ logs only at debug level; it reports errors with img_err()
 *    (see img.h), which the caller prints or not.
 */
#ifndef CM_LOG_H
#define CM_LOG_H

#include <errno.h>
#include <stdarg.h>

enum log_level {
	LOG_ERR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

#ifndef LOG_PREFIX
#define LOG_PREFIX ""
#endif

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_printf(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs "error: <LOG_PREFIX><msg>: <strerror(-err)>" and returns err. */
int cm_err_at(const char *prefix, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define cm_err(err, fmt, ...) cm_err_at(LOG_PREFIX, (err), fmt, ##__VA_ARGS__)

#define pr_err(fmt, ...)   log_printf(LOG_ERR, "error: " LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)  log_printf(LOG_WARN, "warning: " LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)  log_printf(LOG_INFO, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_printf(LOG_DEBUG, LOG_PREFIX fmt, ##__VA_ARGS__)

/* Internal invariant only; never for input validation. */
#define BUG_ON(cond)                                                              \
	do {                                                                      \
		if (cond) {                                                       \
			log_printf(LOG_ERR, "BUG at %s:%d: %s", __FILE__, __LINE__, \
				   #cond);                                        \
			__builtin_trap();                                         \
		}                                                                 \
	} while (0)

#endif
