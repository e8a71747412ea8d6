// SPDX-License-Identifier: MIT
/*
 * tgt_churn: keeps creating short-lived threads (each exits at once) while
 * 2 long-lived threads spin, so a freezer sees threads appear and vanish.
 * Prints "ready", then "spawned N" every 100 ms.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long spins;

static void *brief(void *arg)
{
	return arg;
}

static void *spinner(void *arg)
{
	for (;;)
		spins++;
	return arg;
}

int main(void)
{
	unsigned long n = 0;
	pthread_attr_t at;
	pthread_t t;
	struct timespec a, b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &at, spinner, NULL);
	pthread_create(&t, &at, spinner, NULL);
	printf("ready\n");
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (;;) {
		if (!pthread_create(&t, &at, brief, NULL))
			n++;
		clock_gettime(CLOCK_MONOTONIC, &b);
		if ((b.tv_sec - a.tv_sec) * 1000000000L + b.tv_nsec - a.tv_nsec > 100000000L) {
			printf("spawned %lu\n", n);
			a = b;
		}
	}
}
