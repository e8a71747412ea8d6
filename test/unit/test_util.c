// SPDX-License-Identifier: MIT
/* Unit tests of images/util.c. */
#include <errno.h>
#include <stdint.h>
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

UNIT_TEST(util_array_grow)
{
	uint64_t *v = NULL;
	size_t cap = 0, nr;

	for (nr = 0; nr < 100; nr++) {
		CHECK_EQ(array_grow(&v, &cap, nr, sizeof(*v), 16), 0);
		CHECK(cap > nr);
		v[nr] = nr;
	}
	CHECK_EQ(cap, 128);
	for (nr = 0; nr < 100; nr++)
		CHECK_EQ(v[nr], nr);
	CHECK_EQ(array_grow(&v, &cap, 50, sizeof(*v), 16), 0);	/* room already */
	CHECK_EQ(cap, 128);
	cap = (size_t)1 << (sizeof(size_t) * 8 - 2);	/* the doubled size overflows */
	CHECK_EQ(array_grow(&v, &cap, cap, sizeof(*v), 16), -EOVERFLOW);
	free(v);
	return 0;
}
