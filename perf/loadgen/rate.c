/* Load generator for perf/bench_pipeline.py --live and perf/bench_live.py: syscalls at a
 * controlled rate.
 *
 *   rate PATH CALLS_PER_S SECONDS [-c CPU] [--mix]
 *
 * Makes CALLS_PER_S syscalls a second for SECONDS.  Default: openat+close of PATH
 * (openat and close each count as one call, so CALLS_PER_S / 2 pairs a second).
 *
 * --mix: a realistic mix instead, in a fixed schedule of 100 calls (10 blocks of 10,
 * so the kinds interleave), per 100 calls:
 *   60  openat+close, 30 pairs, of PATH, /etc/hosts, /etc/ld.so.cache and
 *       /etc/nsswitch.conf in turn (O_RDONLY; captured: open and close are probed)
 *   20  getppid (syscall(SYS_getppid): no probe watches it, the uncaptured share)
 *   10  connect of one UDP socket to 127.0.0.1, ports 9 and 10 in turn (captured; a UDP
 *       connect only sets the peer: no packet)
 *   10  other: 4 pread(64 bytes) of PATH from a descriptor held open (not probed by the
 *       default rules), 3 dup of it and 3 close of those duplicates (probed)
 * so 76 of 100 calls are of syscalls the default rules' probes capture, 24 are not.
 * The schedule is in MIX below (one entry = one syscall).
 *
 * Pacing: every TICK (250 us) it sleeps to an absolute deadline (clock_nanosleep
 * TIMER_ABSTIME), then makes the calls that are due by now (rate x elapsed time), so a
 * late wake-up is caught up at the next tick and the average rate holds.  When the
 * machine cannot keep up, it runs flat out and the achieved rate (printed) is below the
 * offered one.
 *
 * -c CPU  pin to CPU
 *
 * Prints one line:
 *   offered_calls_per_s achieved_calls_per_s calls seconds failures
 * Build: gcc -O2 -o rate rate.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

/* --- the mix ----------------------------------------------------------------------- */

enum op { OPEN, CLOSE, PPID, CONN, PREAD, DUP, CLOSEDUP };

/* 10 blocks of 10 calls; the tenth call of each block is the "other" one, in turn */
#define BLOCK OPEN, CLOSE, PPID, OPEN, CLOSE, CONN, OPEN, CLOSE, PPID
static const enum op MIX[100] = {
	BLOCK, PREAD, BLOCK, DUP, BLOCK, CLOSEDUP, BLOCK, PREAD, BLOCK, DUP,
	BLOCK, CLOSEDUP, BLOCK, PREAD, BLOCK, DUP, BLOCK, CLOSEDUP, BLOCK, PREAD,
};

static const char *files[4] = {NULL, "/etc/hosts", "/etc/ld.so.cache", "/etc/nsswitch.conf"};
static int held = -1, sock = -1, open_fd = -1, dup_fd = -1;
static struct sockaddr_in peer;
static long long opens;

/* one call of the mix; returns 0 on the expected result */
static int mix_call(long long k)
{
	char buf[64];
	switch (MIX[k % 100]) {
	case OPEN:
		open_fd = openat(AT_FDCWD, files[opens++ & 3], O_RDONLY);
		return open_fd < 0;
	case CLOSE:
		if (open_fd < 0)
			return 0;	/* its open failed, counted there */
		return close(open_fd) != 0;
	case PPID:
		return syscall(SYS_getppid) <= 0;
	case CONN:
		peer.sin_port = htons(9 + (k & 1));
		return connect(sock, (struct sockaddr *)&peer, sizeof(peer)) != 0;
	case PREAD:
		return pread(held, buf, sizeof(buf), 0) < 0;
	case DUP:
		dup_fd = dup(held);
		return dup_fd < 0;
	case CLOSEDUP:
		if (dup_fd < 0)
			return 0;
		return close(dup_fd) != 0;
	}
	return 1;
}

static int mix_setup(const char *path)
{
	files[0] = path;
	for (int i = 0; i < 4; i++)
		if (access(files[i], R_OK)) {
			fprintf(stderr, "rate: --mix cannot read %s: %s\n", files[i], strerror(errno));
			return -1;
		}
	held = open(path, O_RDONLY);
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (held < 0 || sock < 0) {
		fprintf(stderr, "rate: --mix setup: %s\n", strerror(errno));
		return -1;
	}
	peer.sin_family = AF_INET;
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: rate PATH CALLS_PER_S SECONDS [-c CPU] [--mix]\n");
		return 2;
	}
	const char *path = argv[1];
	double rate = atof(argv[2]);
	double seconds = atof(argv[3]);
	int mix = 0;
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
		} else if (!strcmp(argv[i], "--mix")) {
			mix = 1;
		} else {
			fprintf(stderr, "rate: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (mix && mix_setup(path))
		return 1;
	/* the unit paced: a pair (openat+close) by default, one call with --mix */
	double per_unit = mix ? 1.0 : 2.0;
	double units_per_ns = rate / per_unit / 1e9;
	long long t0 = now_ns(), end = t0 + (long long)(seconds * 1e9);
	long long units = 0, bad = 0, t = t0, next = t0;
	while (t < end) {
		long long due = (long long)((double)(t - t0) * units_per_ns);
		while (units < due) {
			if (mix) {
				bad += mix_call(units);
			} else {
				int fd = openat(AT_FDCWD, path, O_RDONLY);
				if (fd < 0 || close(fd))
					bad++;
			}
			units++;
			if (!(units & 255) && now_ns() >= end)
				break;	/* behind: stop at the end anyway */
		}
		next += TICK_NS;
		if (next > now_ns())
			sleep_until(next);
		t = now_ns();
	}
	/* --mix: an iteration left half done (an open without its close) is closed here */
	if (mix && open_fd >= 0 && MIX[(units - 1) % 100] == OPEN)
		close(open_fd);
	double took = (double)(t - t0) / 1e9;
	long long calls = (long long)(units * per_unit);
	printf("%.0f %.0f %lld %.3f %lld\n", rate, calls / took, calls, took, bad);
	return 0;
}
