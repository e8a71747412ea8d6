// SPDX-License-Identifier: MIT
/*
 * mmfields.c: the process-wide memory layout record (MmEntry): stat
 * fields start_code..env_end, brk, auxv, exe path and build id.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOG_PREFIX "mm: "
#include "inject.h"
#include "log.h"
#include "regs.h"
#include "util.h"
#include "vma.h"

/* /proc/PID/stat fields, 1-based, counted from the pid. */
enum {
	STAT_START_CODE = 26, STAT_END_CODE = 27, STAT_START_STACK = 28,
	STAT_START_DATA = 45, STAT_END_DATA, STAT_START_BRK, STAT_ARG_START,
	STAT_ARG_END, STAT_ENV_START, STAT_ENV_END, STAT_MAX = STAT_ENV_END,
};

static int read_stat(pid_t pid, MmEntry *m)
{
	char path[64], *s = NULL, *p;
	uint64_t f[STAT_MAX + 1];
	int i, ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	ret = read_file_str(path, &s, NULL, 4096);
	if (ret)
		return cm_err(ret == -ENOENT ? -ESRCH : ret, "cannot read '%s'", path);
	memset(f, 0, sizeof(f));
	p = strrchr(s, ')');	/* comm may hold spaces and ')' */
	for (i = 3; p && i <= STAT_MAX; i++) {
		p = strchr(p + 1, ' ');
		if (p)
			f[i] = strtoull(p + 1, NULL, 10);
	}
	free(s);
	if (!p)
		return cm_err(-EBADMSG, "pid %d: short '%s'", pid, path);
#define SET(field, idx) do { m->has_##field = 1; m->field = f[idx]; } while (0)
	SET(start_code, STAT_START_CODE);
	SET(end_code, STAT_END_CODE);
	SET(start_stack, STAT_START_STACK);
	SET(start_data, STAT_START_DATA);
	SET(end_data, STAT_END_DATA);
	SET(start_brk, STAT_START_BRK);
	SET(arg_start, STAT_ARG_START);
	SET(arg_end, STAT_ARG_END);
	SET(env_start, STAT_ENV_START);
	SET(env_end, STAT_ENV_END);
#undef SET
	return 0;
}

static int read_auxv(pid_t pid, MmEntry *m)
{
	char path[64], *s = NULL;
	size_t len, n, i;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	ret = read_file_str(path, &s, &len, 1 << 16);
	if (ret)
		return cm_err(ret == -ENOENT ? -ESRCH : ret, "cannot read '%s'", path);
	n = len / 8;
	m->auxv = calloc(n ? n : 1, sizeof(uint64_t));
	if (!m->auxv) {
		free(s);
		return -ENOMEM;
	}
	for (i = 0; i + 1 < n; i += 2) {
		memcpy(&m->auxv[i], s + i * 8, 8);
		memcpy(&m->auxv[i + 1], s + i * 8 + 8, 8);
		m->n_auxv = i + 2;
		if (!m->auxv[i])
			break;	/* AT_NULL kept as the terminator */
	}
	free(s);
	return 0;
}

static void read_misc(pid_t pid, MmEntry *m)
{
	char path[64], *s = NULL, *p;

	if (!regs_read_personality(pid, &m->personality))
		m->has_personality = 1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!read_file_str(path, &s, NULL, 1 << 16)) {
		p = strstr(s, "\nTHP_enabled:");
		if (p) {
			m->has_thp_disable = 1;
			m->thp_disable = !atoi(p + 13);
		}
		free(s);
	}
}

static void read_brk(pid_t pid, const struct vma_list *l, struct inject *in, MmEntry *m)
{
	unsigned long a[6] = { 0 };
	size_t i;
	long r;
	int ok = 0;

	if (in && in->active) {
		r = inject_syscall(in, SYS_brk, a, &ok);
		if (ok && r > 0) {
			m->has_brk = 1;
			m->brk = r;
			return;
		}
	}
	for (i = 0; l && i < l->nr; i++) {
		if (l->v[i].kind == VMA_KIND__VMA_HEAP) {
			m->has_brk = 1;
			m->brk = l->v[i].end;
			return;
		}
	}
	(void)pid;
	m->has_brk = 1;
	m->brk = m->start_brk;
}

int mm_entry_read(pid_t pid, const struct vma_list *l, struct inject *in, MmEntry *m)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;
	size_t i;
	int ret;

	mm_entry__init(m);
	m->pid = pid;
	m->nr_vmas = l ? l->nr : 0;
	ret = read_stat(pid, m);
	if (!ret)
		ret = read_auxv(pid, m);
	if (ret)
		goto fail;
	read_misc(pid, m);
	read_brk(pid, l, in, m);
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		m->exe_path = strdup(exe);
	}
	for (i = 0; m->exe_path && l && i < l->nr; i++) {
		const struct vma *v = &l->v[i];

		if (v->build_id_len && v->path && !strcmp(v->path, m->exe_path)) {
			m->exe_build_id.data = malloc(v->build_id_len);
			if (m->exe_build_id.data) {
				memcpy(m->exe_build_id.data, v->build_id, v->build_id_len);
				m->exe_build_id.len = v->build_id_len;
				m->has_exe_build_id = 1;
			}
			break;
		}
	}
	return 0;
fail:
	mm_entry_release(m);
	return ret;
}

void mm_entry_release(MmEntry *m)
{
	free(m->auxv);
	free(m->exe_path);
	free(m->exe_build_id.data);
	mm_entry__init(m);
}
