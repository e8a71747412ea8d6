// SPDX-License-Identifier: MIT
/* Unit tests of images/util.c. */
#include <stdlib.h>

#include "unit.h"
#include "util.h"

UNIT_TEST(util_mem_is_zero)
{
	char *p = unit_guard_alloc(4096);

	CHECK(p);
	memset(p, 0, 4096);
	CHECK(mem_is_zero(p, 4096));
	p[4095] = 1;
	CHECK(!mem_is_zero(p, 4096));
	unit_guard_free(p, 4096);
	return 0;
}
