// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * faultbench: a fault-heavy workload for `make bench`. One thread touches
 * every page of a mapped file in a loop (dropping the mapping each pass so
 * that every touch faults); another punches holes in a second file at a
 * steady rate, which keeps daxscope's probes armed. Prints faults per second
 * and the CPU time both threads took meanwhile.
 *   faultbench --dir DIR [--seconds S | --passes N] [--mb MB] [--punch-hz HZ] [--punch-same]
 *              [--watch-pid PID]
 * --punch-same punches the file being faulted instead: every fault is then
 * an event daxscope must deliver (the stress case). --passes N touches the
 * file N times whatever they take (the same work at every DAX window size).
 * --watch-pid PID also prints the CPU time process PID (a tracer) took over
 * the same window, so that CPU a tracer burns on another core is counted.
 */
#define _GNU_SOURCE
#include <dirent.h>
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
	int watch_pid; /* a tracer whose CPU time to measure, when > 0 */
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

static double cpu_seconds(const struct rusage *r)
{
	return (double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) + (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e6;
}

/*
 * The CPU time of every thread of process PID, in seconds: the first field
 * of each /proc/PID/task/TID/schedstat, in nanoseconds (/proc/PID/stat counts
 * 10 ms ticks: too coarse for a 1 s window). -1 when the process is gone.
 */
static double process_cpu_seconds(int pid)
{
	char path[64];
	unsigned long long ns, total = 0;
	struct dirent *task;
	DIR *tasks;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	tasks = opendir(path);
	if (!tasks)
		return -1;
	while ((task = readdir(tasks))) {
		if (task->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/schedstat", pid, task->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* a thread that just ended */
		if (fscanf(f, "%llu", &ns) == 1)
			total += ns;
		fclose(f);
	}
	closedir(tasks);
	return (double)total / 1e9;
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
		{ "watch-pid", required_argument, NULL, 'w' }, { NULL, 0, NULL, 0 },
	};
	struct config c = { .seconds = 3, .bytes = 64 << 20, .punch_hz = 100 };
	struct puncher p = { 0 };
	char path[4096];
	long pagesize = sysconf(_SC_PAGESIZE), faults = 0; /* touches */
	pthread_t thread;
	struct rusage before, after, process_before, process_after;
	double start, elapsed, watched_before = 0, watched_after = 0;
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
		case 'w': c.watch_pid = atoi(optarg) > 0 ? atoi(optarg) : -1; break;
		default:
			fprintf(stderr, "usage: faultbench --dir DIR [--seconds S | --passes N] [--mb MB] [--punch-hz HZ] "
					"[--punch-same] [--watch-pid PID]\n");
			return 2;
		}
	}
	if (!c.dir || c.seconds <= 0 || c.punch_hz <= 0 || c.passes < 0 || c.watch_pid < 0) {
		fprintf(stderr, "faultbench: --dir is required; --seconds, --passes, --punch-hz and --watch-pid must be > 0\n");
		return 2;
	}
	if (c.watch_pid && process_cpu_seconds(c.watch_pid) < 0) {
		fprintf(stderr, "faultbench: no process %d to watch\n", c.watch_pid);
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
	getrusage(RUSAGE_SELF, &process_before);
	if (c.watch_pid)
		watched_before = process_cpu_seconds(c.watch_pid);
	start = now();
	for (long pass = 0; c.passes ? pass < c.passes : now() - start < c.seconds; pass++) {
		/* skip page 0, which the stress case punches */
		for (size_t off = (size_t)pagesize; off < c.bytes; off += (size_t)pagesize, faults++)
			(void)map[off];
		madvise((void *)map, c.bytes, MADV_DONTNEED);
	}
	elapsed = now() - start;
	if (c.watch_pid)
		watched_after = process_cpu_seconds(c.watch_pid);
	getrusage(RUSAGE_SELF, &process_after);
	getrusage(RUSAGE_THREAD, &after);
	done = 1;
	pthread_join(thread, NULL);
	if (watched_after < 0) {
		fprintf(stderr, "faultbench: process %d ended while it was watched\n", c.watch_pid);
		return 1;
	}
	/* touches: pages read; faults: real minor faults (fault-around maps several pages per fault);
	 * cpu_seconds: both threads, user and system (the kernel's hooks run in them) */
	printf("{\"touches\":%ld,\"faults\":%ld,\"seconds\":%.3f,\"touches_per_sec\":%.0f,"
	       "\"faults_per_sec\":%.0f,\"punches\":%ld,\"cpu_seconds\":%.6f",
	       faults, after.ru_minflt - before.ru_minflt, elapsed, (double)faults / elapsed,
	       (double)(after.ru_minflt - before.ru_minflt) / elapsed, p.punches,
	       cpu_seconds(&process_after) - cpu_seconds(&process_before));
	if (c.watch_pid)
		printf(",\"watched_cpu_seconds\":%.6f", watched_after - watched_before);
	printf("}\n");
	return 0;
}
