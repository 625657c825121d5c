// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daxcheck: runs the truth scenarios on a mount and scores daxscope's findings
 * against what each workload observed, one row per scenario (docs/truth.md).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daxscope/truth.h"

static const char usage[] =
	"Usage: daxcheck [--runs N] [--scenario NAME]... [--json | --markdown] [--expect-clean]\n"
	"                [--server-log FILE | --server-strace FILE] [--seed N] [-v] DIR\n"
	"       daxcheck --list\n"
	"\n"
	"Races hole punches against faults and IO in files under DIR (a mount), checks\n"
	"what each workload observed (lost writes, stale or resurrected bytes, the FUSE\n"
	"server's clock) and scores daxscope's findings against it: true events, reported,\n"
	"true/false positives, false negatives, precision, recall.\n"
	"\n"
	"  -n, --runs N          runs per scenario (default 20)\n"
	"  -s, --scenario NAME   only this scenario (repeatable; --list names them)\n"
	"      --expect-clean    DIR's filesystem holds faults out of punches (ext4, xfs):\n"
	"                        every run must be clean; adds the fio stress\n"
	"      --server-log FILE delayfs --log=FILE: the server's clock\n"
	"      --server-strace FILE  strace -f -ttt -y of the FUSE server (fallocate,\n"
	"                        ftruncate, truncate, copy_file_range, writev): its clock\n"
	"      --seed N          seed of the random operation mix (default 1)\n"
	"  -v, --verbose         every run's true events and findings, on stderr\n"
	"      --json            rows as JSON\n"
	"      --markdown        rows as a markdown table\n"
	"  -l, --list            list the scenarios\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 every row met its target, 1 some did not, 2 usage or setup error.\n";

struct options {
	struct dx_truth_opts truth;
	bool chosen[64]; /* by scenario index */
	bool any_chosen;
	enum dx_truth_format format;
};

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "daxcheck: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return 2;
}

/* A whole decimal number in [min, max]: no sign, no garbage, no overflow. */
static bool parse_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int need_dir(const char *what, const char *dir)
{
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return bad_usage(what, dir);
	return 0;
}

static void list_scenarios(void)
{
	for (size_t i = 0; i < dx_truth_nscenarios(); i++)
		printf("%-16s %s\n", dx_truth_scenario_name(i), dx_truth_scenario_about(i));
}

static int choose(struct options *o, const char *name)
{
	int i = dx_truth_scenario_find(name);

	if (i < 0)
		return bad_usage("unknown scenario '%s' (daxcheck --list)", name);
	o->chosen[i] = o->any_chosen = true;
	return 0;
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'n' },	 { "scenario", required_argument, NULL, 's' },
		{ "expect-clean", no_argument, NULL, 'c' },	 { "server-strace", required_argument, NULL, 'T' },
		{ "server-log", required_argument, NULL, 'L' }, { "seed", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },		 { "markdown", no_argument, NULL, 'm' },
		{ "list", no_argument, NULL, 'l' },		 { "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int opt, err = 0;

	opterr = 0;
	while (!err && (opt = getopt_long(argc, argv, "n:s:lhv", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (!parse_number(optarg, 1, 1000000, &v))
				return bad_usage("invalid --runs '%s' (1..1000000)", optarg);
			o->truth.runs = (unsigned int)v;
			break;
		case 's': err = choose(o, optarg); break;
		case 'c': o->truth.expect_clean = true; break;
		case 'L': o->truth.server_log = optarg; break;
		case 'T': o->truth.server_strace = optarg; break;
		case 'S':
			if (!parse_number(optarg, 0, UINT64_MAX, &v))
				return bad_usage("invalid --seed '%s'", optarg);
			o->truth.seed = v;
			break;
		case 'v': o->truth.trace = stderr; break;
		case 'j': o->format = DX_TRUTH_JSON; break;
		case 'm': o->format = DX_TRUTH_MARKDOWN; break;
		case 'l': list_scenarios(); exit(0);
		case 'h': fputs(usage, stdout); exit(0);
		default: return bad_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (err)
		return err;
	if (optind != argc - 1)
		return bad_usage("%s", optind < argc ? "one DIR only" : "DIR (a mount to check) is missing");
	o->truth.dir = argv[optind];
	return need_dir("'%s' is not a directory", o->truth.dir);
}

int main(int argc, char **argv)
{
	struct options o = { .truth = { .runs = 20, .seed = 1 } };
	struct dx_truth_row rows[64];
	struct dx_truth *t;
	char err[512];
	size_t n = 0;
	int status = 0, ret;

	ret = parse(argc, argv, &o);
	if (ret)
		return ret;
	if (dx_truth_open(&o.truth, &t, err, sizeof(err))) {
		fprintf(stderr, "daxcheck: %s\n", err);
		return 2;
	}
	fprintf(stderr, "%s\n", dx_truth_banner(t));
	for (size_t i = 0; i < dx_truth_nscenarios() && status < 2; i++) {
		const char *skip = dx_truth_scenario_skip(t, i);

		if (o.any_chosen && !o.chosen[i])
			continue;
		if (skip) {
			fprintf(stderr, "daxcheck: %s skipped on %s: %s\n", dx_truth_scenario_name(i), dx_truth_fs(t), skip);
			continue;
		}
		ret = dx_truth_run(t, i, &rows[n], err, sizeof(err));
		if (ret > 0) {
			fprintf(stderr, "daxcheck: %s skipped on %s: %s\n", dx_truth_scenario_name(i), dx_truth_fs(t), err);
			continue;
		}
		if (ret) {
			fprintf(stderr, "daxcheck: %s on %s: %s\n", dx_truth_scenario_name(i), dx_truth_fs(t), err);
			status = 2;
		}
		status = status ? status : !rows[n].ok;
		n++;
	}
	dx_truth_close(t);
	dx_truth_print(stdout, rows, n, o.format);
	return status;
}
