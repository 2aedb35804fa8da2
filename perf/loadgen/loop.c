/* Load generator for perf/bench_kernel.py: one syscall (or one pair) in a tight loop.
 *
 *   loop MODE N [-c CPU] [-p PATH] [-w]
 *
 * MODE:
 *   getppid     syscall(SYS_getppid), N times (a syscall the probes do not watch)
 *   openclose   openat(AT_FDCWD, PATH, O_RDONLY) then close(fd), N pairs
 *   closebad    close(-1) (EBADF), N times: the close probe's work without a file
 *
 * -c CPU  pin this process to CPU before anything else
 * -p PATH the file openclose opens (must exist)
 * -w      after the warm-up, print "ready" and wait for one line on stdin before
 *         the timed loop (so that several generators start together)
 *
 * Warm-up: N/16 iterations (faults, caches, the probes' per-task storage).  Then the
 * timed loop, with CLOCK_MONOTONIC and CLOCK_THREAD_CPUTIME_ID read around it.
 * Prints one line:
 *   wall_ns_per_iter cpu_ns_per_iter start_ns end_ns failures
 * (an iteration is one call, or one openat+close pair; start/end are CLOCK_MONOTONIC,
 * for checking that concurrent generators overlapped; failures counts calls that
 * returned an unexpected result).  Uses syscall() for getppid so that libc caches
 * nothing.  Build: gcc -O2 -o loop loop.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum mode { M_GETPPID, M_OPENCLOSE, M_CLOSEBAD };

static long long now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* n iterations of the mode; returns the number of unexpected results. */
static long run(enum mode m, long n, const char *path)
{
	long bad = 0;
	switch (m) {
	case M_GETPPID:
		for (long i = 0; i < n; i++)
			if (syscall(SYS_getppid) <= 0)
				bad++;
		break;
	case M_OPENCLOSE:
		for (long i = 0; i < n; i++) {
			int fd = openat(AT_FDCWD, path, O_RDONLY);
			if (fd < 0) {
				bad++;
				continue;
			}
			if (close(fd))
				bad++;
		}
		break;
	case M_CLOSEBAD:
		for (long i = 0; i < n; i++)
			if (close(-1) != -1)
				bad++;
		break;
	}
	return bad;
}

static void usage(void)
{
	fprintf(stderr, "usage: loop getppid|openclose|closebad N [-c CPU] [-p PATH] [-w]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	enum mode m;
	if (!strcmp(argv[1], "getppid"))
		m = M_GETPPID;
	else if (!strcmp(argv[1], "openclose"))
		m = M_OPENCLOSE;
	else if (!strcmp(argv[1], "closebad"))
		m = M_CLOSEBAD;
	else
		usage();
	long n = atol(argv[2]);
	if (n <= 0)
		usage();
	int cpu = -1, wait_go = 0;
	const char *path = NULL;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			cpu = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-p") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "-w"))
			wait_go = 1;
		else
			usage();
	}
	if (m == M_OPENCLOSE && !path)
		usage();
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "loop: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
			return 1;
		}
	}
	long bad = run(m, n / 16 + 1, path);
	if (bad) {
		fprintf(stderr, "loop: %s fails in the warm-up (%ld of %ld)\n", argv[1], bad, n / 16 + 1);
		return 1;
	}
	if (wait_go) {
		char line[16];
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	long long t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	bad = run(m, n, path);
	long long c1 = now_ns(CLOCK_THREAD_CPUTIME_ID), t1 = now_ns(CLOCK_MONOTONIC);
	printf("%.2f %.2f %lld %lld %ld\n", (double)(t1 - t0) / n, (double)(c1 - c0) / n, t0, t1, bad);
	return 0;
}
