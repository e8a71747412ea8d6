// SPDX-License-Identifier: MIT
/* cmd_core.c: placeholder until the subcommand lands. */
#include "cli.h"
#include "log.h"

int cmd_core(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'core' is not implemented yet");
	return CM_EXIT_FAIL;
}
