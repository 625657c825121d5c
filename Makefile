# daxscope: eBPF observability for page faults racing hole punches.
#   make            build everything (BPF objects, skeleton, library, tools, tests)
#   sudo make run   install what is missing, build, run daxtop (the live monitor)
#   sudo make test  install what is missing, build, run every test (TAP, prove)
#   sudo make bench benchmarks, as ratios against an untraced baseline
#   make install    the tools, man pages, docs, systemd unit, completions, Prometheus rules (PREFIX, DESTDIR)
#   make deb        the Debian package, built from a copy of the tree, into build/deb

BUILD    ?= build
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= cc
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

# The one version, the package's: the top of debian/changelog (`dch -v X.Y.Z` to release).
VERSION  := $(shell awk 'NR == 1 { gsub(/[()]/, "", $$2); print $$2 }' debian/changelog)

# The project's own flags live apart, so that the usual CFLAGS/LDFLAGS overrides add to them.
CFLAGS   ?= -O2 -g
DX_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Iinclude -Isrc -I$(BUILD) -DDX_VERSION='"$(VERSION)"'
CORE_LIBS := -lyajl -lz -lm -lpthread
LDLIBS   := -lbpf -lelf $(CORE_LIBS)
BPF_CFLAGS := -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Iinclude -Ibpf

