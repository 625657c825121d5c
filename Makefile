# daxscope: eBPF observability for page faults racing hole punches.
#   make            build everything (BPF objects, skeleton, library, tools, tests)
#   sudo make run   install what is missing, build, run daxtop (the live monitor)
#   sudo make test  install what is missing, build, run every test (TAP, prove)
#   sudo make bench benchmarks, as ratios against an untraced baseline

BUILD    ?= build
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= cc
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Iinclude -I$(BUILD)
LDLIBS   := -lbpf -lelf -lz -lm
BPF_CFLAGS := -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Iinclude -Ibpf

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
LIB_SRCS := $(wildcard src/*.c)
LIB_OBJS := $(patsubst src/%.c,$(BUILD)/src/%.o,$(LIB_SRCS))
TOOLS    := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/*.c))
UNIT     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
HELPERS  := $(BUILD)/race $(BUILD)/delayfs $(BUILD)/faultbench $(BUILD)/hookfloor

.PHONY: all deps run test bench truth clean
all: $(TOOLS) $(UNIT) $(HELPERS)

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

$(BUILD)/src/%.o: src/%.c $(wildcard include/daxscope/*.h src/*.h) $(BUILD)/daxscope.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libdaxscope.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/%: tools/%.c $(BUILD)/libdaxscope.a
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libdaxscope.a $(LDLIBS)

$(BUILD)/daxtop: LDLIBS += $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(BUILD)/libdaxscope.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $< -o $@ $(BUILD)/libdaxscope.a $(LDLIBS)

$(BUILD)/race: tests/workload/race.c
	$(CC) $(CFLAGS) $< -o $@ -lpthread

$(BUILD)/faultbench: tests/bench/faultbench.c
	$(CC) $(CFLAGS) $< -o $@ -lpthread

$(BUILD)/hookfloor.skel.h: tests/bench/hookfloor.bpf.c $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $(BUILD)/hookfloor.bpf.o
	$(BPFTOOL) gen skeleton $(BUILD)/hookfloor.bpf.o name hookfloor_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/hookfloor: tests/bench/hookfloor.c $(BUILD)/hookfloor.skel.h
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)

$(BUILD)/delayfs: tests/fusefs/delayfs.c
	$(CC) $(CFLAGS) $< -o $@ $$(pkg-config --cflags --libs fuse3) -lpthread

run: deps all
	$(BUILD)/daxtop

test: deps all
	tests/run.sh

bench: deps all
	tests/bench/run.sh

# the truth table: every scenario TRUTH_RUNS times on every filesystem here (docs/truth.md)
TRUTH_RUNS ?= 100
truth: deps all
	tests/truth/truth.sh $(TRUTH_RUNS) $(TRUTH_FORMAT)

clean:
	rm -rf $(BUILD)
