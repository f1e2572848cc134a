# Build, run, debug and test the kernel. `make help` lists the targets and variables;
# docs/build-and-debug.md explains each of them.
# One file on purpose: students should be able to read all of it.
K = kernel
U = user

OBJS = \
  $K/entry.o \
  $K/start.o \
  $K/sbi.o \
  $K/console.o \
  $K/printf.o \
  $K/uart.o \
  $K/kalloc.o \
  $K/spinlock.o \
  $K/string.o \
  $K/main.o \
  $K/vm.o \
  $K/proc.o \
  $K/swtch.o \
  $K/trampoline.o \
  $K/trap.o \
  $K/syscall.o \
  $K/sysproc.o \
  $K/bio.o \
  $K/fs.o \
  $K/log.o \
  $K/sleeplock.o \
  $K/file.o \
  $K/pipe.o \
  $K/exec.o \
  $K/sysfile.o \
  $K/kernelvec.o \
  $K/plic.o \
  $K/virtio_disk.o

.DEFAULT_GOAL := all

# ---- Host tools -------------------------------------------------------------------------
# The goals that need the whole tool set (compiler, QEMU, OpenSBI, gdb) first check for it
# and install what is missing, before the toolchain is picked below. Sub-makes skip this.
QEMU ?= qemu-system-riscv64
OPENSBI_FW ?= /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin
TOOL_GOALS = all qemu qemu-gdb gdb check grade
# >>> solution (lines from here to "<<< solution" are not in the student handout)
TOOL_GOALS += bench bench-paths
# <<< solution
ifndef TOOLS_CHECKED
ifneq ($(if $(MAKECMDGOALS),$(filter $(TOOL_GOALS),$(MAKECMDGOALS)),all),)
ifneq ($(shell TOOLPREFIX='$(TOOLPREFIX)' QEMU='$(QEMU)' OPENSBI_FW='$(OPENSBI_FW)' \
	sh tools/ensure-tools.sh >&2 && echo ok),ok)
$(error missing or unusable tools, see the line above)
endif
endif
export TOOLS_CHECKED := 1
endif

# Toolchain: the first RISC-V cross compiler found on PATH, unless TOOLPREFIX is given.
ifndef TOOLPREFIX
TOOLPREFIX := $(shell for p in riscv64-unknown-elf- riscv64-linux-gnu- riscv64-elf- \
		riscv64-none-elf-; do \
	if command -v $${p}gcc >/dev/null 2>&1; then echo $$p; exit 0; fi; done)
endif
# Programs make starts (the grader, tests) build with the same compiler.
export TOOLPREFIX

CC = $(TOOLPREFIX)gcc
AS = $(TOOLPREFIX)as
LD = $(TOOLPREFIX)ld
OBJCOPY = $(TOOLPREFIX)objcopy
OBJDUMP = $(TOOLPREFIX)objdump

# Built for gdb as well as for speed: -O2, but every call keeps its stack frame (no tail
# calls), and a breakpoint on a function stops in its own source line (no statement
# frontiers, which put the first line of an inlined riscv.h helper there instead).
# OPT=-O0 (e.g. make qemu-gdb OPT=-O0) keeps every argument of every frame visible too;
# changing OPT rebuilds everything (the CFLAGS are part of the build stamp below).
OPT ?= -O2
CFLAGS = -Wall -Werror=implicit-function-declaration $(OPT) -fno-omit-frame-pointer -ggdb
CFLAGS += -fno-optimize-sibling-calls -gno-statement-frontiers
CFLAGS += -MD
CFLAGS += -mcmodel=medany
CFLAGS += -ffreestanding -fno-common -nostdlib -mno-relax
CFLAGS += -fno-builtin-strncpy -fno-builtin-strncmp -fno-builtin-strlen -fno-builtin-memset
CFLAGS += -fno-builtin-memmove -fno-builtin-memcmp -fno-builtin-log -fno-builtin-bzero
CFLAGS += -fno-builtin-strchr -fno-builtin-exit -fno-builtin-malloc -fno-builtin-putc
CFLAGS += -fno-builtin-free -fno-builtin-memcpy -Wno-main
CFLAGS += -fno-builtin-printf -fno-builtin-fprintf -fno-builtin-vprintf
CFLAGS += -I.
CFLAGS += $(shell $(CC) -fno-stack-protector -E -x c /dev/null >/dev/null 2>&1 \
	&& echo -fno-stack-protector)
