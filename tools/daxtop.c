// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daxtop: which files are being punched while they are faulted, who waits on
 * whom, refreshed every interval. Full screen (ncurses), or -b plain tables,
 * or --json one object per interval.
 */
#include <ctype.h>
#include <errno.h>
#include <argp.h>
#include <limits.h>
#include <inttypes.h>
#include <locale.h>
#include <ncurses.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termcap.h>
#include <unistd.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/parse.h"
#include "daxscope/core/paths.h"
#include "daxscope/core/report.h"
#include "daxscope/live/loop.h"
#include "daxscope/live/session.h"
#include "daxscope/outputs/report_out.h"
#include "daxscope/outputs/top.h"


enum mode { MODE_SCREEN, MODE_BATCH, MODE_JSON };

struct options {
	double interval;
	long iterations;
	enum mode mode;
	char path[PATH_MAX]; /* --path, absolute; "" for all */
	uint32_t pid;          /* -p: only punches by it (in the kernel); 0 for all */
	char cgroup[PATH_MAX]; /* --cgroup: only punches by its tasks (in the kernel); "" for all */
	struct dx_top_filter filter;
	struct dx_session_opts session; /* --fault-hooks, --hooks-idle */
	struct dx_budget_opts budget;   /* --evidence-budget, --idle-files */
};

struct app {
	struct options o;
	struct dx_session *session;
	struct dx_report *report;
	struct dx_top top;
	long refreshes; /* of -n */
	bool paused, help;
	char prompt[64];   /* the question being asked, "" if none */
	char answer[256];
	size_t answer_len;
	char status[256];  /* the last message, such as a filter that did not parse */
};

static volatile sig_atomic_t stop;

enum { OPT_JSON = 1000, OPT_CGROUP, OPT_PATH };

static const struct argp_option options[] = {
	{ "interval", 'i', "SECONDS", 0, "refresh every SECONDS (default 1, 0.1 to 3600)", 0 },
	{ "iterations", 'n', "N", 0, "stop after N refreshes", 0 },
	{ "batch", 'b', NULL, 0, "plain text tables, like top -b", 0 },
	{ "json", OPT_JSON, NULL, 0, "one JSON object per interval (fields as in daxtrace report --json)", 0 },
	{ "pid", 'p', "PID", 0, "only files PID punches (filtered in the kernel)", 0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0, "only files tasks of this cgroup (v2) punch (in the kernel)", 0 },
	{ "path", OPT_PATH, "DIR", 0, "only files in DIR or below it (its filesystem, in the kernel)", 0 },
	{ "verbose", 'v', NULL, 0, "print libbpf's own messages (as DAXSCOPE_DEBUG=1)", 0 },
	{ 0 },
};

