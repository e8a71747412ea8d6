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
#include "cliopt.h"
#include "log.h"
#include "restore.h"

enum {
	OPT_PIDFILE = 256, OPT_PIDMISMATCH, OPT_FORCE, OPT_KILL, OPT_JSON,
	OPT_CGROUP, OPT_NOPROGRESS, OPT_STDIN, OPT_STDOUT, OPT_STDERR, OPT_INHERIT,
	OPT_SKIPFD, OPT_FULLVERIFY,
};

#define MAX_INHERIT 64

struct restore_cli {
	struct restore_opts o;
	struct restore_inherit_fd inherit[MAX_INHERIT];
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
	{ "jobs", required_argument, NULL, 'j' },
	{ "threads", required_argument, NULL, 'j' },
	{ "freeze-cgroup", required_argument, NULL, OPT_CGROUP },
	{ "no-progress", no_argument, NULL, OPT_NOPROGRESS },
	{ "stdin", required_argument, NULL, OPT_STDIN },
	{ "stdout", required_argument, NULL, OPT_STDOUT },
	{ "stderr", required_argument, NULL, OPT_STDERR },
	{ "inherit-fd", required_argument, NULL, OPT_INHERIT },
	{ "skip-unsupported-fds", no_argument, NULL, OPT_SKIPFD },
	{ "full-verify", no_argument, NULL, OPT_FULLVERIFY },
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
		"  -j, --jobs N             decompression threads (default: online CPUs);\n"
		"                           --threads N is the same\n"
		"      --freeze-cgroup PATH freeze through this cgroup (v2 or v1 freezer)\n"
		"      --stdin/--stdout/--stderr FILE\n"
		"                           new process: open its fd 0/1/2 from FILE\n"
		"      --inherit-fd fd[FROM]:FD\n"
		"                           new process: its fd FD is our fd FROM (repeatable)\n"
		"      --skip-unsupported-fds  new process: leave fds that can't be reopened closed\n"
		"      --full-verify        decompress every frame before touching the target\n"
		"                           (default: check every checksum and frame header)\n"
		"      --no-progress        no progress bar\n"
		"      --json               print the summary as JSON on stdout\n"
		"  -h, --help               this text\n\n"
		"The whole image is read and every checksum and frame header verified before\n"
		"the target is touched; a corrupt image or one for another arch, page size\n"
		"or vdso layout is refused.\n"
		"exit codes (in place, or new process with -d): 0 ok, 1 failure, 2 usage,\n"
		"3 bad image, 4 target missing/traced. A new process without -d: its exit\n"
		"status (128+signal when killed).\n");
}

/* "fd[FROM]:FD" */
static int parse_inherit(struct restore_cli *rc, const char *arg)
{
	struct restore_opts *o = &rc->o;
	int from, fd, n = 0;

	if (sscanf(arg, "fd[%d]:%d%n", &from, &fd, &n) != 2 || arg[n] || from < 0 || fd < 0) {
		pr_err("invalid --inherit-fd '%s' (expected fd[FROM]:FD)", arg);
		return -EINVAL;
	}
	if (o->nr_inherit_fds == MAX_INHERIT) {
		pr_err("too many --inherit-fd (at most %d)", MAX_INHERIT);
		return -EINVAL;
	}
	rc->inherit[o->nr_inherit_fds].from = from;
	rc->inherit[o->nr_inherit_fds].fd = fd;
	o->nr_inherit_fds++;
	o->inherit_fds = rc->inherit;
	return 0;
}

static int parse_one(void *ctx, int opt, const char *arg)
{
	struct restore_cli *rc = ctx;
	struct restore_opts *o = &rc->o;
	long v;

	switch (opt) {
	case 'D': o->images_dir = arg; return 0;
	case 't':
		if (cliopt_long(arg, "pid", 1, INT_MAX, &v))
			return -EINVAL;
		o->tree_pid = (pid_t)v;
		return 0;
	case 'd': o->detached = 1; return 0;
	case OPT_PIDFILE: o->pidfile = arg; return 0;
	case OPT_PIDMISMATCH: o->pid_mismatch_ok = 1; return 0;
	case OPT_FORCE: o->force = 1; return 0;
	case OPT_KILL: o->kill_on_error = 1; return 0;
	case OPT_JSON: o->json = 1; return 0;
	case 'j': return cliopt_jobs(arg, &o->threads);
	case OPT_CGROUP: o->freeze_cgroup = arg; return 0;
	case OPT_NOPROGRESS: o->no_progress = 1; return 0;
	case OPT_STDIN: o->std_path[0] = arg; return 0;
	case OPT_STDOUT: o->std_path[1] = arg; return 0;
	case OPT_STDERR: o->std_path[2] = arg; return 0;
	case OPT_INHERIT: return parse_inherit(rc, arg);
	case OPT_SKIPFD: o->skip_unsupported_fds = 1; return 0;
	case OPT_FULLVERIFY: o->full_verify = 1; return 0;
	default: return -EINVAL;
	}
}

int cmd_restore(int argc, char **argv)
{
	struct restore_cli rc;
	struct restore_opts *po = &rc.o;
	int ret;

	memset(&rc, 0, sizeof(rc));
	ret = cliopt_getopt(argc, argv, "D:t:dj:h", restore_longopts, parse_one, &rc,
			    restore_usage);
	if (ret >= 0)
		return ret;
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return CM_EXIT_USAGE;
	}
	if (!po->images_dir) {
		pr_err("-D/--images-dir is required");
		return CM_EXIT_USAGE;
	}
	if (po->tree_pid && po->detached)
		pr_warn("-d/--restore-detached has no effect with -t");
	if (!po->tree_pid) {
		/* restore_new() writes --pidfile itself; >= 0 is the process's status */
		ret = restore_new(po);
		return ret >= 0 ? ret : cm_exit_code(ret);
	}
	ret = restore_inplace(po);
	if (!ret && po->pidfile)
		ret = cliopt_write_pidfile(po->pidfile, po->tree_pid);
	return cm_exit_code(ret);
}
