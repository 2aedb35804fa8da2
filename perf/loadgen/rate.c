/* Load generator for perf/bench_pipeline.py --live: openat+close of one file at a
 * controlled rate.
 *
 *   rate PATH CALLS_PER_S SECONDS [-c CPU]
 *
 * Makes CALLS_PER_S syscalls a second (openat and close each count as one, so
 * CALLS_PER_S / 2 pairs a second) for SECONDS.  Pacing: every TICK (250 us) it
 * sleeps to an absolute deadline (clock_nanosleep TIMER_ABSTIME), then makes the
 * pairs that are due by now (rate x elapsed time), so a late wake-up is caught up
 * at the next tick and the average rate holds.  When the machine cannot keep up,
 * it runs flat out and the achieved rate (printed) is below the offered one.
 *
 * -c CPU  pin to CPU
 *
 * Prints one line:
 *   offered_calls_per_s achieved_calls_per_s calls seconds failures
 * Build: gcc -O2 -o rate rate.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 250000LL

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(long long t)
{
	struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: rate PATH CALLS_PER_S SECONDS [-c CPU]\n");
		return 2;
	}
	const char *path = argv[1];
	double rate = atof(argv[2]);
	double seconds = atof(argv[3]);
	if (rate <= 0 || seconds <= 0) {
		fprintf(stderr, "rate: CALLS_PER_S and SECONDS must be positive\n");
		return 2;
	}
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(atoi(argv[++i]), &set);
			if (sched_setaffinity(0, sizeof(set), &set)) {
				fprintf(stderr, "rate: cannot pin: %s\n", strerror(errno));
				return 1;
			}
		} else {
			fprintf(stderr, "rate: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	double pairs_per_ns = rate / 2 / 1e9;
	long long t0 = now_ns(), end = t0 + (long long)(seconds * 1e9);
	long long next = t0, pairs = 0, bad = 0, t = t0;
	while (t < end) {
		long long due = (long long)((double)(t - t0) * pairs_per_ns);
		while (pairs < due) {
			int fd = openat(AT_FDCWD, path, O_RDONLY);
			if (fd < 0 || close(fd))
				bad++;
			pairs++;
			if (!(pairs & 255) && now_ns() >= end)
				break;	/* behind: stop at the end anyway */
		}
		next += TICK_NS;
		if (next > now_ns())
			sleep_until(next);
		t = now_ns();
	}
	double took = (double)(t - t0) / 1e9;
	printf("%.0f %.0f %lld %.3f %lld\n", rate, 2.0 * pairs / took, 2 * pairs, took, bad);
	return 0;
}
