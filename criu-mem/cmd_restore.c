// SPDX-License-Identifier: MIT
/*
 * cmd_restore.c: "criu-mem restore" options (CRIU names). With -t PID the
 * live process is rolled back in place (restore_inplace.c); without it a
 * new process is built from the image (restore_new.c).
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "restore.h"

enum {
	OPT_PIDFILE = 256, OPT_PIDMISMATCH, OPT_FORCE, OPT_KILL, OPT_JSON, OPT_THREADS,
	OPT_CGROUP, OPT_NOPROGRESS,
};

static const struct option restore_longopts[] = {
	{ "images-dir", required_argument, NULL, 'D' },
	{ "tree", required_argument, NULL, 't' },
	{ "restore-detached", no_argument, NULL, 'd' },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "pid-mismatch-ok", no_argument, NULL, OPT_PIDMISMATCH },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "kill-on-error", no_argument, NULL, OPT_KILL },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "freeze-cgroup", required_argument, NULL, OPT_CGROUP },
	{ "no-progress", no_argument, NULL, OPT_NOPROGRESS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void restore_usage(FILE *f)
{
	fprintf(f,
		"usage: criu-mem restore -D DIR [-t PID] [options]\n\n"
		"Brings a dumped memory image back to life.\n"
		"  with -t PID: rolls the live process PID (the same program, later in its\n"
		"               life) back to the image: layout, contents, madvise state and\n"
		"               registers of every thread (matched by tid).\n"
		"  without -t:  creates a new process from the image.\n\n"
		"  -D, --images-dir DIR     image directory\n"
		"  -t, --tree PID           restore in place into this live process\n"
		"  -d, --restore-detached   new process: do not wait for it\n"
		"      --pidfile FILE       write the restored pid to FILE\n"
		"      --pid-mismatch-ok    new process: accept other pids/tids than the image's\n"
		"      --force              in place: restore even if the executable differs\n"
		"      --kill-on-error      kill the target if the restore fails after it was\n"
		"                           modified (default: leave it stopped)\n"
		"      --threads N          decompression threads (default: online CPUs)\n"
		"      --freeze-cgroup PATH freeze through this cgroup (v2 or v1 freezer)\n"
		"      --no-progress        no progress bar\n"
		"      --json               print the summary as JSON on stdout\n"
		"  -h, --help               this text\n\n"
		"The whole image is read and every checksum verified before the target is\n"
		"touched; a corrupt image or one for another arch, page size or vdso layout\n"
		"is refused.\n"
		"exit codes: 0 ok, 1 failure, 2 usage, 3 bad image, 4 target missing/traced\n");
}

static int parse_num(const char *s, const char *what, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		pr_err("invalid %s '%s' (expected %ld..%ld)", what, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_one(struct restore_opts *o, int opt, const char *arg)
{
	long v;

	switch (opt) {
	case 'D': o->images_dir = arg; return 0;
	case 't':
		if (parse_num(arg, "pid", 1, INT_MAX, &v))
			return -EINVAL;
		o->tree_pid = (pid_t)v;
		return 0;
	case 'd': o->detached = 1; return 0;
	case OPT_PIDFILE: o->pidfile = arg; return 0;
	case OPT_PIDMISMATCH: o->pid_mismatch_ok = 1; return 0;
	case OPT_FORCE: o->force = 1; return 0;
	case OPT_KILL: o->kill_on_error = 1; return 0;
	case OPT_JSON: o->json = 1; return 0;
	case OPT_THREADS:
		if (parse_num(arg, "thread count", 1, 256, &v))
			return -EINVAL;
		o->threads = (unsigned int)v;
		return 0;
	case OPT_CGROUP: o->freeze_cgroup = arg; return 0;
	case OPT_NOPROGRESS: o->no_progress = 1; return 0;
	default: return -EINVAL;
	}
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o;
	int opt, ret;

	memset(&o, 0, sizeof(o));
	while ((opt = getopt_long(argc, argv, "D:t:dh", restore_longopts, NULL)) != -1) {
		if (opt == 'h') {
			restore_usage(stdout);
			return CM_EXIT_OK;
		}
		if (opt == '?' || parse_one(&o, opt, optarg)) {
			restore_usage(stderr);
			return CM_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return CM_EXIT_USAGE;
	}
	if (!o.images_dir) {
		pr_err("-D/--images-dir is required");
		return CM_EXIT_USAGE;
	}
	if (o.tree_pid && o.detached)
		pr_warn("-d/--restore-detached has no effect with -t");
	if (o.tree_pid) {
		ret = restore_inplace(&o);
		if (!ret && o.pidfile) {
			FILE *f = fopen(o.pidfile, "w");

			if (!f || fprintf(f, "%d\n", (int)o.tree_pid) < 0 || fclose(f)) {
				pr_err("cannot write pid file '%s': %s", o.pidfile, strerror(errno));
				return CM_EXIT_FAIL;
			}
		}
	} else {
		ret = restore_new(&o);
	}
	return cm_exit_code(ret);
}
