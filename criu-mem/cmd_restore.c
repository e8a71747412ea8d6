// SPDX-License-Identifier: MIT
/* cmd_restore.c: placeholder until the subcommand lands. */
#include "cli.h"
#include "log.h"

int cmd_restore(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'restore' is not implemented yet");
	return CM_EXIT_FAIL;
}
