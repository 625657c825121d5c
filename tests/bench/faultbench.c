// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * faultbench: a fault-heavy workload for `make bench`. One thread touches
 * every page of a mapped file in a loop (dropping the mapping each pass so
 * that every touch faults); another punches holes in a second file at a
 * steady rate, which keeps daxscope's probes armed. Prints faults per second.
 *   faultbench --dir DIR [--seconds S | --passes N] [--mb MB] [--punch-hz HZ] [--punch-same]
 * --punch-same punches the file being faulted instead: every fault is then
 * an event daxscope must deliver (the stress case). --passes N touches the
 * file N times whatever they take (the same work at every DAX window size).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct config {
	const char *dir;
	double seconds;
	long passes; /* a fixed amount of work instead, when > 0 */
	size_t bytes;
	double punch_hz;
	int punch_same;
};

static volatile int done;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int make_file(const char *path, size_t bytes)
{
	char block[65536];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0) {
		perror(path);
		exit(1);
	}
	memset(block, 0x5a, sizeof(block));
	for (size_t off = 0; off < bytes; off += sizeof(block))
		if (pwrite(fd, block, sizeof(block), (off_t)off) != (ssize_t)sizeof(block)) {
			perror("pwrite");
			exit(1);
		}
	fsync(fd);
	return fd;
}

struct puncher {
	int fd;
	double hz;
	long punches;
};

/* Punches a page far from the faulted range, so the fault loop is never in its way. */
static void *punch_loop(void *arg)
{
	struct puncher *p = arg;
	long gap_ns = (long)(1e9 / p->hz);
	struct timespec gap = { gap_ns / 1000000000L, gap_ns % 1000000000L }; /* tv_nsec past 1e9 fails: no pause at all */

	while (!done) {
		if (fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0)
			p->punches++;
		nanosleep(&gap, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },      { "seconds", required_argument, NULL, 's' },
		{ "mb", required_argument, NULL, 'm' },	      { "punch-hz", required_argument, NULL, 'z' },
		{ "punch-same", no_argument, NULL, 'S' },     { "passes", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct config c = { .seconds = 3, .bytes = 64 << 20, .punch_hz = 100 };
	struct puncher p = { 0 };
	char path[4096];
	long pagesize = sysconf(_SC_PAGESIZE), faults = 0; /* touches */
	pthread_t thread;
	struct rusage before, after;
	double start, elapsed;
	int opt, fd;
	volatile char *map;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': c.dir = optarg; break;
		case 's': c.seconds = atof(optarg); break;
		case 'm': c.bytes = (size_t)atol(optarg) << 20; break;
		case 'z': c.punch_hz = atof(optarg); break;
		case 'S': c.punch_same = 1; break;
		case 'p': c.passes = atol(optarg); break;
		default:
			fprintf(stderr, "usage: faultbench --dir DIR [--seconds S | --passes N] [--mb MB] [--punch-hz HZ] "
					"[--punch-same]\n");
			return 2;
		}
	}
	if (!c.dir || c.seconds <= 0 || c.punch_hz <= 0 || c.passes < 0) {
		fprintf(stderr, "faultbench: --dir is required; --seconds, --passes and --punch-hz must be > 0\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/faulted", c.dir);
	fd = make_file(path, c.bytes);
	if (c.punch_same) {
		p.fd = fd;
	} else {
		snprintf(path, sizeof(path), "%s/punched", c.dir);
		p.fd = make_file(path, 1 << 20);
	}
	p.hz = c.punch_hz;
	map = mmap(NULL, c.bytes, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	pthread_create(&thread, NULL, punch_loop, &p);
	getrusage(RUSAGE_THREAD, &before);
	start = now();
	for (long pass = 0; c.passes ? pass < c.passes : now() - start < c.seconds; pass++) {
		/* skip page 0, which the stress case punches */
		for (size_t off = (size_t)pagesize; off < c.bytes; off += (size_t)pagesize, faults++)
			(void)map[off];
		madvise((void *)map, c.bytes, MADV_DONTNEED);
	}
	elapsed = now() - start;
	getrusage(RUSAGE_THREAD, &after);
	done = 1;
	pthread_join(thread, NULL);
	/* touches: pages read; faults: real minor faults (fault-around maps several pages per fault) */
	printf("{\"touches\":%ld,\"faults\":%ld,\"seconds\":%.3f,\"touches_per_sec\":%.0f,"
	       "\"faults_per_sec\":%.0f,\"punches\":%ld}\n",
	       faults, after.ru_minflt - before.ru_minflt, elapsed, (double)faults / elapsed,
	       (double)(after.ru_minflt - before.ru_minflt) / elapsed, p.punches);
	return 0;
}