CFLAGS += -fno-pie -no-pie
ASFLAGS = -I. -mno-relax

# ---- Build settings ----------------------------------------------------------------------
# MEM=N: MiB of RAM, both QEMU's -m and the kernel's PHYSTOP (kernel/memlayout.h). At least
# 64: the opensbi package's fw_jump.bin puts the device tree at 0x82200000.
MEM ?= 128
ifneq ($(shell echo '$(MEM)' | grep -Ex '[1-9][0-9]*' >/dev/null && test $(MEM) -ge 64 && \
	test $(MEM) -le 2048 && echo ok),ok)
$(error MEM=$(MEM): give the RAM size in MiB, 64..2048)
endif
CFLAGS += -DMEMSIZE_MB=$(MEM)
SETTINGS = MEM=$(MEM)
# >>> solution: COW=0 is the same kernel with an eager fork (every page copied), for
# comparison. It is also exactly the student starter: see `make handout` below.
COW ?= 1
ifneq ($(filter-out 0 1,$(COW))$(words $(COW)),1)
$(error COW=$(COW): give 1 (copy-on-write fork, the default) or 0 (eager))
endif
ifeq ($(COW),1)
CFLAGS += -DCOW_FORK
OBJS += $K/cow.o
endif
SETTINGS += COW=$(COW)
# COWBATCH=0: a COW fault resolves its own page only: no fault-around (kernel/cowaround.c),
# the one-page-per-fault kernel make bench measures fault-around against.
COWBATCH ?= 1
ifneq ($(filter-out 0 1,$(COWBATCH))$(words $(COWBATCH)),1)
$(error COWBATCH=$(COWBATCH): give 1 (fault-around, the default) or 0 (one page per fault))
endif
ifeq ($(COW)$(COWBATCH),11)
CFLAGS += -DCOW_AROUND
OBJS += $K/cowaround.o
endif
SETTINGS += COWBATCH=$(COWBATCH)
# LOGCOMMIT=sync: end_op() commits every operation on its own (kernel/log.c only), and
# TRAPFLUSH=full: the trap path flushes the whole TLB both ways (kernel/trap.c only); the
# slow classic paths, built to measure the fast ones against (make bench-paths).
LOGCOMMIT ?= group
TRAPFLUSH ?= asid
ifneq ($(filter-out group sync,$(LOGCOMMIT))$(words $(LOGCOMMIT)),1)
$(error LOGCOMMIT=$(LOGCOMMIT): give group (the default) or sync)
endif
ifneq ($(filter-out asid full,$(TRAPFLUSH))$(words $(TRAPFLUSH)),1)
$(error TRAPFLUSH=$(TRAPFLUSH): give asid (the default) or full)
endif
ifeq ($(LOGCOMMIT),sync)
$K/log.o: CFLAGS += -DLOG_SYNC_COMMIT
endif
ifeq ($(TRAPFLUSH),full)
$K/trap.o: CFLAGS += -DTRAP_FULL_FLUSH
endif
SETTINGS += LOGCOMMIT=$(LOGCOMMIT) TRAPFLUSH=$(TRAPFLUSH)
# <<< solution
# The settings are recorded in a stamp that every object depends on, so changing one
# rebuilds instead of linking objects compiled for other settings. CFLAGS count as one.
SETTINGS += CFLAGS=$(CFLAGS)
COWSTAMP = .build-cow
$(shell echo '$(SETTINGS)' | cmp -s - $(COWSTAMP) 2>/dev/null || \
	echo '$(SETTINGS)' > $(COWSTAMP))

LDFLAGS = -z max-page-size=4096

all: $K/kernel fs.img

$(OBJS): $(COWSTAMP)

$K/kernel: $(OBJS) $K/kernel.ld
	$(LD) $(LDFLAGS) -T $K/kernel.ld -o $K/kernel $(OBJS)
	$(OBJDUMP) -S $K/kernel > $K/kernel.asm
	$(OBJDUMP) -t $K/kernel | sed '1,/SYMBOL TABLE/d; s/ .* / /; /^$$/d' > $K/kernel.sym

# ---- User programs -------------------------------------------------------------------------
ULIB = $U/ulib.o $U/usys.o $U/printf.o $U/umalloc.o

_%: %.o $(ULIB) $U/user.ld
	$(LD) $(LDFLAGS) -T $U/user.ld -o $@ $< $(ULIB)
	$(OBJDUMP) -S $@ > $*.asm

$U/usys.S : $U/usys.pl
	perl $U/usys.pl > $U/usys.S

