// SPDX-License-Identifier: MIT
/*
 * Unit-test runner: runs every UNIT_TEST in its own forked child (a crash
 * fails one test, not the run), optionally filtered by a substring.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

extern const struct unit_test __start_unit_tests[];
extern const struct unit_test __stop_unit_tests[];

void *unit_guard_alloc(size_t len)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + ps - 1) / ps * ps;
	char *p = mmap(NULL, span + ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	mprotect(p + span, ps, PROT_NONE);
	return p + span - len;
}

void unit_guard_free(void *p, size_t len)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + ps - 1) / ps * ps;

	munmap((char *)p + len - span, span + ps);
}

const char *unit_tmpdir(void)
{
	static char path[64];

	snprintf(path, sizeof(path), "/tmp/cm-unit-XXXXXX");
	if (!mkdtemp(path))
		abort();
	return path;
}

int main(int argc, char **argv)
{
	const struct unit_test *t;
	int passed = 0, failed = 0;

	for (t = __start_unit_tests; t < __stop_unit_tests; t++) {
		int status;
		pid_t pid;

		if (argc > 1 && !strstr(t->name, argv[1]))
			continue;
		fflush(NULL);
		pid = fork();
		if (pid == 0)
			_exit(t->fn() ? 1 : 0);
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			perror("fork");
			return 2;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			passed++;
			printf("ok   unit/%s\n", t->name);
		} else {
			failed++;
			printf("FAIL unit/%s (%s %d)\n", t->name,
			       WIFSIGNALED(status) ? "signal" : "status",
			       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		}
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
