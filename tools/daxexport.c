// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daxexport: daxscope's counters for Prometheus-compatible scrapers, served
 * at /metrics over HTTP (libmicrohttpd). The main loop reads events and, every
 * interval, renders the whole exposition once into a response that every
 * scrape until the next shares, so neither a scrape nor a stuck client ever
 * reads the report or holds the collector, and a slow reader costs no copy.
 * Clients are held to a budget: a share of the connections each (a local user
 * by uid, else an address), and a deadline for each request.
 */
#define _GNU_SOURCE /* open_memstream */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h> /* TCP_LISTEN */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daxscope/core/parse.h"
#include "daxscope/core/report.h"
#include "daxscope/live/loop.h"
#include "daxscope/live/session.h"
#include "daxscope/outputs/metrics.h"
#include "daxscope/core/mounts.h"

/* Connections at once, of all clients (each holds --per-client at most): more wait in the kernel's backlog. */
#define MAX_CONNECTIONS 64
/* Seconds a connection may sit idle (a slow client) before it is closed. */
#define CONNECTION_TIMEOUT 5
/* Bytes of a request's headers and state: past it MHD answers with an error. */
#define CONNECTION_MEMORY 16384

struct options {
	char listen[128];
	double interval;
	uint64_t top;
	double deadline;
	uint64_t per_client;
	uint64_t max_mounts;
	struct dx_budget_opts budget; /* --evidence-budget, --idle-files */
};

/* The latest exposition in both formats, one response each, swapped whole under the lock. */
struct snapshot {
	pthread_mutex_t lock;
	struct MHD_Response *resp[2]; /* by enum dx_metrics_format; MHD counts the connections sending it */
};

/*
 * Who holds a connection: a local user by uid, for every local user shares
 * 127.0.0.1 and may send from any address of 127/8; else the address.
 */
struct client {
	bool local;
	uid_t uid;
	int family;
	unsigned char addr[16];
};

/* A connection being served. */
struct conn_slot {
	bool used, cut;
	int fd; /* a duplicate of MHD's: shutting it down cuts the connection, and it stays ours until MHD is done */
	uint64_t deadline_ns;
	struct client client;
};

/* The budget of the HTTP clients: connections per client, time per request. */
struct gate {
	pthread_mutex_t lock;
	struct conn_slot slot[MAX_CONNECTIONS];
	uint64_t deadline_ns; /* per request: from the connection, or from the end of its previous reply */
	unsigned int per_client;
	struct dx_metrics_http counts;
};

/* What the HTTP threads read: the snapshot, and the gate they admit connections through. */
struct server {
	struct snapshot snap;
	struct gate gate;
	struct dx_mount_history *history; /* device numbers' earlier mounts */
};

static volatile sig_atomic_t stop;

enum { OPT_LISTEN = 1000, OPT_TOP, OPT_DEADLINE, OPT_PER_CLIENT, OPT_MAX_MOUNTS };

static const struct argp_option options[] = {
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0, "serve /metrics there (default 127.0.0.1:9477; [ADDR]:PORT for IPv6)", 0 },
	{ "interval", 'i', "SECONDS", 0, "render the metrics every SECONDS (default 1, 0.1 to 3600)", 0 },
	{ "top", OPT_TOP, "N", 0, "per-file series for the N busiest files (default 20, 0 to 200)", 0 },
	{ "max-mounts", OPT_MAX_MOUNTS, "N", 0, "per-mount series for N mounts, the rest summed as \"other\" (default 64, 1 to 10000)", 0 },
	{ "deadline", OPT_DEADLINE, "SECONDS", 0, "a request must be read and answered within SECONDS (default 10, 0.1 to 600)", 0 },
	{ "per-client", OPT_PER_CLIENT, "N", 0, "connections a local user (or an address) may hold at once (default 4, 1 to 64)", 0 },
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
	case OPT_MAX_MOUNTS:
		if (!dx_parse_count(arg, 1, DX_METRICS_MOUNTS_MAX, &o->max_mounts))
			argp_error(state, "invalid --max-mounts '%s' (1 to %d)", arg, DX_METRICS_MOUNTS_MAX);
		break;
	case OPT_DEADLINE:
		if (!dx_parse_seconds(arg, 0.1, 600, &o->deadline))
			argp_error(state, "invalid --deadline '%s' (seconds, 0.1 to 600)", arg);
		break;
	case OPT_PER_CLIENT:
		if (!dx_parse_count(arg, 1, MAX_CONNECTIONS, &o->per_client))
			argp_error(state, "invalid --per-client '%s' (1 to %d)", arg, MAX_CONNECTIONS);
		break;
	case 'v':
		setenv("DAXSCOPE_DEBUG", "1", 1);
		break;
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->budget;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = { { &dx_budget_argp, 0, NULL, 0 }, { 0 } };
static const struct argp argp = { options, parse_opt, NULL, doc, children, NULL, NULL };

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