static const char doc[] =
	"Live view of files being punched while they are faulted: faults, punches, waits on the fault/punch "
	"lock, faults that got through, discarded writes."
	"\v"
	"Keys: < > sort column (or its letter: N F U E W X H P T 5 9 M B D), R reverse, p pause, f or / filter "
	"by path, k by pid, c by cgroup, h or ? help, q quit.\n"
	"\n"
	"Without -b or --json on a stdout that is no terminal (a file, a pipe), or on a terminal that cannot move "
	"its cursor (TERM unset, unknown or dumb), daxtop prints the plain tables of -b, as top does, and says "
	"so in one line on stderr.\n"
	"\n"
	"Examples:\n"
	"  daxtop                 # full screen\n"
	"  daxtop -b -n 3         # three plain tables, one a second\n"
	"  daxtop --json -i 5     # a JSON object every 5 s";

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct options *o = state->input;
	char err[PATH_MAX + 64];
	uint64_t n;

	switch (key) {
	case 'i':
		if (!dx_parse_seconds(arg, 0.1, 3600, &o->interval))
			argp_error(state, "invalid interval '%s' (seconds, 0.1 to 3600)", arg);
		break;
	case 'n':
		if (!dx_parse_count(arg, 1, INT_MAX, &n))
			argp_error(state, "invalid iteration count '%s' (1 to %d)", arg, INT_MAX);
		o->iterations = (long)n;
		break;
	case 'b':
		o->mode = MODE_BATCH;
		break;
	case OPT_JSON:
		o->mode = MODE_JSON;
		break;
	case 'p':
		if (!dx_parse_count(arg, 1, INT_MAX, &n))
			argp_error(state, "invalid PID '%s' (1 to %d)", arg, INT_MAX);
		o->pid = (uint32_t)n;
		break;
	case OPT_CGROUP:
		if (!dx_cgroup_dir(arg, o->cgroup, sizeof(o->cgroup)))
			argp_error(state, "--cgroup '%s': not a cgroup v2 directory", arg);
		break;
	case OPT_PATH: /* the session keeps to its filesystem, the rows to the directory */
		if (dx_path_dir(arg, o->path, sizeof(o->path), err, sizeof(err)))
			argp_error(state, "--path %s", err);
		if (strlen(o->path) >= sizeof(o->filter.under))
			argp_error(state, "--path %s: too long", arg);
		memcpy(o->filter.under, o->path, strlen(o->path) + 1);
		break;
	case 'v':
		setenv("DAXSCOPE_DEBUG", "1", 1);
		break;
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->session;
		state->child_inputs[1] = &o->budget;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = {
	{ &dx_session_argp, 0, NULL, 0 }, { &dx_budget_argp, 0, NULL, 0 }, { 0 }
};
static const struct argp argp = { options, parse_opt, NULL, doc, children, NULL, NULL };

/* ---- screen ---- */

static void draw_help(void)
{
	static const char *const lines[] = {
		"daxtop keys",
		"",
		"  <  >   move the sort column left / right",
		"  R      reverse the sort order",
		"  p      pause / resume refreshing",
		"  f  /   filter by a path substring (empty: all)",
		"  k      filter by process id (empty: all)",
		"  c      filter by cgroup path or id (empty: all)",
		"  h  ?   this help",
		"  q      quit",
		"",
		"Sort by a column with its key (again: reverse):",
	};
	int n = (int)(sizeof(lines) / sizeof(lines[0])), y;
	char line[64];

	erase();
	for (y = 0; y < n && y < LINES; y++)
		mvaddnstr(y, 0, lines[y], COLS);
	for (int c = 0; c < DX_COL_COUNT && y < LINES; c++, y++) {
		snprintf(line, sizeof(line), "  %c      %s", dx_top_column_key(c), dx_top_column_name(c));
		mvaddnstr(y, 0, line, COLS);
	}
	if (y + 1 < LINES)
		mvaddnstr(y + 1, 0, "Rows in bold had unblocked faults or discarded writes. Any key returns.", COLS);
}

static void draw(struct app *a)
{
	struct dx_top *t = &a->top;
	size_t width = (size_t)(COLS > 0 ? COLS : 80);
	char line[width + 1];
	int y;

	if (a->help) {
		draw_help();
		refresh();
		return;
	}
	erase();
	snprintf(line, sizeof(line), "daxtop - %" PRIu64 " files, %zu shown%s", dx_report_files_seen(a->report),
		 t->nrows, a->paused ? "  [paused]" : "");
	mvaddnstr(0, 0, line, (int)width);
	mvaddnstr(1, 0, dx_report_banner(a->report), (int)width);
	snprintf(line, sizeof(line),
		 "per s: faults %.0f rd %.0f wr %.0f dax  punches %.0f  waits %.0f  unblocked %.0f  discarded %.0f  lost %.0f",
		 t->total.reads, t->total.writes, t->total.dax_pte + t->total.dax_pmd, t->total.punches, t->total.waits,
		 t->total.unblocked, t->total.discarded, t->lost_rate);
	if (t->unwatched)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "  unwatched punches %" PRIu64, t->unwatched);
	if (t->undated)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "  FUSE undated %" PRIu64 " (verdicts unreliable)",
			 t->undated);
	mvaddnstr(2, 0, line, (int)width);
	snprintf(line, sizeof(line), "sort %s %s  filter path '%s' pid %u cgroup %s%s%s  %s",
		 dx_top_column_name(t->sort), t->ascending ? "asc" : "desc", t->filter.path, a->o.pid,
		 a->o.cgroup[0] ? a->o.cgroup : "-", t->filter.under[0] ? "  under " : "", t->filter.under, a->status);
	mvaddnstr(3, 0, line, (int)width);
	y = 4;
	for (size_t i = 0; i < dx_report_ndax(a->report) && y < LINES - 2; i++, y++) {
		const struct dx_dax_window *w = dx_report_dax(a->report, i);
		char advice[DX_DAX_ADVICE_LEN];

		dx_dax_window_line(w, line, sizeof(line));
		mvaddnstr(y, 0, line, (int)width);
		if (++y >= LINES - 2)
			break;
		dx_dax_advice(w, dx_report_dax_model(a->report, i), advice, sizeof(advice));
		snprintf(line, sizeof(line), "  advice: %s", advice);
		mvaddnstr(y, 0, line, (int)width);
	}
	dx_top_format_header(line, width);
	attron(A_REVERSE);
	mvaddnstr(y, 0, line, (int)width);
	attroff(A_REVERSE);
	for (size_t i = 0, first = (size_t)y + 1, end = a->prompt[0] ? 1 : 0;
	     i < t->nrows && (y = (int)(first + i)) < LINES - (int)end; i++) {
		bool hot = dx_top_row_has_findings(&t->rows[i]);

		dx_top_format_row(&t->rows[i], line, width);
		if (hot)
			attron(A_BOLD | COLOR_PAIR(1));
		mvaddnstr(y, 0, line, (int)width);
		if (hot)
			attroff(A_BOLD | COLOR_PAIR(1));
	}
	if (a->prompt[0]) {
		snprintf(line, sizeof(line), "%s: %s", a->prompt, a->answer);
		mvaddnstr(LINES - 1, 0, line, (int)width);
	}
	refresh();
}

