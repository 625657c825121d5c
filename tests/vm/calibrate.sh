#!/bin/sh
# The cache-size model's calibration (docs/dax-model.md, `make calibrate`):
# RUNS guests of KERNEL a workload, each running it on windows of WINDOWS_MB,
# every capture kept and replayed on the host; one line a window a run:
#   workload run window_mib made predicted_median p10 p90 inside
# "made" is virtiofsd's count of SETUPMAPPINGs it served, the rest the
# window's own model (daxtrace report --json: dax_window[].model.this_window).
#   tests/vm/calibrate.sh KERNEL RUNS OUTDIR [WORKLOAD...]
set -eu
k=$1
runs=$2
out=$3
shift 3
workloads=${*:-single tasks files program}
windows=${DAXSCOPE_DAX_WINDOWS_MB:-8 32}
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
for w in $workloads; do
	for i in $(seq 1 "$runs"); do
		dir=$out/$w-$i
		[ -s "$dir/model.dxc" ] && continue # a run kept from before
		rm -rf "$dir"
		mkdir -p "$dir"
		DAXSCOPE_DAX_WINDOWS_MB=$windows DAXSCOPE_MODEL_WORKLOAD=$w DAXSCOPE_MODEL_KEEP_CAPTURE=1 \
			"$top/tests/vm/run-matrix.sh" "$k" "$dir/vm" virtiofs-model > "$dir/run.log" 2>&1 || {
			echo "# $w run $i: the guest failed (see $dir/run.log)" >&2
			continue
		}
		for mb in $windows; do
			grep -c 'opcode: SETUPMAPPING' "$dir/vm/virtiofsd$mb.log" > "$dir/made$mb" || true
		done
		cp "$dir/vm/share${windows%% *}/model.dxc" "$dir/model.dxc"
		rm -rf "$dir/vm/share"* # the workload's files
	done
done