/* ---- the gate: a share of the connections per client, a deadline per request ---- */

/*
 * The uid owning the socket at the other end of a connection, when that end
 * is on this machine: sock_diag finds one socket by its 4-tuple
 * (inet_diag_find_one_icsk, net/ipv4/inet_diag.c), and any user may ask.
 */
static bool local_peer_uid(const struct client *peer, uint16_t peer_port, const void *self, uint16_t self_port,
			   uid_t *uid)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST },
		/* the peer's socket: its own address and port are the source, ours the destination */
		.req = { .sdiag_family = (uint8_t)peer->family, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u,
			 .id = { .idiag_sport = peer_port, .idiag_dport = self_port,
				 .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
	};
	union {
		struct nlmsghdr nlh;
		char buf[512];
	} reply;
	size_t alen = peer->family == AF_INET ? 4 : 16;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	bool found = false;
	ssize_t n;

	if (fd < 0)
		return false;
	memcpy(msg.req.id.idiag_src, peer->addr, alen);
	memcpy(msg.req.id.idiag_dst, self, alen);
	if (send(fd, &msg, sizeof(msg), 0) == (ssize_t)sizeof(msg) && (n = recv(fd, &reply, sizeof(reply), 0)) > 0 &&
	    NLMSG_OK(&reply.nlh, (size_t)n) && reply.nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
	    reply.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
		const struct inet_diag_msg *d = NLMSG_DATA(&reply.nlh);

		/* the lookup falls back to a listener on that port once the peer is gone: not the peer's */
		found = d->idiag_state != TCP_LISTEN;
		*uid = d->idiag_uid;
	}
	close(fd);
	return found;
}

/* An address and port in network order, an IPv4-mapped IPv6 address as the IPv4 one its socket has. */
static int address_of(const struct sockaddr_storage *ss, unsigned char addr[16], uint16_t *port)
{
	const struct sockaddr_in *in = (const void *)ss;
	const struct sockaddr_in6 *in6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		memcpy(addr, &in->sin_addr, 4);
		*port = in->sin_port;
		return AF_INET;
	}
	if (ss->ss_family != AF_INET6)
		return -1;
	*port = in6->sin6_port;
	if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		memcpy(addr, &in6->sin6_addr.s6_addr[12], 4);
		return AF_INET;
	}
	memcpy(addr, &in6->sin6_addr, 16);
	return AF_INET6;
}

/* The client at the other end of a connected socket; false if it cannot be told. */
static bool client_of(int fd, struct client *c)
{
	struct sockaddr_storage peer, self;
	socklen_t plen = sizeof(peer), slen = sizeof(self);
	unsigned char self_addr[16];
	uint16_t peer_port, self_port;

	memset(c, 0, sizeof(*c));
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) || getsockname(fd, (struct sockaddr *)&self, &slen))
		return false;
	c->family = address_of(&peer, c->addr, &peer_port);
	if (c->family < 0 || address_of(&self, self_addr, &self_port) != c->family)
		return false;
	c->local = local_peer_uid(c, peer_port, self_addr, self_port, &c->uid);
	return true;
}

static bool same_client(const struct client *a, const struct client *b)
{
	if (a->local || b->local)
		return a->local == b->local && a->uid == b->uid;
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* A new connection takes a slot if its client has fewer than its share; else it is shut at once. */
static struct conn_slot *admit(struct gate *g, int fd)
{
	struct conn_slot *slot = NULL;
	struct client c;
	unsigned int held = 0;

	if (!client_of(fd, &c))
		return NULL;
	pthread_mutex_lock(&g->lock);
	for (size_t i = 0; i < MAX_CONNECTIONS; i++) {
		if (!g->slot[i].used)
			slot = slot ? slot : &g->slot[i];
		else if (same_client(&g->slot[i].client, &c))
			held++;
	}
	if (held >= g->per_client || !slot || (slot->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		slot = NULL;
	} else {
		slot->used = true;
		slot->cut = false;
		slot->client = c;
		slot->deadline_ns = dx_clock_ns(CLOCK_MONOTONIC) + g->deadline_ns;
	}
	pthread_mutex_unlock(&g->lock);
	return slot;
}

/* MHD's thread, as a connection opens and closes: every connection holds a slot, or is shut. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct gate *g = cls;
	struct conn_slot *slot = *socket_context;
	int fd;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (slot) {
			pthread_mutex_lock(&g->lock);
			close(slot->fd);
			slot->used = false;
			pthread_mutex_unlock(&g->lock);
		}
		return;
	}
	fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)->connect_fd;
	*socket_context = slot = admit(g, fd);
	if (!slot) {
		shutdown(fd, SHUT_RDWR); /* MHD reads the end and closes it */
		pthread_mutex_lock(&g->lock);
		g->counts.refused++;
		pthread_mutex_unlock(&g->lock);
	}
}

