// SPDX-License-Identifier: MIT
/* cmd_diff.c: placeholder until the subcommand lands. */
#include "cli.h"
#include "log.h"

int cmd_diff(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'diff' is not implemented yet");
	return CM_EXIT_FAIL;
}
