// SPDX-License-Identifier: MIT
/*
 * progress.c: the TTY progress bar for long operations (dump, restore,
 * grep, core).
 */
#include <stdio.h>
#include <unistd.h>

#include "progress.h"
#include "util.h"

void progress_init(struct progress *p, const char *label, uint64_t total, int force_off)
{
	p->enabled = !force_off && isatty(STDERR_FILENO);
	p->label = label;
	p->total = total;
	p->done = 0;
	p->t_start = now_ns();
	p->t_last = 0;
}

void progress_set_total(struct progress *p, uint64_t total)
{
	p->total = total;
}

static void progress_draw(struct progress *p, uint64_t now)
{
	double secs = (now - p->t_start) / 1e9;
	double mib = p->done / 1048576.0;
	char bar[31];
	int i, fill;

	if (p->total) {
		fill = (int)(30.0 * (p->done > p->total ? p->total : p->done) / p->total);
		for (i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = 0;
		fprintf(stderr, "\r%s [%s] %5.1f%% %8.1f MiB %7.1f MiB/s ", p->label, bar,
			100.0 * p->done / p->total, mib, secs > 0 ? mib / secs : 0.0);
	} else {
		fprintf(stderr, "\r%s %8.1f MiB %7.1f MiB/s ", p->label, mib,
			secs > 0 ? mib / secs : 0.0);
	}
}

void progress_update(struct progress *p, uint64_t done)
{
	uint64_t now;

	p->done = done;
	if (!p->enabled)
		return;
	now = now_ns();
	if (now - p->t_last < 100000000ull)
		return;
	p->t_last = now;
	progress_draw(p, now);
}

void progress_done(struct progress *p)
{
	if (!p->enabled)
		return;
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
	p->enabled = 0;
}
