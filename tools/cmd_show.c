// SPDX-License-Identifier: MIT
/* cmd_show.c: placeholder until the subcommand lands. */
#include "cli.h"
#include "log.h"

int cmd_show(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'show' is not implemented yet");
	return CM_EXIT_FAIL;
}
