// SPDX-License-Identifier: MIT
/*
 * tgt_sleeper: a single-threaded target for freeze/inject tests.
 *   read FIFO   - blocks in read() on FIFO, prints "got <data>" and exits 0
 *   nanosleep   - loops in nanosleep(50 ms), printing "tick N"
 *   spin        - spins in user space, printing "count N" every ~50 ms
 * It prints "ready" once set up; SIGPIPE keeps its default action; SIGUSR1
 * (SA_RESTART) prints "usr1"; SIGRTMIN+1 prints "rt <si_value>". Handlers
 * run on a 64 KiB sigaltstack.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_usr1(int sig)
{
	(void)sig;
	if (write(1, "usr1\n", 5) != 5)
		_exit(3);
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	char buf[32] = "rt ";
	unsigned int v = (unsigned int)si->si_value.sival_int, n = 3, i;
	char d[12];
	int k = 0;

	(void)sig;
	(void)uc;
	do {
		d[k++] = '0' + v % 10;
		v /= 10;
	} while (v && k < 11);
	for (i = 0; i < (unsigned int)k; i++)
		buf[n++] = d[k - 1 - i];
	buf[n++] = '\n';
	if (write(1, buf, n) != (ssize_t)n)
		_exit(3);
}

int main(int argc, char **argv)
{
	struct sigaction rt = { .sa_sigaction = on_rt,
				.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK };
	static char altstack[65536];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART | SA_ONSTACK };
	const char *mode = argc > 1 ? argv[1] : "nanosleep";
	volatile unsigned long count = 0;
	unsigned long i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaltstack(&ss, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGRTMIN + 1, &rt, NULL);
	if (!strcmp(mode, "read")) {
		char buf[256];
		ssize_t n;
		int fd = open(argv[2], O_RDWR);

		if (fd < 0)
			return 2;
		printf("ready\n");
		n = read(fd, buf, sizeof(buf) - 1);
		if (n <= 0) {
			printf("read failed %zd\n", n);
			return 1;
		}
		buf[n] = 0;
		printf("got %s\n", buf);
		return 0;
	}
	if (!strcmp(mode, "nanosleep")) {
		printf("ready\n");
		for (i = 0;; i++) {
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			if (nanosleep(&ts, NULL))
				printf("nanosleep failed\n");
			printf("tick %lu\n", i);
		}
	}
	printf("ready\n");
	for (double next = now() + 0.05;;) {
		count++;
		if ((count & 0xfffff) == 0 && now() > next) {
			printf("count %lu\n", count);
			next = now() + 0.05;
		}
	}
}
