/* SPDX-License-Identifier: MIT */
/*
 * A progress bar on stderr, drawn only when stderr is a TTY (and not with
 * --json or -q). Redraws at most 10 times a second; progress_done() clears
 * the line. All functions accept a disabled bar.
 */
#ifndef CM_PROGRESS_H
#define CM_PROGRESS_H

#include <stdint.h>

struct progress {
	int enabled;
	const char *label;
	uint64_t total, done;
	uint64_t t_start, t_last;
};

/* total 0 means unknown (shows a counter only). force_off disables it. */
void progress_init(struct progress *p, const char *label, uint64_t total, int force_off);
void progress_set_total(struct progress *p, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
void progress_done(struct progress *p);

#endif