# The live part (BPF skeleton, loader) needs kernel BTF, clang and bpftool at
# build time; without them only the core is built: the unit tests and
# `daxtrace report`, which read captures and need no BPF at all.
LIVE ?= $(if $(and $(wildcard $(VMLINUX_BTF)),$(shell command -v $(CLANG)),$(shell command -v $(BPFTOOL))),yes,no)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
# One library a layer, one folder each (docs/design.md): core and outputs need
# no BPF toolchain; live loads the programs (nolive.c stands in for it in a
# build without); truth drives live sessions against real workloads.
obj = $(patsubst src/%.c,$(BUILD)/src/%.o,$(1))
CORE_SRCS    := $(wildcard src/core/*.c)
OUTPUTS_SRCS := $(wildcard src/outputs/*.c)
LIVE_SRCS    := $(filter-out src/live/nolive.c,$(wildcard src/live/*.c))
# the live loop knows a session through its functions alone: it builds, and is tested, without BPF
LOOP_OBJ     := $(BUILD)/src/live/loop.o
TRUTH_SRCS   := $(wildcard src/truth/*.c)
LIBS_CORE    := $(BUILD)/libdaxscope-outputs.a $(BUILD)/libdaxscope-core.a
UNIT     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
ifeq ($(LIVE),yes)
TOOLS    := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/*.c))
HELPERS  := $(BUILD)/race $(BUILD)/readrace $(BUILD)/mapstore $(BUILD)/delayfs $(BUILD)/rawfs $(BUILD)/faultbench $(BUILD)/hookfloor $(BUILD)/reportbench \
	    $(BUILD)/corrbench $(BUILD)/pairstat $(BUILD)/capture_fuzz $(BUILD)/denyfentry \
	    $(BUILD)/skiprun
SESSION  := $(BUILD)/libdaxscope-truth.a $(BUILD)/libdaxscope-live.a
else
TOOLS    := $(BUILD)/daxtrace
HELPERS  :=
SESSION  := $(BUILD)/libdaxscope-nolive.a
endif

.PHONY: all deps run test bench soak truth verdicts calibrate fuzz sanitize clean unit man install uninstall deb kernel-table
all: $(TOOLS) $(UNIT) $(HELPERS)
	@[ $(LIVE) = yes ] || echo "make: the core only (LIVE=no, or no kernel BTF at $(VMLINUX_BTF), clang or bpftool): daxtrace for reports, and the unit tests"

deps:
	@scripts/deps.sh

$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	@test -r $(VMLINUX_BTF) || { echo "no kernel BTF at $(VMLINUX_BTF): cannot generate vmlinux.h" >&2; exit 1; }
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) include/daxscope/events.h $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# one object, one skeleton: the per-concern programs share their maps
$(BUILD)/daxscope.bpf.o: $(BPF_OBJS)
	$(BPFTOOL) gen object $@ $^

$(BUILD)/daxscope.skel.h: $(BUILD)/daxscope.bpf.o
	$(BPFTOOL) gen skeleton $< name daxscope_bpf > $@.tmp && mv $@.tmp $@

# the core and the outputs know nothing of BPF: only the live part sees the skeleton
$(BUILD)/src/%.o: src/%.c $(wildcard include/daxscope/*.h include/daxscope/*/*.h src/*/*.h)
	@mkdir -p $(@D)
	$(CC) $(DX_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/src/live/session.o: $(BUILD)/daxscope.skel.h
$(BUILD)/src/core/parse.o: debian/changelog # --version

$(BUILD)/libdaxscope-core.a: $(call obj,$(CORE_SRCS))
	$(AR) rcs $@ $^

$(BUILD)/libdaxscope-outputs.a: $(call obj,$(OUTPUTS_SRCS))
	$(AR) rcs $@ $^

$(BUILD)/libdaxscope-live.a: $(call obj,$(LIVE_SRCS))
	$(AR) rcs $@ $^

$(BUILD)/libdaxscope-nolive.a: $(call obj,src/live/nolive.c src/live/options.c) $(LOOP_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/libdaxscope-truth.a: $(call obj,$(TRUTH_SRCS))
	$(AR) rcs $@ $^

$(BUILD)/%: tools/%.c $(SESSION) $(LIBS_CORE)
	$(CC) $(DX_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ $(SESSION) $(LIBS_CORE) $(if $(filter yes,$(LIVE)),$(LDLIBS),$(CORE_LIBS))

$(BUILD)/daxtop: LDLIBS += $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw)
$(BUILD)/daxexport: LDLIBS += $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(LIBS_CORE)
	@mkdir -p $(@D)
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) -Itests/unit $< -o $@ $(LIBS_CORE) $(CORE_LIBS)

# the live loop, driven by a stand-in source and clock
$(BUILD)/tests/test_loop: tests/unit/test_loop.c tests/unit/tap.h $(LOOP_OBJ) $(LIBS_CORE)
	@mkdir -p $(@D)
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) -Itests/unit $< -o $@ $(LOOP_OBJ) $(LIBS_CORE) $(CORE_LIBS)

# the bench's statistics, shared with their unit test
$(BUILD)/tests/test_pairstat: tests/bench/pairstat.h

$(BUILD)/race: tests/workload/race.c
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ -lpthread

$(BUILD)/readrace: tests/workload/readrace.c
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ -lpthread

$(BUILD)/mapstore: tests/workload/mapstore.c
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@

$(BUILD)/reportbench: tests/bench/reportbench.c $(LIBS_CORE)
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ $(LIBS_CORE) $(CORE_LIBS)

$(BUILD)/corrbench: tests/bench/corrbench.c $(LOOP_OBJ) $(LIBS_CORE)
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ $(LOOP_OBJ) $(LIBS_CORE) $(CORE_LIBS)

$(BUILD)/faultbench: tests/bench/faultbench.c
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ -lpthread

$(BUILD)/pairstat: tests/bench/pairstat.c tests/bench/pairstat.h
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@

$(BUILD)/hookfloor.skel.h: tests/bench/hookfloor.bpf.c $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $(BUILD)/hookfloor.bpf.o
	$(BPFTOOL) gen skeleton $(BUILD)/hookfloor.bpf.o name hookfloor_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/hookfloor: tests/bench/hookfloor.c $(BUILD)/hookfloor.skel.h
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ -lbpf -lelf -lz -lm

# a guest's tracepoint mode: fentry/fexit refused by a BPF LSM program (tests/vm/matrix.t)
$(BUILD)/denyfentry.skel.h: tests/vm/denyfentry.bpf.c $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $(BUILD)/denyfentry.bpf.o
	$(BPFTOOL) gen skeleton $(BUILD)/denyfentry.bpf.o name denyfentry_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/denyfentry: tests/vm/denyfentry.c $(BUILD)/denyfentry.skel.h
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ -lbpf -lelf -lz

# runs the kernel skips, for real: daxscope's reader of them against a known count (tests/kernel/skipped_runs.t)
$(BUILD)/skiprun.skel.h: tests/kernel/skiprun.bpf.c $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $(BUILD)/skiprun.bpf.o
	$(BPFTOOL) gen skeleton $(BUILD)/skiprun.bpf.o name skiprun_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/skiprun: tests/kernel/skiprun.c $(BUILD)/skiprun.skel.h $(BUILD)/libdaxscope-live.a
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ $(BUILD)/libdaxscope-live.a -lbpf -lelf -lz

$(BUILD)/delayfs: tests/fusefs/delayfs.c
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ $$(pkg-config --cflags --libs fuse3) -lpthread

$(BUILD)/rawfs: tests/fusefs/rawfs.c
	$(CC) $(DX_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ -luring -lpthread

# docs/kernels.md from the QEMU matrix's per-kernel tables (tests/vm/kernel_table.t: they agree)
kernel-table:
	tests/vm/kernel-table.pl > docs/kernels.md.tmp && mv docs/kernels.md.tmp docs/kernels.md

# the unit tests alone: no root, no kernel (the package build runs them)
unit: $(UNIT)
	prove --exec '' $(UNIT)

# The targets that install what is missing build in a second make: LIVE is
# decided when a make reads this file, and on a fresh machine deps has not yet
# installed bpftool when the first one does.
BUILD_AFTER_DEPS = $(MAKE) --no-print-directory all

run: deps
	$(BUILD_AFTER_DEPS)
	$(BUILD)/daxtop

test: deps
	$(BUILD_AFTER_DEPS)
	tests/run.sh

bench: deps
	$(BUILD_AFTER_DEPS)
	tests/bench/run.sh

# hours under load: RSS, BPF map entries and lost events must stay flat (not in CI)
SOAK_SECONDS ?= 3600
SOAK_SAMPLE ?= 10
soak: deps
	$(BUILD_AFTER_DEPS)
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_SAMPLE=$(SOAK_SAMPLE) tests/bench/soak.sh

# the truth table: every scenario TRUTH_RUNS times on every filesystem here, and
# TRUTH_VM_RUNS times on ext4-dax and xfs-dax in a guest (TCG: slower) (docs/truth.md)
TRUTH_RUNS ?= 100
TRUTH_VM_RUNS ?= 20
truth: deps
	$(BUILD_AFTER_DEPS)
	tests/truth/truth.sh $(TRUTH_RUNS) $(TRUTH_FORMAT); host=$$?; \
	tests/truth/verdicts.sh $(VERDICT_SECONDS) $(BUILD)/verdicts/filesystems.md || host=1; \
	tests/vm/truth-rows.sh $(TRUTH_VM_RUNS) && exit $$host

# the cache-size model against the kernel: CALIBRATE_RUNS guests of CALIBRATE_KERNEL a
# workload (single, tasks, files, program) on 8 and 32 MiB windows, the table of
# docs/dax-model.md from their captures (in CALIBRATE_OUT, kept for reruns)
CALIBRATE_KERNEL ?= 6.12
CALIBRATE_RUNS ?= 6
CALIBRATE_OUT ?= $(BUILD)/calibrate-$(CALIBRATE_KERNEL)
calibrate: deps
	$(BUILD_AFTER_DEPS)
	tests/vm/calibrate.sh $(CALIBRATE_KERNEL) $(CALIBRATE_RUNS) $(CALIBRATE_OUT)
	tests/vm/calibrate-table.pl $(CALIBRATE_OUT)

# the punch-safety verdict of every filesystem here, VERDICT_SECONDS each, and of those the QEMU guests
# mount, GUEST_VERDICT_SECONDS each (one boot a kernel), as docs/filesystems.md (docs/verdict.md);
# VERDICTS_GUESTS=no measures the host only and keeps the guests' part of docs/filesystems.md;
# VERDICTS_HOST=no boots the guests only and keeps the host's part
VERDICT_SECONDS ?= 60
GUEST_VERDICT_SECONDS ?= 20
VERDICTS_GUESTS ?= yes
VERDICTS_HOST ?= yes
verdicts: deps
	$(BUILD_AFTER_DEPS)
	if [ "$(VERDICTS_HOST)" = no ]; then host="--host-of docs/filesystems.md"; else \
		tests/truth/verdicts.sh $(VERDICT_SECONDS) $(BUILD)/verdicts/host.md || exit 1; \
		host="$(BUILD)/verdicts/index $(VERDICT_SECONDS)"; fi; \
	if [ "$(VERDICTS_GUESTS)" = no ]; then guests="--guests-of docs/filesystems.md"; else \
		tests/vm/verdicts.sh $(GUEST_VERDICT_SECONDS) || echo "verdicts: not every guest's verdicts came" >&2; \
		guests="$(BUILD)/verdicts/guest/index $(GUEST_VERDICT_SECONDS)"; [ -s $(BUILD)/verdicts/guest/index ] || guests=; fi; \
	tests/truth/verdict-table.pl $$host $$guests > docs/filesystems.md.tmp && mv docs/filesystems.md.tmp docs/filesystems.md

# libFuzzer on the capture reader and the report (ASan, UBSan), seeded with real captures
FUZZ_SECONDS ?= 60
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
$(BUILD)/capture_fuzz: tests/fuzz/capture_fuzz.c $(CORE_SRCS) $(OUTPUTS_SRCS) $(wildcard include/daxscope/*.h include/daxscope/*/*.h src/*/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(DX_CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer $< $(CORE_SRCS) $(OUTPUTS_SRCS) -o $@ $(CORE_LIBS)

fuzz: $(BUILD)/capture_fuzz
	@mkdir -p $(BUILD)/fuzz-corpus
	$(BUILD)/capture_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=262144 -timeout=10 $(BUILD)/fuzz-corpus tests/fuzz/corpus

# the core, its unit tests and a report-only daxtrace under ASan and UBSan, on real and damaged captures
sanitize:
	$(MAKE) BUILD=build-sanitize LIVE=no CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)"
	tests/fuzz/sanitize.sh build-sanitize

# ---- installed like a system tool ----
# daxtrace goes to bin: `daxtrace report` and --help need no privileges, as perf's do;
# the others load BPF programs or run as a service, and go to sbin, as bpftool and bcc's tools do.
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man
DOCDIR   ?= $(PREFIX)/share/doc/daxscope
DATADIR  ?= $(PREFIX)/share/daxscope
COMPLETIONDIR  ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
BIN_TOOLS  := daxtrace
SBIN_TOOLS := $(filter-out $(BIN_TOOLS),$(patsubst $(BUILD)/%,%,$(TOOLS)))
MANS     := $(patsubst %,$(BUILD)/man/%.1,$(BIN_TOOLS)) $(patsubst %,$(BUILD)/man/%.8,$(SBIN_TOOLS))
DOCS     := README.md $(wildcard docs/*.md docs/*.png)
INSTALLED := $(patsubst %,$(BINDIR)/%,$(BIN_TOOLS)) $(patsubst %,$(SBINDIR)/%,$(SBIN_TOOLS)) \
	$(patsubst $(BUILD)/man/%.1,$(MANDIR)/man1/%.1,$(filter %.1,$(MANS))) \
	$(patsubst $(BUILD)/man/%.8,$(MANDIR)/man8/%.8,$(filter %.8,$(MANS))) \
	$(patsubst %,$(DOCDIR)/%,$(notdir $(DOCS))) $(patsubst %,$(COMPLETIONDIR)/%,$(BIN_TOOLS) $(SBIN_TOOLS)) \
	$(DATADIR)/prometheus/daxscope.rules.yml
ifneq ($(filter daxexport,$(SBIN_TOOLS)),)
INSTALLED += $(SYSTEMDUNITDIR)/daxexport.service
endif

# A man page per tool, from its own --help and --version (help2man) and dist/man/TOOL.h2m
# (description, examples, files, see also): the options cannot drift from the binary's.
man: $(MANS)
$(BUILD)/man/%.1: $(BUILD)/% dist/man/%.h2m
	@mkdir -p $(@D)
	help2man --no-info --section=1 --include=dist/man/$*.h2m --output=$@ $<
$(BUILD)/man/%.8: $(BUILD)/% dist/man/%.h2m
	@mkdir -p $(@D)
	help2man --no-info --section=8 --include=dist/man/$*.h2m --output=$@ $<

install: $(TOOLS) man
	@[ $(LIVE) = yes ] || echo "make install: the core only (LIVE=no): daxtrace for reports; make deps first for the live tools" >&2
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(DATADIR)/prometheus
	install -m 755 $(patsubst %,$(BUILD)/%,$(BIN_TOOLS)) $(DESTDIR)$(BINDIR)
	$(if $(SBIN_TOOLS),install -m 755 $(patsubst %,$(BUILD)/%,$(SBIN_TOOLS)) $(DESTDIR)$(SBINDIR))
	install -m 644 $(filter %.1,$(MANS)) $(DESTDIR)$(MANDIR)/man1
	$(if $(filter %.8,$(MANS)),install -m 644 $(filter %.8,$(MANS)) $(DESTDIR)$(MANDIR)/man8)
	install -m 644 $(DOCS) $(DESTDIR)$(DOCDIR)
	install -m 644 dist/prometheus/daxscope.rules.yml $(DESTDIR)$(DATADIR)/prometheus
	install -m 644 dist/daxscope.bash-completion $(DESTDIR)$(COMPLETIONDIR)/daxtrace
	for t in $(SBIN_TOOLS); do ln -sf daxtrace $(DESTDIR)$(COMPLETIONDIR)/$$t; done
ifneq ($(filter daxexport,$(SBIN_TOOLS)),)
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/default
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' dist/daxexport.service.in \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/daxexport.service
	@# an operator's edits are kept
	test -e $(DESTDIR)$(SYSCONFDIR)/default/daxexport || \
		install -m 644 dist/daxexport.default $(DESTDIR)$(SYSCONFDIR)/default/daxexport
endif

# Everything install wrote; the environment file only if it is still as shipped.
uninstall:
	rm -f $(patsubst %,$(DESTDIR)%,$(INSTALLED))
	! cmp -s dist/daxexport.default $(DESTDIR)$(SYSCONFDIR)/default/daxexport || \
		rm -f $(DESTDIR)$(SYSCONFDIR)/default/daxexport
	rmdir $(DESTDIR)$(DATADIR)/prometheus $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# dpkg-buildpackage on a copy of the tree (without build outputs), so that its clean
# never touches ./build and the packages land in $(BUILD)/deb, not in the parent directory.
DEB_DIR := $(BUILD)/deb
deb: deps
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/daxscope-$(VERSION)
	tar -c --exclude=./$(BUILD) --exclude=./build-sanitize --exclude=./.git . | tar -x -C $(DEB_DIR)/daxscope-$(VERSION)
	cd $(DEB_DIR)/daxscope-$(VERSION) && dpkg-buildpackage -b --no-sign -Jauto
	@ls $(DEB_DIR)/*.deb

clean:
	rm -rf $(BUILD) build-sanitize
