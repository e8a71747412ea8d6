// SPDX-License-Identifier: MIT
/*
 * tgt_threads: N threads (default 8): even ones block in read() on a
 * shared pipe, odd ones spin on their own counter. The main thread prints
 * "ready", then every 100 ms "sum S" of the counters. Writing N bytes to
 * the FIFO given as argv[2] lets each reader print "reader K got C".
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAXT 64

static volatile unsigned long counters[MAXT];
static int fifo_fd = -1;

static void *worker(void *arg)
{
	long k = (long)arg;
	char c;

	if (k % 2 == 0) {
		if (read(fifo_fd, &c, 1) == 1)
			printf("reader %ld got %c\n", k, c);
		for (;;)
			pause();
	}
	for (;;)
		counters[k]++;
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 8;
	pthread_t t;
	long k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (n > MAXT)
		n = MAXT;
	fifo_fd = open(argc > 2 ? argv[2] : "/dev/null", O_RDWR);
	if (fifo_fd < 0)
		return 2;
	for (k = 0; k < n; k++)
		if (pthread_create(&t, NULL, worker, (void *)k))
			return 3;
	printf("ready\n");
	for (;;) {
		unsigned long s = 0;

		usleep(100 * 1000);
		for (k = 0; k < n; k++)
			s += counters[k];
		printf("sum %lu\n", s);
	}
}
