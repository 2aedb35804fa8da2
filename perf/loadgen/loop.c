/* Load generator for perf/bench_kernel.py: one syscall (or one pair) in a tight loop.
 *
 *   loop MODE N [-c CPU] [-p PATH] [-w]
 *
 * MODE:
 *   getppid     syscall(SYS_getppid), N times (a syscall the probes do not watch)
 *   openclose   openat(AT_FDCWD, PATH, O_RDONLY) then close(fd), N pairs
 *   closebad    close(-1) (EBADF), N times: the close probe's work without a file
 *   connect     connect() of one UDP socket to 127.0.0.1, N times (ports 9 and 10 in
 *               turn; the socket is made before the loop).  Each call succeeds (a UDP
 *               connect only sets the peer: no packet, no listener needed), so the
 *               probe does its full work: the sockaddr stashed at entry, and at exit
 *               the socket's tuple read from the kernel socket.  One syscall per
 *               iteration.
 *   connrefused connect() of one TCP socket to 127.0.0.1:PORT where nothing listens
 *               (-p PORT, default 9): ECONNREFUSED every time (Linux lets the same
 *               socket try again).  The kernel does a real TCP attempt (SYN, RST on
 *               loopback, ~10 us); the probe's exit skips the socket tuple on failure,
 *               so this is less probe work than a successful connect.  Not in
 *               bench_kernel's default configurations.
 *   execve      fork(), the child execve()s /bin/true, the parent waitpid()s: N times.
 *               An iteration is a whole short process life: clone, execve, the
 *               dynamic loader's opens, exit; every probed syscall on the way counts.
 *               Its CPU figure is this thread's CPU time plus the children's
 *               (getrusage RUSAGE_CHILDREN, microsecond resolution), since the work
 *               runs in the children.  The children inherit -c's pinning.
 *
 * -c CPU  pin this process to CPU before anything else
 * -p PATH the file openclose opens (must exist); for connrefused, the port
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { M_GETPPID, M_OPENCLOSE, M_CLOSEBAD, M_CONNECT, M_CONNREFUSED, M_EXECVE };

extern char **environ;
static int sock = -1;                /* connect, connrefused: made once, before the loop */
static struct sockaddr_in peer;

static long long children_cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	return ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL
	       + ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* fork, execve /bin/true in the child, wait for it: 0 if it ran and exited 0 */
static int spawn_true(void)
{
	static char *const argv[] = {"true", NULL};
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execve("/bin/true", argv, environ);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

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
	case M_CONNECT:
		for (long i = 0; i < n; i++) {
			peer.sin_port = htons(9 + (i & 1));
			if (connect(sock, (struct sockaddr *)&peer, sizeof(peer)))
				bad++;
		}
		break;
	case M_CONNREFUSED:
		for (long i = 0; i < n; i++)
			if (connect(sock, (struct sockaddr *)&peer, sizeof(peer)) != -1
			    || errno != ECONNREFUSED)
				bad++;
		break;
	case M_EXECVE:
		for (long i = 0; i < n; i++)
			if (spawn_true())
				bad++;
		break;
	}
	return bad;
}

static void usage(void)
{
	fprintf(stderr, "usage: loop getppid|openclose|closebad|connect|connrefused|execve N "
		"[-c CPU] [-p PATH|PORT] [-w]\n");
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
	else if (!strcmp(argv[1], "connect"))
		m = M_CONNECT;
	else if (!strcmp(argv[1], "connrefused"))
		m = M_CONNREFUSED;
	else if (!strcmp(argv[1], "execve"))
		m = M_EXECVE;
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
	if (m == M_CONNECT || m == M_CONNREFUSED) {
		sock = socket(AF_INET, m == M_CONNECT ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (sock < 0) {
			fprintf(stderr, "loop: socket: %s\n", strerror(errno));
			return 1;
		}
		peer.sin_family = AF_INET;
		peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		peer.sin_port = htons(path ? atoi(path) : 9);
	}
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
	long long k0 = m == M_EXECVE ? children_cpu_ns() : 0;
	long long t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	bad = run(m, n, path);
	long long c1 = now_ns(CLOCK_THREAD_CPUTIME_ID), t1 = now_ns(CLOCK_MONOTONIC);
	if (m == M_EXECVE)
		c1 += children_cpu_ns() - k0;	/* the children's CPU: where an execve's work is */
	printf("%.2f %.2f %lld %lld %ld\n", (double)(t1 - t0) / n, (double)(c1 - c0) / n, t0, t1, bad);
	return 0;
}
