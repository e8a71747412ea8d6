/* SPDX-License-Identifier: MIT */
/*
 * Minimal unit-test framework. A test is registered with UNIT_TEST(name)
 * from any file under test/unit/ (linker-section registration, so adding
 * a test never touches a shared file). A test returns 0 to pass; the
 * CHECK*() macros print the failing expression and return 1.
 */
#ifndef CM_UNIT_H
#define CM_UNIT_H

#include <stdio.h>
#include <string.h>

struct unit_test {
	const char *name;
	const char *file;
	int (*fn)(void);
};

#define UNIT_TEST(tname)                                                           \
	static int unit_##tname(void);                                             \
	static const struct unit_test unit_desc_##tname                            \
		__attribute__((used, section("unit_tests"), aligned(8))) = {       \
			#tname, __FILE__, unit_##tname };                          \
	static int unit_##tname(void)

#define CHECK(cond)                                                                \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__,  \
				__LINE__, #cond);                                  \
			return 1;                                                  \
		}                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                             \
	do {                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                \
		if (_a != _b) {                                                    \
			fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", \
				__FILE__, __LINE__, #a, #b, _a, _b);               \
			return 1;                                                  \
		}                                                                  \
	} while (0)

/*
 * Allocates len bytes that end exactly at a PROT_NONE guard page, so an
 * over-read by one byte crashes. Free with unit_guard_free().
 */
void *unit_guard_alloc(size_t len);
void unit_guard_free(void *p, size_t len);

/* A fresh empty directory under /tmp; the test removes it. Not reentrant. */
const char *unit_tmpdir(void);

#endif
