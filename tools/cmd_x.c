// SPDX-License-Identifier: MIT
/* cmd_x.c: placeholder until the subcommand lands. */
#include "cli.h"
#include "log.h"

int cmd_x(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'x' is not implemented yet");
	return CM_EXIT_FAIL;
}
