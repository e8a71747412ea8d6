// SPDX-License-Identifier: MIT
/* cmd_dump.c: placeholder until the subcommand lands. */
#include "cli.h"
#include "log.h"

int cmd_dump(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'dump' is not implemented yet");
	return CM_EXIT_FAIL;
}
