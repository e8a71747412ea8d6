// SPDX-License-Identifier: MIT
/* cmd_check.c: placeholder until the subcommand lands. */
#include "cli.h"
#include "log.h"

int cmd_check(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'check' is not implemented yet");
	return CM_EXIT_FAIL;
}
