/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the subcommands' option parsers (cmd_*.c): number
 * arguments, the -j/--jobs worker count, sizes for summary lines and the
 * --pidfile writer.
 */
#ifndef CM_CLIOPT_H
#define CM_CLIOPT_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * Runs getopt_long() over argv and hands every option but -h to
 * one(ctx, opt, optarg). Returns -1 once every option is parsed (optind is
 * then the first operand); else the exit code: CM_EXIT_OK after -h/--help
 * (usage on stdout), CM_EXIT_USAGE after an unknown option or a failing
 * one() (usage on stderr).
 */
int cliopt_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
		  int (*one)(void *ctx, int opt, const char *arg), void *ctx,
		  void (*usage)(FILE *f));

/* Upper bound of -j/--jobs (and the older --threads spelling). */
#define CLIOPT_JOBS_MAX 256

/*
 * Parses the whole of @s (decimal, 0x hex or 0 octal) into *out within
 * [min, max]. 0, or -EINVAL after "invalid <what> '<s>' (expected min..max)".
 */
int cliopt_long(const char *s, const char *what, long min, long max, long *out);
/* -j/--jobs N: 1..CLIOPT_JOBS_MAX worker threads. 0 or -EINVAL (reported). */
int cliopt_jobs(const char *s, unsigned int *out);

/* Formats v bytes as "12.3 MiB" into buf (len bytes, always terminated). */
void cliopt_human(double v, char *buf, size_t len);

/*
 * Writes "<pid>\n" to @path: created 0600 or truncated, never through a
 * symlink (O_NOFOLLOW). 0 or -errno (reported with the path).
 */
int cliopt_write_pidfile(const char *path, pid_t pid);

#endif
