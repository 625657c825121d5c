// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daxcheck: runs the truth scenarios on a mount and scores daxscope's findings
 * against what each workload observed, one row per scenario (docs/truth.md);
 * with --verdict, answers the user's question instead: is each operation
 * that changes data safe from faults on this mount (docs/verdict.md). One
 * engine (a session on the mount, scratch files, the workloads' own checks),
 * two front ends.
 */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daxscope/core/parse.h"
#include "daxscope/truth/truth.h"
#include "daxscope/truth/verdict.h"

struct options {
	struct dx_truth_opts truth;
	bool chosen[64]; /* by scenario index */
	bool any_chosen;
	enum dx_truth_format format;
	bool verdict;
	double seconds;  /* --verdict's budget */
	const char *table_option; /* the last option given that only the truth table takes */
	bool time_given;
};

enum {
	OPT_EXPECT_CLEAN = 1000,
	OPT_SERVER_LOG,
	OPT_SERVER_STRACE,
	OPT_SEED,
	OPT_JSON,
	OPT_MARKDOWN,
	OPT_VERDICT,
	OPT_TIME,
	OPT_TRACE,
};

static const struct argp_option options[] = {
	{ "verdict", OPT_VERDICT, NULL, 0,
	  "the punch-safety verdict of every operation on DIR's filesystem: SAFE, UNSAFE, EXPOSED, not supported or "
	  "could not check", 0 },
	{ "time", OPT_TIME, "SECONDS", 0, "--verdict: the whole check's budget (default 60)", 0 },
	{ "runs", 'n', "N", 0, "runs per scenario (default 20, 1 to 1000000)", 0 },
	{ "scenario", 's', "NAME", 0, "only this scenario (repeatable; --list names them)", 0 },
	{ "expect-clean", OPT_EXPECT_CLEAN, NULL, 0,
	  "DIR's filesystem holds faults out of punches (ext4, xfs): every run must be clean; adds the fio stress", 0 },
	{ "server-log", OPT_SERVER_LOG, "FILE", 0, "delayfs --log=FILE: the server's clock", 0 },
	{ "server-strace", OPT_SERVER_STRACE, "FILE", 0,
	  "strace -f -ttt -y of the FUSE server (fallocate, ftruncate, truncate, copy_file_range, writev): its clock",
	  0 },
	{ "seed", OPT_SEED, "N", 0, "seed of the random operation mix (default 1)", 0 },
	{ "verbose", 'v', NULL, 0, "every run's true events and findings, on stderr", 0 },
	{ "trace", OPT_TRACE, "FILE", 0, "every run's true events and findings, into FILE", 0 },
	{ "json", OPT_JSON, NULL, 0, "rows (or verdicts) as JSON", 0 },
	{ "markdown", OPT_MARKDOWN, NULL, 0, "rows as a markdown table", 0 },
	{ "list", 'l', NULL, 0, "list the scenarios", 0 },
	{ 0 },
};

static const char doc[] =
	"Races hole punches against faults and IO in files under DIR (a mount), checks what each workload observed "
	"(lost writes, stale or resurrected bytes, the FUSE server's clock) and scores daxscope's findings against "
	"it: true events, reported, true/false positives, false negatives, precision, recall. With --verdict, judges "
	"the filesystem instead: for each operation that changes data, SAFE, UNSAFE, EXPOSED, not supported or could "
	"not check, from the lock the kernel read at each data change, what got through and what the workload read "
	"back (docs/verdict.md)."
	"\v"
	"Exit status: 0 every row met its target, 1 some did not, 2 usage or setup error. With --verdict: 0 every "
	"supported operation SAFE, 1 some UNSAFE or EXPOSED, 2 the check could not run, 3 some could not be "
	"checked.\n"
	"\n"
	"Examples:\n"
	"  daxcheck --list                             # the scenarios\n"
	"  daxcheck --runs 100 --markdown /mnt/fuse    # one that lets faults in\n"
	"  daxcheck --expect-clean --json /mnt/ext4    # one that must hold them out\n"
	"  daxcheck --verdict --time 30 /mnt/fuse      # is each operation safe there?";

static void list_scenarios(void)
{
	for (size_t i = 0; i < dx_truth_nscenarios(); i++)
		printf("%-16s %s\n", dx_truth_scenario_name(i), dx_truth_scenario_about(i));
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct options *o = state->input;
	struct stat st;
	uint64_t v;
	int i;

	if (key == 'n' || key == 's' || key == OPT_EXPECT_CLEAN || key == OPT_SERVER_LOG || key == OPT_SERVER_STRACE ||
	    key == OPT_SEED || key == 'v' || key == OPT_TRACE || key == OPT_MARKDOWN)
		for (const struct argp_option *opt = options; opt->name; opt++)
			o->table_option = opt->key == key ? opt->name : o->table_option;
	switch (key) {
	case 'n':
		if (!dx_parse_count(arg, 1, 1000000, &v))
			argp_error(state, "invalid --runs '%s' (1 to 1000000)", arg);
		o->truth.runs = (unsigned int)v;
		break;
	case 's':
		i = dx_truth_scenario_find(arg);
		if (i < 0)
			argp_error(state, "unknown scenario '%s' (daxcheck --list)", arg);
		o->chosen[i] = o->any_chosen = true;
		break;
	case OPT_EXPECT_CLEAN: o->truth.expect_clean = true; break;
	case OPT_SERVER_LOG: o->truth.server_log = arg; break;
	case OPT_SERVER_STRACE: o->truth.server_strace = arg; break;
	case OPT_SEED:
		if (!dx_parse_count(arg, 0, UINT64_MAX, &o->truth.seed))
			argp_error(state, "invalid --seed '%s'", arg);
		break;
	case 'v': o->truth.trace = stderr; break;
	case OPT_TRACE:
		o->truth.trace = fopen(arg, "w");
		if (!o->truth.trace)
			argp_error(state, "--trace %s: %s", arg, strerror(errno));
		setvbuf(o->truth.trace, NULL, _IOLBF, 0); /* whole lines, should a bound kill daxcheck */
		break;
	case OPT_JSON: o->format = DX_TRUTH_JSON; break;
	case OPT_MARKDOWN: o->format = DX_TRUTH_MARKDOWN; break;
	case OPT_VERDICT: o->verdict = true; break;
	case OPT_TIME:
		if (!dx_parse_count(arg, 1, 86400, &v))
			argp_error(state, "invalid --time '%s' (1 to 86400 seconds)", arg);
		o->seconds = (double)v;
		o->time_given = true;
		break;
	case 'l':
		list_scenarios();
		exit(0);
	case ARGP_KEY_ARG:
		if (state->arg_num > 0)
			argp_error(state, "one DIR only");
		if (stat(arg, &st) || !S_ISDIR(st.st_mode))
			argp_error(state, "'%s' is not a directory", arg);
		o->truth.dir = arg;
		break;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "DIR (a mount to check) is missing");
		break;
	case ARGP_KEY_END:
		if (o->verdict && o->table_option)
			argp_error(state, "--%s is for the truth table, not --verdict", o->table_option);
		if (!o->verdict && o->time_given)
			argp_error(state, "--time is for --verdict");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = { options, parse_opt, "DIR\n--list", doc, NULL, NULL, NULL };

static volatile sig_atomic_t stop_verdict;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_verdict = 1;
}

/* Exit status: 0 every supported operation SAFE, 1 some UNSAFE or EXPOSED, 2 the check could not run, 3 else. */
static int verdicts(struct dx_truth *t, const struct options *o)
{
	struct dx_verdict_opts vo = { .seconds = o->seconds, .progress = stderr, .stop = &stop_verdict };
	struct sigaction sa = { .sa_handler = on_stop_signal };
	struct dx_verdict_row rows[32];
	char err[512];
	int status = 0;

	/* a signal ends the check between attempts: the scratch files go with it */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (dx_verdict_check(t, &vo, rows, err, sizeof(err))) {
		fprintf(stderr, "daxcheck: %s\n", err);
		dx_truth_close(t);
		return 2;
	}
	dx_verdict_print(stdout, t, rows, o->format == DX_TRUTH_JSON);
	dx_truth_close(t);
	for (size_t i = 0; i < dx_verdict_nops(); i++) {
		enum dx_verdict v = rows[i].verdict;

		if (v == DX_VERDICT_UNSAFE || v == DX_VERDICT_EXPOSED)
			return 1;
		status = v == DX_VERDICT_UNCHECKED ? 3 : status;
	}
	return status;
}

int main(int argc, char **argv)
{
	struct options o = { .truth = { .runs = 20, .seed = 1 }, .seconds = 60 };
	struct dx_truth_row rows[64];
	struct dx_truth *t;
	char err[512];
	size_t n = 0;
	int status = 0;

	argp_err_exit_status = 2; /* a usage error, as every daxscope tool says it */
	if (argp_parse(&argp, argc, argv, 0, NULL, &o))
		return 2;
	if (dx_truth_open(&o.truth, &t, err, sizeof(err))) {
		fprintf(stderr, "daxcheck: %s\n", err);
		return 2;
	}
	fprintf(stderr, "%s\n", dx_truth_banner(t));
	if (o.verdict)
		return verdicts(t, &o);
	for (size_t i = 0; i < dx_truth_nscenarios() && status < 2; i++) {
		const char *skip = dx_truth_scenario_skip(t, i);
		int ret;

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
