// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daxexport: daxscope's counters for Prometheus-compatible scrapers, served
 * at /metrics over HTTP (libmicrohttpd). The main loop reads events and, every
 * interval, renders the whole exposition into a buffer; the HTTP threads only
 * copy the latest buffer, so neither a scrape nor a stuck client ever reads
 * the report or holds the collector.
 */
#define _GNU_SOURCE /* open_memstream */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daxscope/daxscope.h"
#include "daxscope/metrics.h"

/* A scraper or two per machine: more connections than this wait in the kernel's backlog. */
#define MAX_CONNECTIONS 32
/* Seconds a connection may sit idle (a slow client) before it is closed. */
#define CONNECTION_TIMEOUT 5
/* Bytes of a request's headers and state: past it MHD answers with an error. */
#define CONNECTION_MEMORY 16384

struct options {
	char listen[128];
	double interval;
	uint64_t top;
};

/* The latest exposition in both formats, swapped whole under the lock. */
struct snapshot {
	pthread_mutex_t lock;
	char *text[2]; /* by enum dx_metrics_format */
	size_t len[2];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

enum { OPT_LISTEN = 1000, OPT_TOP };

static const struct argp_option options[] = {
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0, "serve /metrics there (default 127.0.0.1:9477; [ADDR]:PORT for IPv6)", 0 },
	{ "interval", 'i', "SECONDS", 0, "render the metrics every SECONDS (default 1, 0.1 to 3600)", 0 },
	{ "top", OPT_TOP, "N", 0, "per-file series for the N busiest files (default 20, 0 to 200)", 0 },
	{ "verbose", 'v', NULL, 0, "print libbpf's own messages (as DAXSCOPE_DEBUG=1)", 0 },
	{ 0 },
};

static const char doc[] =
	"Serves daxscope's counters at /metrics for Prometheus: per mount, per DAX window, and the busiest files."
	"\v"
	"OpenMetrics 1.0 when the scraper asks for it (Accept), else Prometheus text 0.0.4.\n"
	"\n"
	"Examples:\n"
	"  daxexport                                 # http://127.0.0.1:9477/metrics\n"
	"  daxexport --listen 0.0.0.0:9477 --top 50  # for a Prometheus elsewhere";

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct options *o = state->input;

	switch (key) {
	case OPT_LISTEN:
		if (strlen(arg) >= sizeof(o->listen))
			argp_error(state, "--listen '%s': too long", arg);
		memcpy(o->listen, arg, strlen(arg) + 1);
		break;
	case 'i':
		if (!dx_parse_seconds(arg, 0.1, 3600, &o->interval))
			argp_error(state, "invalid interval '%s' (seconds, 0.1 to 3600)", arg);
		break;
	case OPT_TOP:
		if (!dx_parse_count(arg, 0, DX_METRICS_TOP_MAX, &o->top))
			argp_error(state, "invalid --top '%s' (0 to %d)", arg, DX_METRICS_TOP_MAX);
		break;
	case 'v':
		setenv("DAXSCOPE_DEBUG", "1", 1);
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = { options, parse_opt, NULL, doc, NULL, NULL, NULL };

/* ---- the listening socket: bound before anything is attached, so a port in use fails at once ---- */

/* "ADDR:PORT" or "[ADDR]:PORT", numeric only; false if it is not that. */
static bool parse_listen(const char *arg, struct addrinfo **out)
{
	const char *colon = strrchr(arg, ':');
	char host[128];
	size_t hlen;
	uint64_t port;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };

	if (!colon || !dx_parse_count(colon + 1, 1, 65535, &port))
		return false;
	hlen = (size_t)(colon - arg);
	if (hlen >= 2 && arg[0] == '[' && arg[hlen - 1] == ']') {
		arg++;
		hlen -= 2;
	}
	if (!hlen || hlen >= sizeof(host))
		return false;
	memcpy(host, arg, hlen);
	host[hlen] = '\0';
	return !getaddrinfo(host, colon + 1, &hints, out);
}

static int listen_on(const struct addrinfo *ai, const char *what)
{
	int one = 1, fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		fprintf(stderr, "daxexport: cannot listen on %s: %s\n", what, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* ---- HTTP: reads only the snapshot ---- */

static struct MHD_Response *text_response(const char *text, size_t len, const char *type)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);

	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return resp;
}

static struct MHD_Response *plain(const char *msg)
{
	return text_response(msg, strlen(msg), "text/plain; charset=utf-8");
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO; /* out of memory: MHD closes the connection */
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* OpenMetrics when the scraper names it (Prometheus 2.x does, first), else 0.0.4. */
static enum dx_metrics_format wanted_format(struct MHD_Connection *conn)
{
	const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);

