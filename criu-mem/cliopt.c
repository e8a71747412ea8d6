// SPDX-License-Identifier: MIT
/*
 * cliopt.c: option-argument parsing, human-readable sizes and the pid file,
 * shared by "criu-mem dump", "restore" and "verify".
 */
#define LOG_PREFIX "cli: "

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cliopt.h"
#include "log.h"
#include "util.h"

int cliopt_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
		  int (*one)(void *ctx, int opt, const char *arg), void *ctx,
		  void (*usage)(FILE *f))
{
	int opt;

	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return CM_EXIT_OK;
		}
		if (opt == '?' || one(ctx, opt, optarg)) {
			usage(stderr);
			return CM_EXIT_USAGE;
		}
	}
	return -1;
}

int cliopt_long(const char *s, const char *what, long min, long max, long *out)
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

int cliopt_jobs(const char *s, unsigned int *out)
{
	long v;

	if (cliopt_long(s, "thread count", 1, CLIOPT_JOBS_MAX, &v))
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

void cliopt_human(double v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (v >= 1024 && u + 1 < ARRAY_SIZE(unit)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, unit[u]);
}

int cliopt_write_pidfile(const char *path, pid_t pid)
{
	char line[24];
	int fd, n, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cm_err(-errno, "cannot write pid file '%s'", path);
	n = snprintf(line, sizeof(line), "%d\n", (int)pid);
	ret = write_full(fd, line, n);
	if (ret)
		ret = cm_err(ret, "cannot write pid file '%s'", path);
	if (close(fd) && !ret)
		ret = cm_err(-errno, "cannot write pid file '%s'", path);
	return ret;
}
