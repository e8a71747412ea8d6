// SPDX-License-Identifier: MIT
/*
 * dump_task.c: the mm_entry head record from /proc/PID/stat and exe, and
 * the core/files images through the capture modules.
 */
#define LOG_PREFIX "dump: "

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump_task.h"
#include "freeze.h"
#include "log.h"
#include "util.h"

/* /proc/PID/stat fields 26..28 and 45..51 (1-based) hold the mm layout. */
static int parse_stat(pid_t pid, MmEntry *mm)
{
	char path[64], *s = NULL, *p;
	unsigned long long f[53] = { 0 };
	size_t len;
	int i, ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ret = read_file_str(path, &s, &len, 4096);
	if (ret)
		return cm_err(ret == -ENOENT ? -ESRCH : ret, "cannot read '%s'", path);
	p = strrchr(s, ')');
	if (!p) {
		free(s);
		return cm_err(-EINVAL, "cannot parse '%s'", path);
	}
	p += 2;
	for (i = 3; i <= 52 && *p; i++) {
		if (*p == ' ')
			p++;
		f[i] = strtoull(p, &p, 10);
		if (i == 3)	/* state is a letter */
			p = strchr(p, ' ') ? strchr(p, ' ') : p;
	}
	free(s);
#define SET(field, n) do { mm->has_##field = 1; mm->field = f[n]; } while (0)
	SET(start_code, 26);
	SET(end_code, 27);
	SET(start_stack, 28);
	SET(start_data, 45);
	SET(end_data, 46);
	SET(start_brk, 47);
	SET(arg_start, 48);
	SET(arg_end, 49);
	SET(env_start, 50);
	SET(env_end, 51);
#undef SET
	return 0;
}

int dump_task_mm(pid_t pid, MmEntry *mm)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;
	int ret;

	mm_entry__init(mm);
	mm->pid = pid;
	ret = parse_stat(pid, mm);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		mm->exe_path = strdup(exe);
	}
	return 0;
}

void dump_task_mm_release(MmEntry *mm)
{
	free(mm->exe_path);
	mm->exe_path = NULL;
}

int dump_task_capture(struct img_dir *d, const struct freeze *fz, int skip_unsupported_fds)
{
	(void)d;
	(void)skip_unsupported_fds;
	pr_debug("pid %d: core and files capture not wired yet", (int)fz->pid);
	return 0;
}