	return accept && strstr(accept, "application/openmetrics-text") ? DX_METRICS_OPENMETRICS
									 : DX_METRICS_PROMETHEUS;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_len, void **state)
{
	static const char *const types[] = { DX_METRICS_OPENMETRICS_TYPE, DX_METRICS_PROMETHEUS_TYPE };
	struct snapshot *snap = cls;
	struct MHD_Response *resp;
	enum dx_metrics_format f;

	(void)version, (void)upload, (void)upload_len, (void)state;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		resp = plain("only GET and HEAD\n");
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
	}
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, plain("not found: try /metrics\n"));
	f = wanted_format(conn);
	pthread_mutex_lock(&snap->lock);
	resp = text_response(snap->text[f], snap->len[f], types[f]);
	pthread_mutex_unlock(&snap->lock);
	return reply(conn, MHD_HTTP_OK, resp);
}

/* ---- the main loop: events in, a fresh snapshot every interval ---- */

static char *render(const struct dx_report *r, const struct dx_metrics_opts *o, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		abort();
	dx_metrics_write(f, r, o);
	fclose(f);
	return text;
}

/* The mount table as it is now: a device number a new mount reuses takes its labels. */
static void learn_mounts(struct dx_mounts *m)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (f) {
		dx_mounts_read(m, f);
		fclose(f);
	}
}

static void publish(struct snapshot *snap, const struct dx_report *r, struct dx_mounts *mounts, size_t top)
{
	char *old[2];

	learn_mounts(mounts);
	for (int f = 0; f < 2; f++) {
		struct dx_metrics_opts o = { .format = f, .top_files = top, .mounts = mounts };
		size_t len;
		char *text = render(r, &o, &len);

		pthread_mutex_lock(&snap->lock);
		old[f] = snap->text[f];
		snap->text[f] = text;
		snap->len[f] = len;
		pthread_mutex_unlock(&snap->lock);
	}
	free(old[0]);
	free(old[1]);
}

static int run(struct dx_session *s, struct dx_report *r, struct snapshot *snap, struct dx_mounts *mounts,
	       const struct options *o)
{
	uint64_t last = dx_clock_ns(CLOCK_MONOTONIC), now, interval_ns = (uint64_t)(o->interval * 1e9);
	int err = 0;

	while (!stop) {
		err = dx_report_hold(r, 50) ? 0 : dx_session_poll(s, 50, dx_report_take, r);
		if (err < 0 && err != -EINTR)
			break;
		err = 0;
		now = dx_clock_ns(CLOCK_MONOTONIC);
		dx_report_advance(r, now);
		if (now - last >= interval_ns) {
			dx_session_snapshot(s, dx_report_take, r);
			publish(snap, r, mounts, (size_t)o->top);
			last = now;
		}
	}
	return err;
}

static struct MHD_Daemon *serve(int fd, struct snapshot *snap)
{
	return MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, snap,
				MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY, MHD_OPTION_END);
}

int main(int argc, char **argv)
{
	struct options o = { .listen = "127.0.0.1:9477", .interval = 1, .top = 20 };
	struct snapshot snap = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct dx_mounts mounts = { 0 };
	struct dx_session *session;
	struct dx_report *report;
	struct MHD_Daemon *daemon;
	struct addrinfo *ai;
	char err[512];
	int fd, rc;

	argp_err_exit_status = 2; /* a usage error, as every daxscope tool says it */
	if (argp_parse(&argp, argc, argv, 0, NULL, &o))
		return 2;
	if (!parse_listen(o.listen, &ai)) {
		fprintf(stderr, "daxexport: invalid --listen '%s' (ADDR:PORT, numeric, port 1 to 65535)\n", o.listen);
		return 2;
	}
	fd = listen_on(ai, o.listen);
	freeaddrinfo(ai);
	if (fd < 0)
		return 1;
	/* no findings are listed: the counters hold them all */
	report = dx_report_new(&(struct dx_report_opts){ .max_findings = 1 });
	if (!report || dx_session_open(&(struct dx_session_opts){ 0 }, &session, err, sizeof(err))) {
		fprintf(stderr, "daxexport: %s\n", report ? err : "out of memory");
		dx_report_free(report);
		close(fd);
		return 1;
	}
	dx_report_set_origin_here(report);
	dx_session_describe(session, dx_report_take, report);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN); /* a scraper that hangs up mid-reply */
	publish(&snap, report, &mounts, (size_t)o.top); /* something to serve from the first request */
	daemon = serve(fd, &snap); /* the daemon owns the socket from here on, and closes it */
	if (!daemon) {
		fprintf(stderr, "daxexport: cannot start the HTTP server on %s\n", o.listen);
		rc = 1;
	} else {
		fprintf(stderr, "%s\ndaxexport: serving http://%s/metrics\n", dx_report_banner(report), o.listen);
		rc = run(session, report, &snap, &mounts, &o);
		MHD_stop_daemon(daemon);
		if (rc)
			fprintf(stderr, "daxexport: reading events: %s\n", strerror(-rc));
	}
	dx_session_close(session);
	dx_mounts_free(&mounts);
	dx_report_free(report);
	free(snap.text[0]);
	free(snap.text[1]);
	return rc ? 1 : 0;
}