$U/usys.o : $U/usys.S
	$(CC) $(CFLAGS) -c -o $U/usys.o $U/usys.S

mkfs/mkfs: mkfs/mkfs.c $K/fs.h $K/param.h
	gcc -Wall -Werror -I. -o mkfs/mkfs mkfs/mkfs.c

# Prevent deletion of intermediate files, e.g. cat.o, after first build.
.PRECIOUS: %.o _%

UPROGS = \
	$U/_cat \
	$U/_echo \
	$U/_forktest \
	$U/_grep \
	$U/_init \
	$U/_kill \
	$U/_ln \
	$U/_ls \
	$U/_mkdir \
	$U/_rm \
	$U/_sh \
	$U/_stressfs \
	$U/_wc \
	$U/_zombie \
	$U/_cowtest \
	$U/_cowstat \
	$U/_forkbench \
	$U/_sysbench \
	$U/_usertests \
	$U/_grind \
	$U/_vmmap \
	$U/_cowdemo \
	$U/_sync \
	$U/_halt

$(ULIB) $(UPROGS:$U/_%=$U/%.o): $(COWSTAMP)

# ---- EXTRA_PROGS: user programs from anywhere, without editing this file ----------------------
# `make EXTRA_PROGS="dir/a.c b.c"` builds dir/a.c into $U/_a (run as `a`) and puts it in
# fs.img. Their objects are $U/extra-NAME.o; they get no .d files because the source
# may be a temporary file (the grader's) that a stale dependency line would then name.
EXTRA_PROGS ?=
EXTRA_NAMES = $(basename $(notdir $(EXTRA_PROGS)))
EXTRA_BINS = $(EXTRA_NAMES:%=$U/_%)
ifneq ($(words $(EXTRA_NAMES)),$(words $(sort $(EXTRA_NAMES))))
$(error EXTRA_PROGS has two programs with the same name: $(EXTRA_PROGS))
endif
ifneq ($(filter $(EXTRA_BINS),$(UPROGS)),)
$(error EXTRA_PROGS would replace a built-in program: $(filter $(EXTRA_BINS),$(UPROGS)))
endif

