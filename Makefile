# socp: one Makefile for the library, binaries, tests, benchmarks and fuzzers.
#
#   make                      build (gcc, -O2, warnings as errors)
#   make CC=clang             same with clang
#   make SANITIZER=address    ASan+UBSan build   (build/<cc>-address)
#   make SANITIZER=thread     TSan build         (build/<cc>-thread)
#   make test                 install deps if missing, run the whole suite
#   make fuzz                 run every libFuzzer target for FUZZ_SECONDS each
#   make bench                run the benchmarks
#   make format|format-check  clang-format
#   make deps                 install Debian packages (idempotent)

CC        ?= cc
SANITIZER ?=
BUILD     ?= build/$(notdir $(CC))$(if $(SANITIZER),-$(SANITIZER))
FUZZ_SECONDS ?= 30

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wold-style-definition -Wformat=2 -Wundef -Wwrite-strings -Wvla \
        -Wimplicit-fallthrough -Werror

ifeq ($(SANITIZER),address)
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SANITIZER),thread)
  SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
else ifneq ($(SANITIZER),)
  $(error SANITIZER must be address or thread)
endif

OPT      ?= -O2
CPPFLAGS += -Iinclude -D_POSIX_C_SOURCE=200809L -DSOCP_SRCDIR='"$(CURDIR)"' -MMD -MP
$(BUILD)/tests/%.o: CPPFLAGS += -DSOCP_BUILDDIR='"$(CURDIR)/$(BUILD)"'
CFLAGS   += -std=c17 $(OPT) -g $(WARN) $(SANFLAGS)
LDFLAGS  += $(SANFLAGS)
LDLIBS   := -lzmq -lsodium -llmdb -lmsgpackc -lcrypto -ljansson -lwslay -lpthread -lm

LIB_SRC   := $(sort $(wildcard bus/*.c proto/*.c actors/*.c))
CMD_SRC   := $(sort $(wildcard cmd/*.c))
TEST_SRC  := $(sort $(wildcard tests/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
FUZZ_SRC  := $(sort $(wildcard fuzz/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libsocp.a
CMDS     := $(CMD_SRC:cmd/%.c=$(BUILD)/%)
BENCHES  := $(BENCH_SRC:bench/%.c=$(BUILD)/%)
TESTBIN  := $(BUILD)/socp_tests

.PHONY: all test check fuzz fuzz-build bench format format-check deps docs clean run
all: $(LIB) $(CMDS) $(TESTBIN) $(BENCHES)

# Platform code may use Linux extras (signalfd, pthread_timedjoin_np).
$(BUILD)/bus/socp_platform.o: CPPFLAGS += -D_GNU_SOURCE

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%: $(BUILD)/cmd/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bench_%: $(BUILD)/bench/bench_%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The tests start the programs (socpd, socp) from the same build directory,
# some under the sync shim (tests/shim/syncshim.c, LD_PRELOAD; never built
# with a sanitizer: it is loaded into a program that may be one).
SHIM := $(BUILD)/tests/libsocp_syncshim.so
$(SHIM): tests/shim/syncshim.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O2 -g -fPIC -shared $(WARN) $< -o $@ -ldl -lpthread

$(TESTBIN): $(TEST_OBJ) $(LIB) | $(CMDS) $(SHIM)
	$(CC) $(LDFLAGS) $(TEST_OBJ) $(LIB) $(LDLIBS) -o $@

# ---- tests ---------------------------------------------------------------
# The whole suite: normal build, ASan+UBSan build, TSan on the bus and actor
# tests, a short fuzz run. Prints one final "N passed, N failed" line.
test: deps
	@tests/run.sh

check: $(TESTBIN)
	$(TESTBIN)

# ---- fuzzing (clang + libFuzzer) -------------------------------------------
FUZZ_BUILD := build/fuzz
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZERS := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)
# The fuzz objects are intermediate files of a pattern rule: keep them, so
# a second `make fuzz` does not compile everything again.
.SECONDARY: $(FUZZ_LIB_OBJ) $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/%.o)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -std=c17 -O1 -g $(WARN) -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -c $< -o $@
$(FUZZ_BUILD)/bus/socp_platform.o: CPPFLAGS += -D_GNU_SOURCE

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	clang $(FUZZ_FLAGS) $^ $(LDLIBS) -o $@

fuzz-build: $(FUZZERS)

fuzz: fuzz-build
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZERS)

# ---- benchmarks, docs, formatting ------------------------------------------
bench: all
	@scripts/bench.sh $(BUILD)
	@/usr/bin/python3 scripts/bench_plot.py $(BUILD)

docs: $(BUILD)/socp_tests
	$(BUILD)/socp_tests --catalogue > docs/messages.md

run: deps all
	@scripts/run.sh $(BUILD)

# ---- interop against two other implementations (docs/interop.md) ------------
# Not part of `make test`: it needs the peers, unpacked and patched, in
# SOCP_PEERS_DIR (peer-a/, impl14/). INTEROP_ARGS: e.g. --cells 1,6a --markdown.
.PHONY: interop
interop:
	$(MAKE) all
	@SOCP_PEERS_DIR="$(SOCP_PEERS_DIR)" /usr/bin/python3 scripts/interop.py --build $(BUILD) $(INTEROP_ARGS)

FORMAT_SRC := $(wildcard include/socp/*.h bus/*.[ch] proto/*.[ch] actors/*.[ch] cmd/*.c tests/*.[ch] tests/shim/*.c bench/*.c fuzz/*.[ch])
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

deps:
	@scripts/install-deps.sh

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CMD_SRC:%.c=$(BUILD)/%.d) $(BENCH_SRC:%.c=$(BUILD)/%.d)
