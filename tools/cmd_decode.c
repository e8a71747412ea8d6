// SPDX-License-Identifier: MIT
/* cmd_decode.c: placeholder until the subcommand lands. */
#include "cli.h"
#include "log.h"

int cmd_decode(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'decode' is not implemented yet");
	return CM_EXIT_FAIL;
}