define extra_prog
$U/extra-$(1).o: $(2) $(wildcard $K/*.h $U/*.h) $(COWSTAMP)
	$$(CC) $$(filter-out -MD,$$(CFLAGS)) -c -o $$@ $$<
$U/_$(1): $U/extra-$(1).o $$(ULIB) $U/user.ld
	$$(LD) $$(LDFLAGS) -T $U/user.ld -o $$@ $$< $$(ULIB)
	$$(OBJDUMP) -S $$@ > $U/extra-$(1).asm
endef
$(foreach p,$(EXTRA_PROGS),$(eval $(call extra_prog,$(basename $(notdir $(p))),$(p))))

# fs.img depends on the list itself, so adding or dropping a program rebuilds it.
EXTRASTAMP = .extra-progs
$(shell echo '$(strip $(EXTRA_PROGS))' | cmp -s - $(EXTRASTAMP) 2>/dev/null || \
	echo '$(strip $(EXTRA_PROGS))' > $(EXTRASTAMP))

# fs.img holds copies without debug information (user/_usertests with it would exceed MAXFILE);
# gdb reads the symbols from the unstripped user/_NAME.
FSPROGS = $(patsubst $U/_%,fsroot/_%,$(UPROGS) $(EXTRA_BINS))

fsroot/_%: $U/_%
	@mkdir -p fsroot
	$(OBJCOPY) --strip-debug $< $@

fs.img: mkfs/mkfs README $(FSPROGS) $(EXTRASTAMP)
	mkfs/mkfs fs.img README $(FSPROGS)

-include kernel/*.d user/*.d

# ---- Running under QEMU ----------------------------------------------------------------------
CPUS ?= 3
# The opensbi package's firmware when installed, else the OpenSBI bundled with QEMU.
BIOS = $(if $(wildcard $(OPENSBI_FW)),$(OPENSBI_FW),default)

QEMUOPTS = -machine virt -bios $(BIOS) -kernel $K/kernel -m $(MEM)M -smp $(CPUS) -nographic
QEMUOPTS += -global virtio-mmio.force-legacy=false
QEMUOPTS += -drive file=fs.img,if=none,format=raw,id=x0
QEMUOPTS += -device virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0
QEMUOPTS += $(QEMUEXTRA)

qemu: $K/kernel fs.img
	@echo "*** booting on $(CPUS) harts; leave QEMU with Ctrl-A then x"
	$(QEMU) $(QEMUOPTS)

# Each user gets an own gdb port, so two people on one machine do not collide.
GDBPORT ?= $(shell expr 25000 + `id -u` % 5000)

qemu-gdb: $K/kernel fs.img .gdbinit.tmpl
	@sed 's/__GDBPORT__/$(GDBPORT)/' .gdbinit.tmpl > .gdbinit
	@sh tools/ensure-tools.sh gdb-safe-path $(CURDIR)
	@echo "*** QEMU is halted, waiting for gdb on port $(GDBPORT):" \
		"run 'make gdb' or 'gdb-multiarch' here in another window"
	$(QEMU) $(QEMUOPTS) -S -gdb tcp::$(GDBPORT)

gdb:
	gdb-multiarch -q -iex 'add-auto-load-safe-path $(CURDIR)/.gdbinit'

# ---- Testing and grading -----------------------------------------------------------------
# check: tests/run-checks.py: host-side tests, shell sessions, the grader at 3 and 1 harts,
# gdb, sysbench, crashtest, cowdemo (docs/build-and-debug.md lists every part); the last
# line of output is "N passed, N failed".
check:
	@GRADEFLAGS='$(GRADEFLAGS)' python3 tests/run-checks.py

grade:
	@./grade-cow.py --cpus $(CPUS) --mem $(MEM) $(GRADEFLAGS)

# grade: this tree graded in place, with the test files it has (course staff grade a
# submission with their own copies of those). handin: this tree as $(HANDIN), without build
# outputs (and with a warning if git has uncommitted changes): the file to hand in.
HANDIN ?= handin.tar.gz
handin:
	@python3 grade-cow.py --handin $(HANDIN)

tarball: handin

# crashtest: crash QEMU at random moments, right after a close() returned (several writers),
# with a removed file still open, and with every process asleep; then fsck and check the
# files after recovery (tools/crashtest.py). ITERS=N runs every case N times; CRASHFLAGS
# passes options on, e.g. CRASHFLAGS='--cases closers,idle -v'.
ITERS ?= 1
crashtest:
	@python3 tools/crashtest.py --cpus $(CPUS) --mem $(MEM) --iters $(ITERS) $(CRASHFLAGS)

# >>> solution: course staff's targets
# handout: the student starter tree, generated from this one by tools/handout.py: the
# staff-only conditionals in the C sources resolved (the starter is the COW=0 kernel),
# "# >>> solution" ... "# <<< solution" blocks like this one removed, kernel/cow.c and
# the staff tools left out. Writes $(HANDOUT)/xv6-cow-lab/ and $(HANDOUT)/xv6-cow-lab.tar.gz.
# LEVEL=guided: the guided starter, which also has the reference counts (docs/lab-cow.md).
HANDOUT ?= handout
LEVEL ?= standard
handout:
	@python3 tools/handout.py --out $(HANDOUT) --level $(LEVEL)

# bench: COW, COW with one page per fault (COWBATCH=0) and eager (COW=0) kernels side by
# side, each built in its own copy under bench-out/; results in bench-out/bench.csv and
# bench-out/forkbench.svg. A benchmark, not a test: it reports timings and asserts none.
# MEM defaults to 256 here so the eager fork of a 64 MiB process fits; MEM= or CPUS= on the
# command line are passed on.
bench:
	@sh tools/ensure-tools.sh plot
	@python3 tools/bench.py --mem $(if $(filter command line,$(origin MEM)),$(MEM),256) \
	$(if $(filter command line,$(origin CPUS)),--cpus $(CPUS))

# bench-paths: the fast paths against the classic ones, in one run: the default kernel,
# LOGCOMMIT=sync and TRAPFLUSH=full, booted at once, sysbench on each in turn for 5 rounds;
# medians and per-round ratios, bench-out/paths.csv. Reports, asserts nothing. CPUS= passed on.
bench-paths:
	@python3 tools/bench.py --paths --mem $(MEM) \
	$(if $(filter command line,$(origin CPUS)),--cpus $(CPUS))

# autograder: $(AUTOGRADER_ZIP) for Gradescope (tools/autograder.py, docs/grading.md):
# setup.sh and run_autograder at the top, then the starter tree as make handout ships it.
# Gradescope's run of one submission stops after AUTOGRADER_BUDGET seconds (results.json is
# written even then); AUTOGRADER_FLAGS='...' adds tools/autograder.py options, e.g.
# --visibility after_due_date.
AUTOGRADER_ZIP ?= autograder.zip
AUTOGRADER_BUDGET ?= 540
AUTOGRADER_FLAGS ?=
autograder:
	@python3 tools/autograder.py --make $(AUTOGRADER_ZIP) \
	--flags='--time-budget $(AUTOGRADER_BUDGET) $(AUTOGRADER_FLAGS)'

.PHONY: handout bench bench-paths autograder
# <<< solution

# ---- Housekeeping ---------------------------------------------------------------------------
clean:
	rm -f *.tex *.dvi *.idx *.aux *.log *.ind *.ilg \
	*/*.o */*.d */*.asm */*.sym \
	$K/kernel fs.img mkfs/mkfs .gdbinit $U/usys.S $(UPROGS) $U/_* \
	$(COWSTAMP) $(EXTRASTAMP)
	rm -rf fsroot

help:
	@echo "Targets:"
	@echo "  make / make all     build kernel/kernel and fs.img (installs missing tools first)"
	@echo "  make qemu           boot the kernel in QEMU (leave with Ctrl-A x)"
	@echo "  make qemu-gdb       boot halted, with a gdb stub on port $(GDBPORT); writes .gdbinit"
	@echo "  make gdb            start gdb-multiarch with this tree's .gdbinit"
	@echo "  make check          every test (tests/run-checks.py); ends 'N passed, N failed'"
	@echo "  make grade          run ./grade-cow.py on this tree (score out of 100)"
	@echo "  make handin         pack this tree for handing in: $(HANDIN) (also: make tarball)"
	@echo "  make crashtest      crash QEMU mid-write, after close(), while idle; check files and fsck"
# >>> solution
	@echo "  make handout        write the student starter tree: handout/xv6-cow-lab/ and .tar.gz"
	@echo "  make bench          COW vs one page per fault vs eager fork (MEM=256); bench-out/"
	@echo "  make bench-paths    fast paths vs LOGCOMMIT=sync and TRAPFLUSH=full, side by side"
	@echo "  make autograder     write autograder.zip, the Gradescope bundle"
# <<< solution
	@echo "  make kernel/X.o     compile one kernel file (user/X.o: one user file)"
	@echo "  make clean          remove everything built"
	@echo "  make help           this list"
	@echo "Variables:"
	@echo "  CPUS=N              harts QEMU emulates (default 3)"
	@echo "  TOOLPREFIX=P        cross compiler prefix (default: the first on PATH: '$(TOOLPREFIX)')"
	@echo "  EXTRA_PROGS='a.c'   also build these files as user programs into fs.img"
	@echo "  ITERS=N             make crashtest: run every crash case N times (default 1)"
	@echo "  CRASHFLAGS='...'    make crashtest: more tools/crashtest.py options (--cases, -v)"
# >>> solution
	@echo "  COW=0               build the kernel with an eager (copying) fork"
	@echo "  COWBATCH=0          a COW fault resolves its own page only (to compare)"
	@echo "  LOGCOMMIT=sync      the log commits every operation on its own (to compare)"
	@echo "  TRAPFLUSH=full      the trap path flushes the whole TLB both ways (to compare)"
	@echo "  HANDOUT=dir         where make handout writes (default handout)"
	@echo "  LEVEL=guided        make handout: the guided starter (default standard)"
	@echo "  AUTOGRADER_ZIP=f    the file make autograder writes (default autograder.zip)"
	@echo "  AUTOGRADER_BUDGET=S seconds one submission may take on Gradescope (default 540)"
	@echo "  AUTOGRADER_FLAGS=.. grading options for the bundle, e.g. '--visibility hidden'"
# <<< solution
	@echo "  MEM=N               MiB of RAM for QEMU and the kernel (default 128)"
	@echo "  GDBPORT=N           gdb port for qemu-gdb (default 25000 + uid % 5000)"
	@echo "  OPT=-O0             optimisation (default -O2); -O0 shows every argument in gdb"
	@echo "  QEMU=path           QEMU binary; QEMUEXTRA='...' adds QEMU options"
	@echo "  OPENSBI_FW=path     firmware used when present (else QEMU's -bios default)"
	@echo "  GRADEFLAGS='...'    extra grade-cow.py options for grade and check"
	@echo "  HANDIN=file         the archive make handin writes (default handin.tar.gz)"

.PHONY: all qemu qemu-gdb gdb check grade handin tarball crashtest clean help
