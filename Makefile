# oneoff - GNU make build.
#
#   make                  build ./oneoff
#   make test             install missing Debian packages, then build and run
#                         unit tests, integration tests (real sshd on
#                         loopback) and, with clang, a fuzz smoke run
#   make demo             a three-host loopback fleet and a real run
#   make bench            timings against a parallel OpenSSH baseline
#   make DEVELOPER=1      warnings are errors
#   make SANITIZE=address,undefined   sanitized build in build-san-address-undefined/
#   make SANITIZE=thread  ThreadSanitizer build in build-san-thread/
#   make install PREFIX=/usr/local DESTDIR=   the binary, the man pages and
#                         the bash and zsh completions (also BINDIR, MANDIR,
#                         BASHCOMPDIR, ZSHCOMPDIR); make uninstall undoes it

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
CC ?= cc
PKG_CONFIG ?= pkg-config
# A ThreadSanitizer report fails the program that made it.
export TSAN_OPTIONS ?= halt_on_error=1 second_deadlock_stack=1

comma := ,
# Each sanitizer set builds in a folder of its own: build-san-address-undefined,
# build-san-thread.
O ?= build$(if $(SANITIZE),-san-$(subst $(comma),-,$(SANITIZE)))

WARNINGS = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wwrite-strings -Wvla -Wimplicit-fallthrough
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 $(WARNINGS) $(CFLAGS) -Iinclude -MMD -MP \
	-D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	$(shell $(PKG_CONFIG) --cflags libssh yaml-0.1 jansson libcrypto 2>/dev/null)
ifdef DEVELOPER
ALL_CFLAGS += -Werror
endif
ifdef SANITIZE
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
	$(if $(findstring thread,$(SANITIZE)),,-fno-sanitize-recover=all)
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif
LIBS = $(shell $(PKG_CONFIG) --libs libssh yaml-0.1 jansson libcrypto \
	2>/dev/null) -lpthread
TEST_LIBS = $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

SRCS := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
# src/host_script.sh (and host_runtime.sh, host_job.sh) are embedded by an
# assembler file (.incbin), without their comment lines and indentation:
# every host receives and parses them on every run (their multi-line
# strings hold code or a newline, and their one here-document's lines
# start with no blank, so this changes no meaning). The "#@" lines that
# mark the script's parts stay (src/host_script.c reads them).
LIB_OBJS := $(LIB_SRCS:src/%.c=$(O)/%.o) $(O)/host_script_text.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
# helpers linked into every unit test program (running scripts for real)
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all test check unit integration integration-subset fuzz fuzz-smoke \
	deps demo bench install uninstall install-test clean format \
	format-check banned shellcheck

all: oneoff

oneoff: $(O)/oneoff
ifndef SANITIZE
	cp $(O)/oneoff oneoff
endif

$(O)/oneoff: $(O)/main.o $(O)/liboneoff.a
	$(CC) $(ALL_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/liboneoff.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(O)/%.o: src/%.c | $(O)
	@echo "  CC $<"
	@$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

HOST_SCRIPTS := $(O)/host_script.sh $(O)/host_runtime.sh $(O)/host_job.sh

$(HOST_SCRIPTS): $(O)/%.sh: src/%.sh | $(O)
	@echo "  GEN $@"
	@sed -e '/^#@/b' -e '/^[[:space:]]*#/d' -e 's/^[[:space:]]*//' -e '/^$$/d' $< >$@.tmp
	@mv $@.tmp $@

$(O)/host_script_text.o: src/host_script_text.S $(HOST_SCRIPTS) | $(O)
	@echo "  AS $<"
	@$(CC) -Wa,-I$(O) -c -o $@ src/host_script_text.S

$(O)/tests/%: tests/unit/%.c $(UNIT_HELPERS) tests/unit/script_harness.h \
		$(O)/liboneoff.a | $(O)/tests
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(LDFLAGS) -o $@ $< \
		$(UNIT_HELPERS) $(O)/liboneoff.a $(LIBS) $(TEST_LIBS)

$(O) $(O)/tests:
	mkdir -p $@

# The README's test command: set up the machine, then everything, then the
# unit tests and a representative subset of the integration tests once more
# under AddressSanitizer with UBSan, and under ThreadSanitizer (any report
# fails the run).
test:
	sh scripts/deps.sh
	$(MAKE) check
	$(MAKE) SANITIZE=address,undefined unit integration-subset
	$(MAKE) SANITIZE=thread unit integration-subset

check: banned format-check shellcheck all unit integration fuzz-smoke \
	install-test

unit: $(UNIT_BINS)
	@sh tests/run-unit.sh $(UNIT_BINS)

# run.sh, then the fault tests (stops, locks) and the jump hosts (jump: a
# network namespace, root only), each with a fleet of its own; every suite
# runs even when one before it failed.
INTEGRATION_SUITES = run stops locks console containers detached jump
integration: $(O)/oneoff
	@rc=0; for s in $(INTEGRATION_SUITES); do \
		echo "ONEOFF=$(CURDIR)/$(O)/oneoff bash tests/integration/$$s.sh"; \
		ONEOFF=$(CURDIR)/$(O)/oneoff bash tests/integration/$$s.sh || rc=1; \
	done; exit $$rc

# What the sanitized passes run: success and failure paths, Ctrl-C and
# timeouts (the thread hand-offs), locks, local hosts, grouped output,
# check-only hosts and the promotion gate (reading the stage before).
SUBSET = success_on_all_hosts nonzero_exit_on_one_host signal_death \
	unreachable_connection_refused host_killed_mid_run long_line_whole \
	ctrl_c_stops_remote_work double_ctrl_c ctrl_c_while_connecting \
	sigterm_like_ctrl_c output_grouped timeout report_file exec \
	local_transport rec_logs_overflow if_json_events view_gather \
	view_progress_pty host_certificate_accepted revoked_host_key_refused \
	history_lines_on_every_host history_once_refused_then_forced \
	stage_release_checked_hosts promotion_gate_reads_the_stage_before
# and the jump hosts' pump thread: a run, two hops, many hosts, bulk output
JUMP_SUBSET = run_through_jump two_hops many_hosts_one_login \
	bulk_output_through_jump host_certificate_behind_jump
integration-subset: $(O)/oneoff
	ONEOFF=$(CURDIR)/$(O)/oneoff bash tests/integration/run.sh $(SUBSET)
	JUMP_MANY=30 ONEOFF=$(CURDIR)/$(O)/oneoff bash tests/integration/jump.sh \
		$(JUMP_SUBSET)

# libFuzzer targets (clang); fuzz-smoke replays each corpus and fuzzes for
# a few seconds. Skipped, with a note, when clang is missing.
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -Iinclude \
	$(shell $(PKG_CONFIG) --cflags yaml-0.1 2>/dev/null)
build/fuzz/%: tests/fuzz/%.c src/yaml_doc.c src/inventory.c \
		src/inventory_ansible.c src/nodeset.c src/nodeset_fold.c \
		src/nodeset_range.c src/task.c src/runtime.c src/digest.c \
		src/text.c src/util.c src/buf.c
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $^ \
		$(shell $(PKG_CONFIG) --libs yaml-0.1 libcrypto 2>/dev/null)

build/fuzz/fuzz_preflight: tests/fuzz/fuzz_preflight.c src/preflight.c src/digest.c \
		src/util.c src/buf.c src/text.c
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $^ \
		$(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null)

build/fuzz/fuzz_history: tests/fuzz/fuzz_history.c src/history.c src/history_line.c src/json_text.c src/util.c \
		src/buf.c src/text.c
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) $(shell $(PKG_CONFIG) --cflags jansson 2>/dev/null) \
		-o $@ $^ $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null)

