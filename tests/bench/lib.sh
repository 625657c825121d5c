# shellcheck shell=sh
# Sourced by the bench scripts: tracers run in the background around a workload.

# A tracer in the background, as $rec, once it is attached: READY LOG (a
# command that tells it from the tracer's output, or from the kernel) holds.
# Its stdout and stderr go to LOG. Returns 1, with LOG on stderr, if it ends
# first or is not attached within 60 s.
start_tracer() { # LOG READY COMMAND...
	log=$1 ready=$2
	shift 2
	: >"$log" # there before READY first reads it
	"$@" >"$log" 2>&1 &
	rec=$!
	polls=0
	until "$ready" "$log"; do
		if ! kill -0 "$rec" 2>/dev/null || [ "$polls" -ge 600 ]; then
			kill "$rec" 2>/dev/null || true
			wait "$rec" || true
			rec=""
			echo "$*: not attached$([ "$polls" -ge 600 ] && echo ' within 60 s'):" >&2
			cat "$log" >&2
			return 1
		fi
		sleep 0.1
		polls=$((polls + 1))
	done
}

# daxtrace, daxtop and hookfloor say "watching" once their probes are attached.
says_watching() { grep -q watching "$1"; }

# Stops it (if it has not ended on its own) and waits for it; its exit status in $tracer_status.
stop_tracer() {
	kill -INT "$rec" 2>/dev/null || true
	tracer_status=0
	wait "$rec" || tracer_status=$?
	rec=""
}
