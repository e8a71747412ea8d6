// SPDX-License-Identifier: MIT
/*
 * main.c: global options (-v/-q), subcommand dispatch, and the only exit().
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

struct subcmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct subcmd subcmds[] = {
	{ "dump", cmd_dump, "checkpoint the memory of a live process (-t PID -D DIR)" },
	{ "restore", cmd_restore, "roll a process back (-t PID) or rebuild it from an image" },
	{ "check", cmd_check, "report which kernel features this machine offers" },
	{ "show", cmd_show, "summarise an image directory" },
	{ "decode", cmd_decode, "print every record of an image file" },
	{ "verify", cmd_verify, "check every checksum and cross-reference of an image" },
	{ "x", cmd_x, "print the memory at an address" },
	{ "grep", cmd_grep, "find a string or bytes in the dumped memory" },
	{ "diff", cmd_diff, "compare two dumps of the same process" },
	{ "core", cmd_core, "write an ELF core file that gdb opens" },
};

int cm_exit_code(int err)
{
	switch (err) {
	case 0:
		return CM_EXIT_OK;
	case -EBADMSG:
	case -EPROTONOSUPPORT:
	case -EOVERFLOW:
		return CM_EXIT_BADIMG;
	case -ESRCH:
	case -EPERM:
	case -EBUSY:
		return CM_EXIT_TARGET;
	case -EINVAL:
		return CM_EXIT_USAGE;
	default:
		return CM_EXIT_FAIL;
	}
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: criu-mem [-v|-q] COMMAND [ARGS]\n\n"
		   "Checkpoint, restore and inspect the memory of Linux processes.\n\n"
		   "commands:\n");
	for (i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++)
		fprintf(f, "  %-8s %s\n", subcmds[i].name, subcmds[i].summary);
	fprintf(f, "\n'criu-mem COMMAND --help' describes each command.\n"
		   "exit codes: 0 ok, 1 failure, 2 usage, 3 bad image, 4 target unusable,"
		   " 5 diff found differences\n");
}

int main(int argc, char **argv)
{
	int i = 1, verbose = 0;
	size_t k;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v"))
			verbose++;
		else if (!strcmp(argv[i], "-vv"))
			verbose += 2;
		else if (!strcmp(argv[i], "-q"))
			verbose = -1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			exit(CM_EXIT_OK);
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("criu-mem %s\n", CM_VERSION);
			exit(CM_EXIT_OK);
		} else {
			fprintf(stderr, "criu-mem: unknown option '%s'\n", argv[i]);
			usage(stderr);
			exit(CM_EXIT_USAGE);
		}
	}
	log_set_level(verbose < 0 ? LOG_ERR : verbose >= 2 ? LOG_DEBUG :
		      verbose == 1 ? LOG_INFO : LOG_WARN);
	if (i >= argc) {
		usage(stderr);
		exit(CM_EXIT_USAGE);
	}
	for (k = 0; k < sizeof(subcmds) / sizeof(subcmds[0]); k++) {
		if (!strcmp(argv[i], subcmds[k].name)) {
			optind = 1;
			exit(subcmds[k].fn(argc - i, argv + i));
		}
	}
	fprintf(stderr, "criu-mem: unknown command '%s'\n", argv[i]);
	usage(stderr);
	exit(CM_EXIT_USAGE);
}