/* MHD's thread, as a reply has been sent: the connection's next request has a deadline of its own. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **req, enum MHD_RequestTerminationCode why)
{
	struct gate *g = cls;
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_slot *slot = info ? info->socket_context : NULL;

	(void)req, (void)why;
	if (slot) {
		pthread_mutex_lock(&g->lock);
		slot->deadline_ns = dx_clock_ns(CLOCK_MONOTONIC) + g->deadline_ns;
		pthread_mutex_unlock(&g->lock);
	}
}

/* The main loop's: connections past their deadline are shut, however busily they trickle. */
static void cut_late(struct gate *g, uint64_t now)
{
	pthread_mutex_lock(&g->lock);
	for (size_t i = 0; i < MAX_CONNECTIONS; i++) {
		struct conn_slot *slot = &g->slot[i];

		if (slot->used && !slot->cut && now >= slot->deadline_ns) {
			shutdown(slot->fd, SHUT_RDWR);
			slot->cut = true;
			g->counts.cut++;
		}
	}
	pthread_mutex_unlock(&g->lock);
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
	struct snapshot *snap = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)version, (void)upload, (void)upload_len, (void)state;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		resp = plain("only GET and HEAD\n");
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
	}
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, plain("not found: try /metrics\n"));
	/* the connection takes a reference: the response outlives a swap until its last reader is done */
	pthread_mutex_lock(&snap->lock);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, snap->resp[wanted_format(conn)]);
	pthread_mutex_unlock(&snap->lock);
	return ret;
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

/*
 * The mount table as it is now: a device number a new mount reuses takes its
 * labels. Mounts keyed by the kernel's unique IDs where it has them (6.8+),
 * else by mountinfo's, which the kernel hands out again. False if m is left as
 * it was: the mount history must not learn from a table that was not read.
 */
static bool learn_mounts(struct dx_mounts *m)
{
	static bool reused_ids;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret;

	if (!f)
		return false;
	ret = reused_ids ? -1 : dx_mounts_read_unique(m, f);
	if (reused_ids || (ret && (errno == ENOSYS || errno == EPERM))) {
		reused_ids = true;
		rewind(f);
		ret = dx_mounts_read(m, f);
	}
	fclose(f);
	return !ret;
}

/* The exposition in format f as a response for every scrape until the next; NULL if out of memory. */
static struct MHD_Response *exposition(const struct dx_report *r, const struct dx_metrics_opts *o)
{
	static const char *const types[] = { DX_METRICS_OPENMETRICS_TYPE, DX_METRICS_PROMETHEUS_TYPE };
	size_t len;
	char *text = render(r, o, &len);
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);

	if (!resp)
		free(text);
	else if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, types[o->format]) != MHD_YES) {
		MHD_destroy_response(resp);
		resp = NULL;
	}
	return resp;
}

static void publish(struct server *srv, const struct dx_report *r, struct dx_mounts *mounts, const struct options *o)
{
	struct dx_metrics_http http;

	if (learn_mounts(mounts))
		dx_mount_history_learn(srv->history, r, mounts);
	pthread_mutex_lock(&srv->gate.lock);
	http = srv->gate.counts;
	pthread_mutex_unlock(&srv->gate.lock);
	for (int f = 0; f < 2; f++) {
		struct dx_metrics_opts mo = { .format = f, .top_files = (size_t)o->top, .max_mounts = (size_t)o->max_mounts,
					      .mounts = mounts, .history = srv->history, .http = &http };
		struct MHD_Response *resp = exposition(r, &mo), *old;

		if (!resp)
			continue; /* out of memory: the last one is served again */
		pthread_mutex_lock(&srv->snap.lock);
		old = srv->snap.resp[f];
		srv->snap.resp[f] = resp;
		pthread_mutex_unlock(&srv->snap.lock);
		if (old)
			MHD_destroy_response(old); /* freed once its last reader is done */
	}
}