/* Whose punches the kernel side watches, from now on; a PID that is not running is said, not refused. */
static void refilter(struct app *a, uint32_t pid, const char *cgroup)
{
	char err[PATH_MAX + 64];

	if (dx_session_filter(a->session, pid, cgroup[0] ? cgroup : NULL, err, sizeof(err))) {
		snprintf(a->status, sizeof(a->status), "%.250s", err);
		return;
	}
	a->o.pid = pid;
	snprintf(a->o.cgroup, sizeof(a->o.cgroup), "%s", cgroup);
	if (pid && kill((pid_t)pid, 0) && errno == ESRCH)
		snprintf(a->status, sizeof(a->status), "no process %u (yet): watching for it", pid);
}

static void apply_answer(struct app *a)
{
	struct dx_top_filter *f = &a->top.filter;

	a->status[0] = '\0';
	if (!strcmp(a->prompt, "filter path")) {
		snprintf(f->path, sizeof(f->path), "%s", a->answer);
	} else if (!strcmp(a->prompt, "filter pid")) {
		uint64_t pid = 0;

		if (a->answer[0] && !dx_parse_count(a->answer, 1, INT_MAX, &pid)) /* empty: every process */
			snprintf(a->status, sizeof(a->status), "not a pid: %.200s", a->answer);
		else
			refilter(a, (uint32_t)pid, a->o.cgroup);
	} else if (!strcmp(a->prompt, "filter cgroup")) {
		char dir[PATH_MAX] = "";

		if (a->answer[0] && !dx_cgroup_dir(a->answer, dir, sizeof(dir)))
			snprintf(a->status, sizeof(a->status), "not a cgroup v2 directory: %.200s", a->answer);
		else
			refilter(a, a->o.pid, dir);
	}
	a->prompt[0] = '\0';
}

static void ask(struct app *a, const char *question)
{
	snprintf(a->prompt, sizeof(a->prompt), "%s", question);
	a->answer[0] = '\0';
	a->answer_len = 0;
}

/* A new sort column: names A to Z, numbers most first. */
static void sort_by(struct dx_top *t, enum dx_top_column col)
{
	t->sort = col;
	t->ascending = col == DX_COL_PATH || col == DX_COL_FAULTER || col == DX_COL_PUNCHER;
}

/* Returns false when the user quits. */
static bool handle_key(struct app *a, int key)
{
	if (a->prompt[0]) {
		if (key == '\n' || key == KEY_ENTER)
			apply_answer(a);
		else if (key == 27)
			a->prompt[0] = '\0';
		else if ((key == KEY_BACKSPACE || key == 127 || key == 8) && a->answer_len)
			a->answer[--a->answer_len] = '\0';
		else if (isprint(key) && a->answer_len + 1 < sizeof(a->answer)) {
			a->answer[a->answer_len++] = (char)key;
			a->answer[a->answer_len] = '\0';
		}
		dx_top_refilter(&a->top);
		return true;
	}
	if (a->help) {
		a->help = false;
		return true;
	}
	switch (key) {
	case 'q': case 'Q': return false;
	case 'p': a->paused = !a->paused; break;
	case '<': sort_by(&a->top, a->top.sort ? a->top.sort - 1 : DX_COL_COUNT - 1); break;
	case '>': sort_by(&a->top, (a->top.sort + 1) % DX_COL_COUNT); break;
	case 'R': a->top.ascending = !a->top.ascending; break;
	case 'f': case '/': ask(a, "filter path"); break;
	case 'k': ask(a, "filter pid"); break;
	case 'c': ask(a, "filter cgroup"); break;
	case 'h': case '?': a->help = true; break;
	default: {
		enum dx_top_column col = dx_top_column_by_key(key);

		if (col == DX_COL_COUNT)
			return true;
		if (col == a->top.sort) /* its key again: the other way round */
			a->top.ascending = !a->top.ascending;
		else
			sort_by(&a->top, col);
	}
	}
	dx_top_sort(&a->top);
	return true;
}

