// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "truth_int.h"

int truth_run_mix(const struct truth_env *env, struct truth_run *run, char *err, size_t errlen)
{
	(void)env, (void)run;
	return truth_fail(err, errlen, "mix: not yet");
}
