# SPDX-License-Identifier: MIT
# criu-mem: one plain GNU Makefile. Everything generated goes to build/.

VERSION		:= 0.1.0
CC		?= gcc
PREFIX		?= /usr/local
DESTDIR		?=
BUILD		?= build
SAN		?=

WARN		:= -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wundef -Wpointer-arith \
		   -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers \
		   -Wvla -Wimplicit-fallthrough
CFLAGS		?= -O2 -g
CM_CFLAGS	:= $(CFLAGS) -std=gnu11 $(WARN) -D_GNU_SOURCE -DCM_VERSION=\"$(VERSION)\" -pthread \
		   -I. -Iimages -Icriu-mem -I$(BUILD)/proto -I/usr/include/libnl3 -MMD -MP
PROTO_CFLAGS	:= -std=gnu11 -O2 -g -I$(BUILD)/proto -MMD -MP
LDLIBS		:= -lprotobuf-c -lzstd -lxxhash -lnl-3 -lnl-genl-3 -pthread

ifneq ($(SAN),)
CM_CFLAGS	+= -fsanitize=$(SAN) -fno-omit-frame-pointer
PROTO_CFLAGS	+= -fsanitize=$(SAN)
LDFLAGS		+= -fsanitize=$(SAN)
endif

PROTOS		:= $(wildcard proto/*.proto)
PROTO_C		:= $(patsubst proto/%.proto,$(BUILD)/proto/%.pb-c.c,$(PROTOS))
PROTO_H		:= $(PROTO_C:.c=.h)
PROTO_O		:= $(PROTO_C:.c=.o)

IMG_SRC		:= $(wildcard images/*.c)
CORE_SRC	:= $(filter-out criu-mem/main.c,$(wildcard criu-mem/*.c))
TOOL_SRC	:= $(filter-out tools/bench-%,$(wildcard tools/*.c))
BENCH_SRC	:= $(wildcard tools/bench-*.c)
UNIT_SRC	:= $(wildcard test/unit/*.c)
TARGET_SRC	:= $(wildcard test/targets/*.c)
FUZZ_SRC	:= $(wildcard test/fuzz/*.c)

obj		= $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
IMG_O		:= $(call obj,$(IMG_SRC))
CORE_O		:= $(call obj,$(CORE_SRC) $(TOOL_SRC))
MAIN_O		:= $(call obj,criu-mem/main.c)
UNIT_O		:= $(call obj,$(UNIT_SRC))
LIBIMG		:= $(BUILD)/libcmimg.a
LIBCM		:= $(BUILD)/libcm.a
BIN		:= $(BUILD)/criu-mem
UNIT_BIN	:= $(BUILD)/test/unit-tests
TARGET_BIN	:= $(patsubst test/targets/%.c,$(BUILD)/test/targets/%,$(TARGET_SRC))
BENCH_BIN	:= $(patsubst tools/%.c,$(BUILD)/tools/%,$(BENCH_SRC))
REPLAY_BIN	:= $(patsubst test/fuzz/%.c,$(BUILD)/test/fuzz-replay-%,$(FUZZ_SRC))

.PHONY: all deps test check fuzz demo bench install clean tidy
.SECONDARY:

all: deps $(BIN) $(TARGET_BIN) $(BENCH_BIN)

# Installs the Debian packages needed to build and test, when missing.
deps:
	@./tools/deps.sh

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/proto
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c
	$(CC) $(PROTO_CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CM_CFLAGS) -c -o $@ $<

$(LIBIMG): $(IMG_O) $(PROTO_O)
	$(AR) rcs $@ $^

$(LIBCM): $(CORE_O)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN): $(MAIN_O) $(LIBCM) $(LIBIMG)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(UNIT_BIN): $(UNIT_O) $(LIBCM) $(LIBIMG)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test targets are plain programs: no project code, -g for the gdb test, and
# never sanitized (a sanitizer runtime changes the target's own mappings).
$(BUILD)/test/targets/%: test/targets/%.c test/targets/target.h
	@mkdir -p $(dir $@)
	gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -o $@ $<

$(BUILD)/tools/bench-%: tools/bench-%.c $(LIBCM) $(LIBIMG)
	@mkdir -p $(dir $@)
	$(CC) $(CM_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBCM) $(LIBIMG) $(LDLIBS)

# Test helper that drives freeze/inject/vma/pagescan on a live pid.
$(BUILD)/test/cm-probe: test/tools/cm-probe.c $(LIBCM) $(LIBIMG)
	@mkdir -p $(dir $@)
	$(CC) $(CM_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBCM) $(LIBIMG) $(LDLIBS)

# Test helpers: test/tools/NAME.c -> build/test/NAME, linked with the libraries.
TESTTOOL_BIN	:= $(patsubst test/tools/%.c,$(BUILD)/test/%,$(wildcard test/tools/*.c))
$(BUILD)/test/%: test/tools/%.c $(LIBCM) $(LIBIMG)
	@mkdir -p $(dir $@)
	$(CC) $(CM_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBCM) $(LIBIMG) $(LDLIBS)
test: $(TESTTOOL_BIN)

# Fuzz targets built with gcc and a main() that replays corpus files.
$(BUILD)/test/fuzz-replay-%: test/fuzz/%.c test/fuzz_replay.c $(LIBCM) $(LIBIMG)
	@mkdir -p $(dir $@)
	$(CC) $(CM_CFLAGS) $(LDFLAGS) -o $@ $< test/fuzz_replay.c $(LIBCM) $(LIBIMG) $(LDLIBS)

test: all $(UNIT_BIN) $(REPLAY_BIN) $(BUILD)/test/cm-probe
	./test/run.sh $(BUILD)

# The same suite under AddressSanitizer and UBSan, in its own build dir.
check: deps
	$(MAKE) CFLAGS="-O1 -g" BUILD=build/san SAN=address,undefined test

# libFuzzer targets (clang), each linked with the image library built by clang.
fuzz: deps
	$(MAKE) CFLAGS="-O1 -g" BUILD=build/fuzz CC=clang SAN=fuzzer-no-link,address \
		build/fuzz/libcmimg.a build/fuzz/libcm.a
	@mkdir -p build/fuzz/bin
	for f in $(FUZZ_SRC); do \
		n=$$(basename $$f .c); \
		clang -std=gnu11 -O1 -g -fsanitize=fuzzer,address -D_GNU_SOURCE -I. -Iimages \
			-Icriu-mem -Ibuild/fuzz/proto -o build/fuzz/bin/fuzz-$$n $$f \
			build/fuzz/libcm.a build/fuzz/libcmimg.a $(LDLIBS) || exit 1; \
	done
	@echo "fuzzers in build/fuzz/bin; run e.g. build/fuzz/bin/fuzz-reader test/corpus/reader"

demo: all
	./tools/demo.sh $(BUILD)

bench: all
	./tools/bench.sh $(BUILD)

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/criu-mem
	install -D -m 0644 criu-mem/criu-mem.1 $(DESTDIR)$(PREFIX)/share/man/man1/criu-mem.1

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
