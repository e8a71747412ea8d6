// SPDX-License-Identifier: MIT
/* cmd_grep.c: placeholder until the subcommand lands. */
#include "cli.h"
#include "log.h"

int cmd_grep(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'grep' is not implemented yet");
	return CM_EXIT_FAIL;
}
