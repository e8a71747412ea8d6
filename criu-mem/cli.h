/* SPDX-License-Identifier: MIT */
/*
 * Subcommand entry points and exit codes. Each cmd_*() parses its own
 * options (getopt_long, "--help" prints its usage to stdout and returns
 * CM_EXIT_OK) and returns an exit code; main() is the only exit().
 */
#ifndef CM_CLI_H
#define CM_CLI_H

enum cm_exit {
	CM_EXIT_OK = 0,
	CM_EXIT_FAIL = 1,	/* the operation failed (message printed) */
	CM_EXIT_USAGE = 2,	/* bad command line */
	CM_EXIT_BADIMG = 3,	/* image corrupt or unsupported; verify found problems */
	CM_EXIT_TARGET = 4,	/* target missing, zombie, traced, or no permission */
	CM_EXIT_DIFF = 5,	/* diff: the images differ */
};

/* Maps a -errno from a subcommand's work to an exit code. */
int cm_exit_code(int err);

int cmd_dump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_x(int argc, char **argv);
int cmd_grep(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_core(int argc, char **argv);

#endif
