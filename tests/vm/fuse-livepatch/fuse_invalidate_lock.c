// SPDX-License-Identifier: GPL-2.0
/*
 * tests/vm/patches/fuse-fallocate-invalidate-lock.patch on a running kernel
 * whose FUSE is built in (Debian's 6.12: CONFIG_FUSE_FS=y, so no fuse.ko can
 * take the stock one's place): a livepatch that puts the patched
 * fuse_file_fallocate and fuse_page_mkwrite in place of vmlinux's.
 * tests/vm/fuse-patched.sh cuts them, with the static helpers they call, out
 * of the patched fs/fuse/file.c into patched-functions.c: the patch is their
 * only source.
 */
#include <linux/module.h>
#include <linux/kprobes.h>
#include <linux/livepatch.h>

/*
 * The functions of fs/fuse that they call and vmlinux does not export: each
 * name, through this define, makes fuse_i.h's prototype a pointer of the same
 * type (found by kallsyms at load) and each call a call through it.
 */
#define fuse_set_nowrite (*dx_fuse_set_nowrite)
#define fuse_release_nowrite (*dx_fuse_release_nowrite)
#define fuse_dax_break_layouts (*dx_fuse_dax_break_layouts)
#define __fuse_simple_request (*dx___fuse_simple_request)
#define fuse_write_update_attr (*dx_fuse_write_update_attr)
#define fuse_invalidate_attr_mask (*dx_fuse_invalidate_attr_mask)
#define fuse_flush_time_update (*dx_fuse_flush_time_update)
#include "fuse_i.h"

#define INTERNAL(name) { #name, (void **)&dx_##name }
static const struct {
	const char *name;
	void **to;
} internals[] = {
	INTERNAL(fuse_set_nowrite), INTERNAL(fuse_release_nowrite), INTERNAL(fuse_dax_break_layouts),
	INTERNAL(__fuse_simple_request), INTERNAL(fuse_write_update_attr), INTERNAL(fuse_invalidate_attr_mask),
	INTERNAL(fuse_flush_time_update),
};

#include "patched-functions.c"

static struct klp_func funcs[] = {
	{ .old_name = "fuse_file_fallocate", .new_func = fuse_file_fallocate },
	{ .old_name = "fuse_page_mkwrite", .new_func = fuse_page_mkwrite },
	{}
};

static struct klp_object objs[] = {
	{ .funcs = funcs }, /* no name: vmlinux */
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

/* kallsyms_lookup_name is not exported since 5.7: a kprobe on it finds its address */
static unsigned long (*find_kallsyms_lookup_name(void))(const char *)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	void *addr;

	if (register_kprobe(&kp))
		return NULL;
	addr = kp.addr;
	unregister_kprobe(&kp);
	return addr;
}

static int __init fuse_invalidate_lock_init(void)
{
	unsigned long (*lookup)(const char *) = find_kallsyms_lookup_name();
	size_t i;

	if (!lookup) {
		pr_err("fuse_invalidate_lock: no kprobe on kallsyms_lookup_name\n");
		return -ENOENT;
	}
	for (i = 0; i < ARRAY_SIZE(internals); i++) {
		*internals[i].to = (void *)lookup(internals[i].name);
		if (!*internals[i].to) {
			pr_err("fuse_invalidate_lock: %s not in kallsyms\n", internals[i].name);
			return -ENOENT;
		}
	}
	return klp_enable_patch(&patch);
}

static void __exit fuse_invalidate_lock_exit(void)
{
}

module_init(fuse_invalidate_lock_init);
module_exit(fuse_invalidate_lock_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("fuse: hold the invalidate lock across fallocate for every file (livepatch)");
MODULE_INFO(livepatch, "Y");