build/fuzz/fuzz_known_hosts: tests/fuzz/fuzz_known_hosts.c src/known_hosts.c \
		src/known_hosts_cert.c src/util.c src/buf.c src/text.c
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $^ \
		$(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null)

# The node set fuzzer needs neither libyaml nor the YAML loaders; lower
# bounds on names and on folding work keep each input fast while it tests
# the same code.
build/fuzz/fuzz_nodeset: tests/fuzz/fuzz_nodeset.c src/nodeset.c \
		src/nodeset_fold.c src/util.c src/buf.c src/text.c include/oneoff/nodeset.h
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -DNODESET_MAX=10000 -DFOLD_BUDGET=1000000 \
		-o $@ $(filter %.c,$^)

fuzz: $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)

fuzz-smoke:
	@if command -v clang >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory fuzz && \
		sh tests/fuzz/smoke.sh build/fuzz; \
	else echo "fuzz-smoke: clang not found, skipped"; fi

deps:
	sh scripts/deps.sh

demo:
	sh scripts/deps.sh
	$(MAKE) all
	bash scripts/demo.sh

bench:
	sh scripts/deps.sh
	$(MAKE) all
	bash scripts/bench.sh

MAN1 = docs/oneoff.1
MAN5 = docs/oneoff-hosts.5 docs/oneoff-tasks.5

install: $(O)/oneoff
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 $(O)/oneoff $(DESTDIR)$(BINDIR)/oneoff
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 completions/oneoff.bash $(DESTDIR)$(BASHCOMPDIR)/oneoff
	install -m 0644 completions/_oneoff $(DESTDIR)$(ZSHCOMPDIR)/_oneoff

# Removes exactly what install put there (not the folders, which other
# packages may share).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/oneoff \
		$(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5))) \
		$(DESTDIR)$(BASHCOMPDIR)/oneoff $(DESTDIR)$(ZSHCOMPDIR)/_oneoff

# make install and uninstall into a scratch DESTDIR, the man pages rendered,
# the bash completion exercised.
install-test: $(O)/oneoff
	MAKE="$(MAKE)" O="$(O)" sh tests/install.sh

format:
	clang-format -i src/*.c include/oneoff/*.h tests/unit/*.c tests/fuzz/*.c

format-check:
	@if command -v clang-format >/dev/null 2>&1; then \
		clang-format --dry-run --Werror src/*.c include/oneoff/*.h && \
		echo "format-check: ok"; \
	else echo "format-check: clang-format not found, skipped"; fi

# The host script is POSIX sh: shellcheck reads it as such.
shellcheck:
	@if command -v shellcheck >/dev/null 2>&1; then \
		shellcheck -s sh src/host_script.sh src/host_runtime.sh \
			src/host_job.sh && echo "shellcheck: ok"; \
	else echo "shellcheck: not found, skipped"; fi

# Functions we never call: unbounded string writes and libssh's
# deprecated interfaces.
BANNED = gets sprintf vsprintf strcpy strcat strncpy strtok atoi atol \
	ssh_userauth_autopubkey ssh_forward_listen ssh_privatekey_type \
	ssh_select ssh_channel_select ssh_userauth_pubkey ssh_userauth_offer_pubkey \
	ssh_is_server_known ssh_write_knownhost ssh_get_pubkey_hash \
	ssh_channel_read_nonblocking ssh_channel_poll
banned:
	@bad=0; for f in $(BANNED); do \
		if grep -nE "(^|[^_a-zA-Z0-9])$$f[[:space:]]*\(" src/*.c \
			include/oneoff/*.h; then \
			echo "banned function: $$f"; bad=1; fi; \
	done; exit $$bad

clean:
	rm -rf build build-san-* oneoff

-include $(LIB_OBJS:.o=.d) $(O)/main.d
