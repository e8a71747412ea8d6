// SPDX-License-Identifier: MIT
/* cmd_verify.c: placeholder until the subcommand lands. */
#include "cli.h"
#include "log.h"

int cmd_verify(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'verify' is not implemented yet");
	return CM_EXIT_FAIL;
}