/* What the live loop's callbacks work on. */
struct exporter {
	struct server *srv;
	struct dx_report *report;
	struct dx_mounts *mounts;
	const struct options *o;
};

/* After every poll: a request past its deadline is cut within POLL_MS. */
#define POLL_MS 50

static bool cut_late_turn(void *ctx, uint64_t now_ns)
{
	struct exporter *e = ctx;

	cut_late(&e->srv->gate, now_ns);
	return true;
}

/* Each interval, after the kernel's aggregates were taken: a fresh exposition. */
static bool publish_interval(void *ctx, uint64_t elapsed_ns)
{
	struct exporter *e = ctx;

	(void)elapsed_ns;
	publish(e->srv, e->report, e->mounts, e->o);
	return true;
}

static int run(struct dx_session *s, struct dx_report *r, struct server *srv, struct dx_mounts *mounts,
	       const struct options *o)
{
	struct exporter e = { .srv = srv, .report = r, .mounts = mounts, .o = o };
	struct dx_loop_opts loop = {
		.source = dx_session_source(s), .report = r, .poll_ms = POLL_MS, .on_turn = cut_late_turn,
		.interval_ns = (uint64_t)(o->interval * 1e9), .on_interval = publish_interval, .ctx = &e, .stop = &stop,
	};

	return dx_loop_run(&loop, NULL);
}

static struct MHD_Daemon *serve(int fd, struct server *srv)
{
	return MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, &srv->snap,
				MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, &srv->gate,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, &srv->gate, MHD_OPTION_END);
}

int main(int argc, char **argv)
{
	struct options o = { .listen = "127.0.0.1:9477", .interval = 1, .top = 20, .deadline = 10, .per_client = 4,
			     .max_mounts = DX_METRICS_MOUNTS_DEFAULT };
	struct server srv = { .snap.lock = PTHREAD_MUTEX_INITIALIZER, .gate.lock = PTHREAD_MUTEX_INITIALIZER,
			      .history = dx_mount_history_new() };
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
	srv.gate.deadline_ns = (uint64_t)(o.deadline * 1e9);
	srv.gate.per_client = (unsigned int)o.per_client;
	if (!parse_listen(o.listen, &ai)) {
		fprintf(stderr, "daxexport: invalid --listen '%s' (ADDR:PORT, numeric, port 1 to 65535)\n", o.listen);
		return 2;
	}
	fd = listen_on(ai, o.listen);
	freeaddrinfo(ai);
	if (fd < 0)
		return 1;
	/* no findings are listed: the counters hold them all */
	report = dx_report_new(&(struct dx_report_opts){ .max_findings = 1, .evidence_budget = o.budget.evidence_budget,
							    .idle_ns = o.budget.idle_ns });
	if (!report || dx_session_open(&(struct dx_session_opts){ 0 }, &session, err, sizeof(err))) {
		fprintf(stderr, "daxexport: %s\n", report ? err : "out of memory");
		dx_report_free(report);
		close(fd);
		return 1;
	}
	dx_report_set_origin_here(report);
	dx_session_describe(session, dx_report_take, report);
	dx_loop_stop_on_signals(&stop);
	signal(SIGPIPE, SIG_IGN); /* a scraper that hangs up mid-reply */
	publish(&srv, report, &mounts, &o); /* something to serve from the first request */
	daemon = serve(fd, &srv); /* the daemon owns the socket from here on, and closes it */
	if (!daemon) {
		fprintf(stderr, "daxexport: cannot start the HTTP server on %s\n", o.listen);
		rc = 1;
	} else {
		fprintf(stderr, "%s\ndaxexport: serving http://%s/metrics\n", dx_report_banner(report), o.listen);
		rc = run(session, report, &srv, &mounts, &o);
		MHD_stop_daemon(daemon);
		if (rc)
			fprintf(stderr, "daxexport: reading events: %s\n", strerror(-rc));
	}
	dx_session_close(session);
	dx_mounts_free(&mounts);
	dx_mount_history_free(srv.history);
	dx_report_free(report);
	for (int f = 0; f < 2; f++)
		if (srv.snap.resp[f])
			MHD_destroy_response(srv.snap.resp[f]);
	return rc ? 1 : 0;
}
