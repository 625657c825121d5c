// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The live session's options, one argp child for every tool that opens a session (a build without BPF too). */
#include <argp.h>
#include <string.h>

#include "daxscope/core/parse.h"
#include "daxscope/live/session.h"

enum { OPT_FAULT_HOOKS = 2000, OPT_HOOKS_IDLE };

static const struct argp_option session_options[] = {
	{ "fault-hooks", OPT_FAULT_HOOKS, "WHEN", 0,
	  "when the per-fault hooks run: on-demand (while punches run on mapped files; the default) or always", 0 },
	{ "hooks-idle", OPT_HOOKS_IDLE, "SECONDS", 0,
	  "on demand: detach them after SECONDS without a punch on a mapped file (default 10, 0.1 to 86400; "
	  "never before a punched file's 2 s linger is over)", 0 },
	{ 0 },
};

static error_t parse_session_opt(int key, char *arg, struct argp_state *state)
{
	struct dx_session_opts *so = state->input;
	double seconds = 0;

	switch (key) {
	case OPT_FAULT_HOOKS:
		if (strcmp(arg, "always") && strcmp(arg, "on-demand"))
			argp_error(state, "invalid --fault-hooks '%s' (on-demand or always)", arg);
		so->fault_hooks_always = !strcmp(arg, "always");
		return 0;
	case OPT_HOOKS_IDLE:
		if (!dx_parse_seconds(arg, 0.1, 86400, &seconds))
			argp_error(state, "invalid --hooks-idle '%s' (seconds, 0.1 to 86400)", arg);
		so->fault_hooks_idle_ns = (uint64_t)(seconds * 1e9);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp dx_session_argp = { session_options, parse_session_opt, NULL, NULL, NULL, NULL, NULL };