/* Why the full screen cannot be drawn on stdout (NULL if it can): a file or pipe would get escape sequences, a dumb terminal a blank screen. */
static const char *screen_unusable(void)
{
	static char why[128];
	const char *term = getenv("TERM");

	if (!isatty(STDOUT_FILENO))
		return "stdout is not a terminal";
	if (!term || !term[0])
		return "TERM is not set";
	/* the termcap names: "cm" cursor motion, "cl" clear screen; without them curses draws nothing useful */
	if (tgetent(NULL, term) != 1)
		snprintf(why, sizeof(why), "TERM=%.64s is not in the terminfo database", term);
	else if (!tgetstr("cm", NULL) || !tgetstr("cl", NULL))
		snprintf(why, sizeof(why), "TERM=%.64s cannot move the cursor", term);
	else
		return NULL;
	return why;
}

static void start_screen(void)
{
	set_escdelay(25); /* Esc cancels a prompt without a pause */
	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(1, COLOR_RED, -1);
	}
}

/* ---- the live loop's callbacks ---- */

/* Keys are read after every poll: at most POLL_MS until one is acted on. */
#define POLL_MS 50

/* Each interval, after the kernel's aggregates were taken: the rows, rates over the interval, and the view. */
static bool refresh_view(void *ctx, uint64_t elapsed_ns)
{
	struct app *a = ctx;
	double interval = (double)elapsed_ns / 1e9;

	dx_top_update(&a->top, a->report, interval);
	if (a->o.mode == MODE_BATCH)
		dx_top_print_text(stdout, &a->top, a->report, 200);
	else if (a->o.mode == MODE_JSON)
		dx_top_print_json(stdout, &a->top, a->report, interval);
	else
		draw(a);
	fflush(stdout);
	return !a->o.iterations || ++a->refreshes < a->o.iterations;
}

/* After every poll, on the screen: the keys pressed meanwhile. False when the user quits. */
static bool read_keys(void *ctx, uint64_t now_ns)
{
	struct app *a = ctx;
	int key;

	(void)now_ns;
	while (a->o.mode == MODE_SCREEN && (key = getch()) != ERR) {
		if (key != KEY_RESIZE && !handle_key(a, key))
			return false;
		draw(a);
	}
	return true;
}

static int run(struct app *a)
{
	struct dx_loop_opts loop = {
		.source = dx_session_source(a->session), .report = a->report, .poll_ms = POLL_MS,
		.on_turn = read_keys, .interval_ns = (uint64_t)(a->o.interval * 1e9), .on_interval = refresh_view,
		.paused = &a->paused, .ctx = a, .stop = &stop,
	};

	if (a->o.mode == MODE_SCREEN)
		draw(a);
	return dx_loop_run(&loop, NULL);
}

int main(int argc, char **argv)
{
	struct app a = { 0 };
	struct dx_session_opts so;
	const char *unusable;
	char err[512];
	int rc;

	setlocale(LC_ALL, "");
	a.o.interval = 1;
	argp_err_exit_status = 2; /* a usage error, as every daxscope tool says it */
	if (argp_parse(&argp, argc, argv, 0, NULL, &a.o))
		return 2;
	if (a.o.mode == MODE_SCREEN && (unusable = screen_unusable())) {
		fprintf(stderr, "daxtop: %s: printing plain tables, as -b does\n", unusable);
		a.o.mode = MODE_BATCH;
	}
	so = a.o.session;
	so.path = a.o.path[0] ? a.o.path : NULL;
	so.pid = a.o.pid;
	so.cgroup = a.o.cgroup[0] ? a.o.cgroup : NULL;
	if (a.o.pid && kill((pid_t)a.o.pid, 0) && errno == ESRCH)
		fprintf(stderr, "daxtop: no process %u (yet): watching for it\n", a.o.pid);
	/* a live view keeps a ring of the newest findings: its memory stays flat however long it runs */
	a.report = dx_report_new(&(struct dx_report_opts){ .max_findings = 1024, .evidence_budget = a.o.budget.evidence_budget,
								.idle_ns = a.o.budget.idle_ns });
	if (!a.report)
		return 1;
	if (dx_session_open(&so, &a.session, err, sizeof(err))) {
		fprintf(stderr, "daxtop: %s\n", err);
		dx_report_free(a.report);
		return 1;
	}
	dx_report_set_origin_here(a.report);
	dx_session_describe(a.session, dx_report_take, a.report);
	a.top.filter = a.o.filter;
	a.top.sort = DX_COL_DISCARDED;
	dx_loop_stop_on_signals(&stop);
	if (a.o.mode == MODE_SCREEN)
		start_screen();
	else if (a.o.mode == MODE_BATCH)
		fprintf(stderr, "%s\n", dx_report_banner(a.report));
	rc = run(&a);
	if (a.o.mode == MODE_SCREEN)
		endwin();
	if (rc)
		fprintf(stderr, "daxtop: reading events: %s\n", strerror(-rc));
	dx_session_close(a.session);
	dx_top_free(&a.top);
	dx_report_free(a.report);
	return rc ? 1 : 0;
}
