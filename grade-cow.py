#!/usr/bin/env python3
"""Grades the copy-on-write fork lab: builds a tree, boots it in QEMU, runs the tests, scores them.

  ./grade-cow.py                      grade the tree this script sits in, in place
  ./grade-cow.py SUB [SUB...]         grade submissions (directories, git URLs, .tar.gz files),
                                      each copied to and built in its own temporary directory
                                      with the grader's copies of the protected files
  ./grade-cow.py --list               the tests, their points and the protected files
  ./grade-cow.py --handin FILE        pack this tree without build outputs (make handin)
  options: --jobs N  --cpus N  --mem MIB  --timeout-scale X  --time-budget S  --only NAME  -v
           --json FILE  --csv FILE  --visibility V  --pristine DIR  --keep  --qemu PATH

Python 3 standard library only, and one file on purpose: course staff copy it alone. The
other host tools (make check and its shell session, tools/crashtest.py, the benchmarks)
import it for the one QEMU driver (Machine), the one QEMU command line (qemu_argv) and the
one list of build outputs (BUILD_OUTPUTS). Every QEMU started here runs in its own process group and is
killed when its boot ends, on timeout, and when this script exits.
"""

import argparse
import concurrent.futures
import csv
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.realpath(__file__))

# ---- QEMU settings: the Makefile's defaults, overridden by the environment as make does ---------
QEMU_DEFAULT = "qemu-system-riscv64"
OPENSBI_FW_DEFAULT = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
MEM_DEFAULT = 128           # MiB: QEMU's -m and the kernel's PHYSTOP, so build and boot agree
CPUS_DEFAULT = 3
QEMU_MIN = (5, 0)           # virtio-mmio force-legacy=false (modern virtio-mmio) appeared in 5.0

# The shell's prompt: at the start of a line, or last thing printed by a program that did
# not end its output with a newline. Patterns are searched in the output after a mark, so
# ^ is the mark.
PROMPT = re.compile(r"(?:^|\n)\$ |\$ \Z")
TAIL_LINES = 20
OUTPUT_CAP = 8 << 20        # console bytes kept per boot; more means the kernel is spewing
BUILD_TIMEOUT = 900
BOOT_TIMEOUT = 60
CLONE_TIMEOUT = 300

# The checking program the grader ships; built with EXTRA_PROGS into the tree's fs.img.
# Its size (GROW_MB) is read back from the source for the messages below.
COWCHECK_C = r"""
// cowcheck: shipped by grade-cow.py. Does fork share a big address space or copy it?
#include "kernel/types.h"
#include "kernel/memstat.h"
#include "user/user.h"

#define PAGE     4096
#define GROW_MB  32
#define GROW     (GROW_MB * 1024 * 1024)

static void
fail(const char *what)
{
  printf("cowcheck: %s failed\n", what);
  exit(1);
}

int
main(void)
{
  struct memstat before, after;
  int fds[2];
  char c = 0;

  char *mem = sbrk(GROW);
  if(mem == SBRK_ERROR)
    fail("sbrk");
  for(int off = 0; off < GROW; off += PAGE)
    mem[off] = (char)(off / PAGE + 1);
  if(pipe(fds) < 0)
    fail("pipe");
  if(memstat(&before) < 0)
    fail("memstat");
  int pid = fork();
  if(pid < 0)
    fail("fork");
  if(pid == 0){
    // Parked on the pipe so the parent measures while both share everything.
    close(fds[1]);
    read(fds[0], &c, 1);
    exit(0);
  }
  if(memstat(&after) < 0)
    fail("memstat");
  printf("cowcheck: touched %d pages; fork allocated %d pages; %d mappings shared\n",
         GROW / PAGE, (int)(before.freepages - after.freepages),
         (int)(after.cowshared - before.cowshared));
  write(fds[1], &c, 1);
  close(fds[1]);
  wait(0);
  for(int off = 0; off < GROW; off += PAGE)
    if(mem[off] != (char)(off / PAGE + 1))
      fail("parent's memory check");
  printf("cowcheck: done\n");
  exit(0);
}
"""
COWCHECK_MB = int(re.search(r"#define GROW_MB\s+(\d+)", COWCHECK_C).group(1))
# fork of a process that touched COWCHECK_MB MiB must allocate fewer than this many pages.
COWCHECK_LIMIT = 256

# ---- Protected files -------------------------------------------------------------------------
# Everything that decides a grade besides the kernel. Before a submission is built, the
# grader puts its own copies (from the tree it runs in, or --pristine DIR, or the Gradescope
# bundle) over the submission's, and reports which ones the submission had changed.
# (path, why it is protected)
PROTECTED = [
    ("user/cowtest.c", "the COW tests the grade counts"),
    ("user/usertests.c", "the system tests the grade counts"),
    ("user/cowstat.c", "prints the counters the cowstat test reads"),
    ("user/sh.c", "runs every command the grader types"),
    ("user/init.c", "starts the shell"),
    ("user/ulib.c", "user library: string and memory functions the tests use"),
    ("user/printf.c", "user library: the tests' output"),
    ("user/umalloc.c", "user library: malloc"),
    ("user/usys.pl", "user library: the system call stubs"),
    ("user/user.h", "the user API the tests are written against"),
    ("user/user.ld", "how user programs are linked"),
    ("kernel/types.h", "user API: types"),
    ("kernel/stat.h", "user API: struct stat"),
    ("kernel/fcntl.h", "user API: open flags"),
    ("kernel/memstat.h", "user API: the memstat() counters the tests read"),
    ("kernel/vmquery.h", "user API: the vmquery() pages the tests read"),
    ("kernel/syscall.h", "user API: system call numbers"),
]
COWCHECK_ROW = ("cowcheck", "the fork-is-cow check: its C source is inside grade-cow.py")

# ---- What runs in each boot ---------------------------------------------------------------
# group name -> list of (shell command, base timeout in seconds). Each group gets a fresh
# copy of fs.img and its own QEMU.
GROUPS = {
    "cowtest": [("cowtest", 300)],
    "cowcheck": [("cowcheck", 90), ("cowstat", 30)],
    "usertests": [("usertests -q", 1200)],
}
GROUP_ORDER = ["cowtest", "cowcheck", "usertests"]
COWTEST_NAMES = ["simple", "three", "file", "forkfork", "isolation", "textwrite",
                 "manyshare", "oom", "reuse", "nocopy", "leak"]


class Fail(Exception):
    """A test's verdict: failed, with this reason; group names the boot whose console shows it."""

    def __init__(self, reason, group=None):
        super().__init__(reason)
        self.group = group


class Test:
    def __init__(self, name, points, groups, check):
        self.name, self.points, self.groups, self.check = name, points, groups, check


def group_output(runs, group, command):
    """The console output of one command of a group that ran, or Fail with why not."""
    run = runs[group]
    if run.error and command not in run.outputs:
        raise Fail(run.error, group)
    out = run.outputs.get(command)
    if out is None:
        raise Fail("'%s' never ran" % command, group)
    return out


def run_problem(runs, group):
    """What went wrong in a group's boot, for a reason line ('' if nothing)."""
    return runs[group].error or ""


def check_cowtest(name):
    def check(runs):
        out = group_output(runs, "cowtest", "cowtest")
        if re.search(r"(?<![\w-])%s: ok" % name, out):
            return
        m = re.search(r"(?<![\w-])%s: FAILED[^\n]*" % name, out)
        if m:
            raise Fail("cowtest says: " + m.group(0).strip(), "cowtest")
        raise Fail("cowtest did not report '%s'%s" % (name, because(runs, "cowtest")), "cowtest")
    return check


def because(runs, group):
    problem = run_problem(runs, group)
    return " (%s)" % problem if problem else ""


def check_usertest(name):
    def check(runs):
        out = group_output(runs, "usertests", "usertests -q")
        if re.search(r"test %s: OK" % name, out):
            return
        if re.search(r"test %s: FAILED" % name, out):
            raise Fail("usertests: test %s: FAILED" % name, "usertests")
        raise Fail("usertests did not report test %s%s" % (name, because(runs, "usertests")),
                   "usertests")
    return check


def check_usertests_all(runs):
    out = group_output(runs, "usertests", "usertests -q")
    if "ALL TESTS PASSED" in out:
        return
    failed = re.findall(r"test (\S+): FAILED", out)
    if failed:
        raise Fail("usertests failed: " + " ".join(failed), "usertests")
    if "SOME TESTS FAILED" in out:
        raise Fail("usertests printed SOME TESTS FAILED", "usertests")
    problem = run_problem(runs, "usertests")
    if problem:
        raise Fail("usertests did not finish (%s)" % problem, "usertests")
    raise Fail("usertests ended without printing ALL TESTS PASSED", "usertests")


def check_no_leak(runs):
    check_usertest("freepages")(runs)
    check_cowtest("leak")(runs)


def check_no_panic(runs):
    for group in GROUP_ORDER:
        run = runs[group]
        m = re.search(r"panic:[^\n]*", run.console)
        if m:
            raise Fail("kernel panicked during %s: %s" % (group, m.group(0).strip()), group)
        if not run.booted:
            raise Fail("%s: never reached the shell (%s)" % (group, run.error), group)


# Said once per graded tree when cowcheck shows a fork that copied everything it touched
# (an eager fork: starter code, or an eager build). There cowtest's tests that need the
# memory a copying fork uses up, or that count COW faults, are expected to fail.
EAGER_BUILD = ""
# >>> solution
EAGER_BUILD = " (COW=0 build?)"
# <<< solution
EAGER_NOTE = ("note: this kernel copies at fork%s: fork-is-cow and cowtest's memory-hungry "
              "and COW-counting tests are expected to fail on it" % EAGER_BUILD)


def copies_at_fork(runs):
    """True if cowcheck ran and its fork allocated at least as many pages as it touched."""
    out = runs["cowcheck"].outputs.get("cowcheck", "")
    m = re.search(r"touched (\d+) pages; fork allocated (-?\d+) pages", out)
    return bool(m) and int(m.group(2)) >= int(m.group(1))


def check_cowcheck(runs):
    out = group_output(runs, "cowcheck", "cowcheck")
    m = re.search(r"fork allocated (-?\d+) pages", out)
    if not m:
        bad = re.search(r"cowcheck: [^\n]*failed", out)
        if bad:
            raise Fail(bad.group(0), "cowcheck")
        if "exec cowcheck failed" in out:
            raise Fail("cowcheck is not in fs.img (does the Makefile honour EXTRA_PROGS?)"
                       + because(runs, "cowcheck"))
        raise Fail("cowcheck did not report%s" % because(runs, "cowcheck"))
    pages = int(m.group(1))
    if pages >= COWCHECK_LIMIT:
        raise Fail("fork of a %d MiB process allocated %d pages (limit %d): fork copies memory%s"
                   % (COWCHECK_MB, pages, COWCHECK_LIMIT,
                      EAGER_BUILD if copies_at_fork(runs) else ""), "cowcheck")
    if "cowcheck: done" not in out:
        raise Fail("cowcheck did not finish after fork%s" % because(runs, "cowcheck"))


def check_cowstat(runs):
    out = group_output(runs, "cowcheck", "cowstat")
    body = out.split("\n", 1)[1] if "\n" in out else ""
    if re.search(r"exec cowstat failed|cowstat: .*failed", body):
        raise Fail("cowstat failed: " + body.strip().splitlines()[0], "cowcheck")
    if not (re.search(r"cow", body, re.I) and re.search(r"\d", body)):
        raise Fail("cowstat printed no counters%s" % because(runs, "cowcheck"))


TESTS = [Test("cowtest-" + n, 4, ["cowtest"], check_cowtest(n)) for n in COWTEST_NAMES] + [
    Test("fork-is-cow", 10, ["cowcheck"], check_cowcheck),
    Test("cowstat", 6, ["cowcheck"], check_cowstat),
    Test("usertests-copyin", 4, ["usertests"], check_usertest("copyin")),
    Test("usertests-copyout", 4, ["usertests"], check_usertest("copyout")),
    Test("usertests", 20, ["usertests"], check_usertests_all),
    Test("no-leak", 6, ["cowtest", "usertests"], check_no_leak),
    Test("no-panic", 6, GROUP_ORDER, check_no_panic),
]

# ---- Build outputs ----------------------------------------------------------------------------
# What building and the Makefile's other targets write into a tree, in .gitignore's notation
# (.gitignore lists the same; make check compares them): a pattern without "/" matches a
# name in any directory, one with a "/" inside is a path from the top, a trailing "/" means
# a directory. Nothing matching is copied into a grading directory, kept from an unpacked
# submission, or packed by make handin.
BUILD_OUTPUTS = ["*.o", "*.d", "*.asm", "*.sym", "user/_*", "user/usys.S", "kernel/kernel",
                 "mkfs/mkfs", "fs.img", ".gdbinit", "__pycache__/", ".build-cow",
                 ".extra-progs", "*.pyc", "fsroot/", "/handin.tar.gz"]
# >>> solution: what the staff targets write
BUILD_OUTPUTS += ["/handout/", "/bench-out/", "/autograder.zip"]
# <<< solution
NOT_SOURCE = {".git"}           # a directory, or in a git worktree a file


def is_build_output(rel, isdir=False):
    """True if the path rel (relative to a tree's top, "/"-separated) is a build output."""
    parts = rel.strip("/").split("/")
    for pat in BUILD_OUTPUTS:
        if pat.endswith("/") and not isdir:
            continue
        body = pat.strip("/")
        if "/" in pat.rstrip("/"):          # anchored: the whole path, one part per part
            want = body.split("/")
            if len(want) == len(parts) and all(
                    fnmatch.fnmatchcase(p, w) for p, w in zip(parts, want)):
                return True
        elif fnmatch.fnmatchcase(parts[-1], body):
            return True
    return False


def source_files(tree):
    """The tree's files that are not build outputs (relative paths, sorted): regular files
    only, no .git, no symbolic links."""
    found = []
    for d, dirs, names in os.walk(tree):
        rel = os.path.relpath(d, tree)
        rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        dirs[:] = sorted(x for x in dirs if x not in NOT_SOURCE and
                         not os.path.islink(os.path.join(d, x)) and
                         not is_build_output(rel + x, isdir=True))
        for n in names:
            path = os.path.join(d, n)
            if n not in NOT_SOURCE and not is_build_output(rel + n) and \
                    os.path.isfile(path) and not os.path.islink(path):
                found.append(rel + n)
    return sorted(found)


def copy_sources(src, dst, files=None):
    """Copies the source files of tree src into dst (made if needed), modes kept. Returns the
    relative paths copied. Files whose size and modification time match are left alone."""
    files = source_files(src) if files is None else files
    for rel in files:
        a, b = os.path.join(src, rel), os.path.join(dst, rel)
        st = os.stat(a)
        try:
            bt = os.stat(b)
            if bt.st_size == st.st_size and int(bt.st_mtime) == int(st.st_mtime):
                continue
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(b), exist_ok=True)
        shutil.copy2(a, b)
    return files


def remove_build_outputs(tree):
    """Deletes every build output under tree (an unpacked submission may carry some)."""
    for d, dirs, names in os.walk(tree, topdown=True):
        rel = os.path.relpath(d, tree)
        rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for x in list(dirs):
            if is_build_output(rel + x, isdir=True):
                shutil.rmtree(os.path.join(d, x), ignore_errors=True)
                dirs.remove(x)
        for n in names:
            if is_build_output(rel + n):
                os.unlink(os.path.join(d, n))


# ---- QEMU: the command line and the driver ----------------------------------------------------
def setting(name):
    """A make variable the way make sees it here: from the environment, else the Makefile's
    default (MEM, CPUS, QEMU, OPENSBI_FW)."""
    defaults = {"MEM": MEM_DEFAULT, "CPUS": CPUS_DEFAULT, "QEMU": QEMU_DEFAULT,
                "OPENSBI_FW": OPENSBI_FW_DEFAULT}
    value = os.environ.get(name) or defaults[name]
    if name not in ("MEM", "CPUS"):
        return value
    try:
        return int(value)
    except ValueError:
        sys.exit("grade-cow: %s=%s in the environment: give a number" % (name, value))


def firmware():
    """-bios: the opensbi package's firmware when installed, else the one bundled with QEMU."""
    fw = setting("OPENSBI_FW")
    return fw if os.path.exists(fw) else "default"


def qemu_argv(kernel, fsimg, cpus=None, mem=None, qemu=None, bios=None, extra=()):
    """QEMU's command line for kernel and disk image fsimg, exactly as `make qemu` builds it
    (QEMUOPTS in the Makefile; make check compares the two): virt machine, OpenSBI as -bios,
    mem MiB, cpus harts, the serial console on stdio, the disk on modern virtio-mmio."""
    return [qemu or setting("QEMU"), "-machine", "virt", "-bios", bios or firmware(),
            "-kernel", kernel, "-m", "%dM" % (mem or setting("MEM")),
            "-smp", str(cpus or setting("CPUS")), "-nographic",
            "-global", "virtio-mmio.force-legacy=false",
            "-drive", "file=%s,if=none,format=raw,id=x0" % fsimg,
            "-device", "virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0"] + list(extra)


_live = set()
_live_lock = threading.Lock()


def end_group(proc, signals=((signal.SIGTERM, 2), (signal.SIGKILL, 5))):
    """Ends a process we started in its own session, and everything it started: each signal
    in turn until it is gone, waiting the given seconds after each."""
    for sig, wait in signals:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with _live_lock:
        _live.discard(proc)


def kill_all():
    """Ends every process started through this module that is still running."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        end_group(proc)


def on_signal(signum, frame):
    kill_all()
    sys.exit(128 + signum)


def spawn(argv, **kw):
    """Popen in a new session, remembered so that kill_all() can end it."""
    proc = subprocess.Popen(argv, start_new_session=True, **kw)
    with _live_lock:
        _live.add(proc)
    return proc


class MachineError(Exception):
    """Machine.expect() did not see what it waited for; the message says why and shows the
    end of the console."""


class Machine:
    """One QEMU and its serial console: a reader thread collects the output (carriage returns
    dropped); callers type at the console and wait for patterns in what it printed after a
    mark, an offset into all the output so far (mark() is the current end).

      m = Machine.start(kernel, fsimg, cpus=3)    # or Machine(argv) for any command line
      m.expect(PROMPT, 60)                        # raises MachineError on timeout, panic, ...
      out, seconds, why = m.run("cowtest", 300)   # types a line, waits for the next prompt
      m.close()                                   # SIGTERM, then SIGKILL; m.kill(): SIGKILL now

    echo, if given, is called with every piece of output as it arrives (a log, verbose mode)."""

    def __init__(self, argv, echo=None):
        self.proc = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
        self.text = ""
        self.dropped = 0        # output discarded from the front when it exceeded OUTPUT_CAP
        self.flood = False
        self.eof = False
        self.echo = echo
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @classmethod
    def start(cls, kernel, fsimg, cpus=None, mem=None, qemu=None, bios=None, extra=(),
              echo=None):
        """Boots kernel on disk image fsimg (qemu_argv's arguments). A reset ends QEMU
        instead of rebooting: a kernel that resets is as finished as one that halts."""
        return cls(qemu_argv(kernel, fsimg, cpus, mem, qemu, bios, ["-no-reboot"] + list(extra)),
                   echo)

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            s = chunk.decode("utf-8", "replace").replace("\r", "")
            if self.echo:
                self.echo(s)
            with self.cond:
                self.text += s
                if len(self.text) > OUTPUT_CAP:
                    self.flood = True
                    cut = len(self.text) - OUTPUT_CAP // 2
                    self.dropped += cut
                    self.text = self.text[cut:]
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return self.dropped + len(self.text)

    def since(self, mark=0):
        with self.cond:
            return self.text[max(0, mark - self.dropped):]

    def wait_for(self, pattern, mark=0, timeout=BOOT_TIMEOUT, skip=None):
        """Waits until pattern (a compiled regular expression) matches the output after mark.
        Returns None, or why it did not: a kernel panic (the kernel's "panic: " outside the
        text skip, e.g. a file being printed), a flood of output, QEMU's exit, or the timeout."""
        deadline = time.monotonic() + timeout
        panic_seen = None
        scanned = 0             # offset into the text after mark searched up to last time
        with self.cond:
            while True:
                text = self.text[max(0, mark - self.dropped):]
                # Restart before the old end: a match may straddle two chunks, and a
                # pattern may span several lines (the ^P listing): 4 KiB back.
                if pattern.search(text, max(0, scanned - 4096)):
                    return None
                scanned = len(text)
                now = time.monotonic()
                if "panic: " in (text.replace(skip, "") if skip else text):
                    # Give the panic message a moment to finish, then stop waiting.
                    panic_seen = panic_seen or now
                    if now - panic_seen > 1.0:
                        return "kernel panic"
                else:
                    panic_seen = None       # it was part of skip, still being printed
                if self.flood:
                    return "console flooded with more than %d MiB of output" % (OUTPUT_CAP >> 20)
                if self.eof:
                    code = self.proc.poll()
                    return "QEMU exited%s" % ("" if code is None else " with status %d" % code)
                if now >= deadline:
                    return "timeout after %.0fs" % timeout
                self.cond.wait(min(0.5, deadline - now))

    def expect(self, pattern, timeout, mark=0):
        """wait_for, raising MachineError with the end of the console when it fails."""
        why = self.wait_for(pattern, mark, timeout)
        if why:
            raise MachineError("waiting for %r: %s; last console output:\n%s"
                               % (pattern.pattern, why, tail(self.since(mark))))

    def type(self, keys):
        """Sends keys to the console as they are. False if QEMU has stopped reading them."""
        try:
            self.proc.stdin.write(keys.encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def send(self, line):
        """Types line and Enter."""
        return self.type(line + "\n")

    def run(self, command, timeout, prompt=PROMPT):
        """Types command at the shell, which must be at its prompt, and waits for the next
        one. Returns (the output from the echo of command through the prompt, seconds it
        took, None or why it did not finish)."""
        mark = self.mark()
        start = time.monotonic()
        if not self.send(command):
            return "", 0.0, "QEMU stopped reading input"
        why = self.wait_for(prompt, mark, timeout)
        return self.since(mark), time.monotonic() - start, why

    def _stop(self, signals):
        end_group(self.proc, signals)
        self.reader.join(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def close(self):
        """Ends QEMU: SIGTERM, then SIGKILL if it lingers."""
        self._stop(((signal.SIGTERM, 2), (signal.SIGKILL, 5)))

    def kill(self):
        """Ends QEMU with SIGKILL at once: to the guest, a power cut at this instant."""
        self._stop(((signal.SIGKILL, 5),))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- Grading one tree --------------------------------------------------------------------------
class Budget:
    """The wall-clock time one submission may take (--time-budget), never scaled; None:
    no limit. Every wait is cut to what is left."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def cap(self, timeout):
        if self.end is None:
            return timeout
        return max(0.0, min(timeout, self.end - time.monotonic()))

    def over(self):
        return self.end is not None and time.monotonic() >= self.end

    def why(self):
        return "the time budget of %.0fs ran out" % self.seconds

    def explain(self, why):
        """why, or the budget's reason when a timeout happened because the budget ran out."""
        if why and why.startswith("timeout") and self.over():
            return self.why()
        return why


class GroupRun:
    """What one boot produced: per-command output, whole console, and what went wrong."""

    def __init__(self, name):
        self.name = name
        self.outputs = {}
        self.console = ""
        self.ran = False
        self.booted = False
        self.error = "did not run"
        self.elapsed = 0.0


def run_group(opts, tree, workdir, group, budget, echo):
    """Boots a fresh copy of the tree's fs.img and types the group's commands."""
    run = GroupRun(group)
    run.ran = True
    if budget.over():
        run.error = budget.why()
        return run
    start = time.monotonic()
    fsimg = os.path.join(workdir, "fs-%s.img" % group)
    shutil.copyfile(os.path.join(tree, "fs.img"), fsimg)
    con = Machine.start(os.path.join(tree, "kernel", "kernel"), fsimg, opts.cpus, opts.mem,
                        opts.qemu, echo=echo)
    try:
        why = budget.explain(con.wait_for(PROMPT, 0, budget.cap(BOOT_TIMEOUT * opts.timeout_scale)))
        if why:
            run.error = "no shell prompt: " + why
            return run
        run.booted = True
        run.error = ""
        for command, timeout in GROUPS[group]:
            out, _, why = con.run(command, budget.cap(timeout * opts.timeout_scale))
            run.outputs[command] = out
            if why:
                run.error = "'%s': %s" % (command, budget.explain(why))
                break
    finally:
        con.close()
        # Our own kill makes QEMU say so; that is not the kernel's output.
        run.console = re.sub(r"qemu-system-\w+: terminating on signal \d+[^\n]*\n?", "",
                             con.since(0))
        run.elapsed = time.monotonic() - start
        try:
            os.unlink(fsimg)
        except OSError:
            pass
    return run


class Result:
    def __init__(self, name, points, ok, reason, tail, elapsed):
        self.name, self.points, self.ok = name, points, ok
        self.reason, self.tail, self.elapsed = reason, tail, elapsed

    @property
    def score(self):
        return self.points if self.ok else 0

    def output(self):
        if self.ok:
            return ""
        text = self.reason
        if self.tail:
            text += "\nlast console lines:\n" + self.tail
        return text


def tail(text, n=TAIL_LINES):
    lines = text.rstrip("\n").splitlines()
    return "\n".join(lines[-n:])


class Report:
    """One submission's grading: results plus a printable log."""

    def __init__(self, name, live):
        self.name = name
        self.results = []
        self.note = ""
        self.lines = []
        self.live = live
        self.build_time = 0.0
        self.build_log = ""
        self.changed = []       # protected files the submission had changed (or removed)
        self.started = time.monotonic()
        self.elapsed = 0.0

    def write(self, s):
        if self.live:
            sys.stdout.write(s)
            sys.stdout.flush()
        else:
            self.lines.append(s)

    @property
    def score(self):
        return sum(r.score for r in self.results)

    @property
    def max_score(self):
        return sum(r.points for r in self.results)

    def add(self, result):
        self.results.append(result)
        self.write("%s: %s (%.1fs)\n" % (result.name, "OK" if result.ok else "FAIL",
                                         result.elapsed))
        if not result.ok:
            for line in result.output().splitlines():
                self.write("    " + line + "\n")
            if not self.note:
                self.note = "%s: %s" % (result.name, result.reason)

    def fail_all(self, tests, reason, log=""):
        """Every test failed for one reason (nothing could run)."""
        for t in tests:
            self.write("== Test %s == " % t.name)
            self.add(Result(t.name, t.points, False, reason, log, 0.0))

    def summary(self):
        """What the whole submission got, in a few lines (Gradescope's "output")."""
        lines = ["Score: %d/%d" % (self.score, self.max_score)]
        if self.changed:
            lines.append(changed_line(self.changed))
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def changed_line(changed):
    return ("protected files this submission changed (graded with the grader's copies "
            "instead): " + " ".join(changed))


def selected_tests(only):
    if not only:
        return TESTS
    names = {t.name for t in TESTS}
    unknown = [n for n in only if n not in names]
    if unknown:
        sys.exit("grade-cow: unknown test %s; tests are: %s"
                 % (", ".join(unknown), " ".join(t.name for t in TESTS)))
    return [t for t in TESTS if t.name in only]


def build(opts, tree, workdir, report, budget):
    """make kernel/kernel fs.img with the cowcheck program. Returns None or why it failed."""
    src = os.path.join(workdir, "cowcheck.c")
    with open(src, "w") as f:
        f.write(COWCHECK_C)
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(var, None)
    env["TOOLS_CHECKED"] = "1"      # the grader checks QEMU itself; never apt-get from here
    argv = ["make", "-C", tree, "-j%d" % opts.make_jobs, "kernel/kernel", "fs.img",
            "MEM=%d" % opts.mem, "EXTRA_PROGS=" + src]
    # >>> solution
    argv.append("COW=1")        # the staff tree's default, whatever the environment says
    # <<< solution
    log = os.path.join(workdir, "build.log")
    start = time.monotonic()
    limit = budget.cap(BUILD_TIMEOUT * opts.timeout_scale)
    with open(log, "wb") as out:
        proc = spawn(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                     env=env)
        try:
            proc.wait(timeout=limit)
            why = None if proc.returncode == 0 else "build failed (make exit %d)" % proc.returncode
        except subprocess.TimeoutExpired:
            why = budget.explain("timeout") if budget.over() else \
                "build timed out after %.0fs" % limit
        finally:
            end_group(proc)
    report.build_time = time.monotonic() - start
    if why is None:
        for f in ("kernel/kernel", "fs.img"):
            if not os.path.exists(os.path.join(tree, f)):
                why = "build produced no %s" % f
    if why:
        with open(log, "rb") as f:
            report.build_log = tail(f.read().decode("utf-8", "replace"))
    return why


def grade_tree(opts, tree, report, budget):
    """Builds and tests one tree (already where it should be built), filling report."""
    workdir = tempfile.mkdtemp(prefix="grade-cow-run-")
    tests = selected_tests(opts.only)
    try:
        why = build(opts, tree, workdir, report, budget)
        if why:
            if report.changed:
                why = "%s with the grader's copies of the protected files (this submission " \
                      "changed %s)" % (why, " ".join(report.changed))
            report.fail_all(tests, why, report.build_log)
            return
        runs = {g: GroupRun(g) for g in GROUP_ORDER}
        prefix = "" if report.live else "[%s] " % report.name

        def echo(s):
            sys.stderr.write("".join(prefix + line for line in s.splitlines(True)))
            sys.stderr.flush()

        for t in tests:
            report.write("== Test %s == " % t.name)
            for g in t.groups:
                if not runs[g].ran:
                    runs[g] = run_group(opts, tree, workdir, g, budget,
                                        echo if opts.verbose else None)
            elapsed = sum(runs[g].elapsed for g in t.groups)
            try:
                t.check(runs)
                report.add(Result(t.name, t.points, True, "", "", elapsed))
            except Fail as e:
                shown = e.group or t.groups[-1]
                report.add(Result(t.name, t.points, False, str(e), tail(runs[shown].console),
                                  elapsed))
        if copies_at_fork(runs):
            report.write(EAGER_NOTE + "\n")
            report.note = EAGER_NOTE[len("note: "):] + (
                "; first failure: " + report.note if report.note else "")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---- Submissions ------------------------------------------------------------------------------
def find_root(top):
    """The directory of an unpacked submission that holds its Makefile."""
    best = None
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        if "Makefile" in filenames and os.path.isdir(os.path.join(dirpath, "kernel")):
            depth = dirpath.count(os.sep)
            if best is None or depth < best[0]:
                best = (depth, dirpath)
    return best[1] if best else None


def safe_extract(tar, dest):
    """Extracts only regular files and directories that stay inside dest."""
    dest = os.path.realpath(dest)
    members = []
    for m in tar.getmembers():
        target = os.path.realpath(os.path.join(dest, m.name))
        if not (target == dest or target.startswith(dest + os.sep)):
            continue
        if m.isfile() or m.isdir():
            m.mode = (m.mode | 0o600) & 0o755
            members.append(m)
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, members=members, filter="data")
    else:
        tar.extractall(dest, members=members)


def submission_name(spec):
    name = os.path.basename(spec.rstrip("/")) or spec
    for ext in (".tar.gz", ".tgz", ".tar", ".git"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def unique_names(specs):
    """A name per submission for reports, CSV rows and JSON keys: the file or directory name,
    with as many parent directories as it takes to tell equal names apart."""
    names = [submission_name(s) for s in specs]
    parents = [os.path.dirname(os.path.abspath(s.rstrip("/"))) for s in specs]
    for _ in range(8):
        dup = {n for n in names if names.count(n) > 1}
        if not dup:
            break
        for i, n in enumerate(names):
            if n in dup and parents[i] not in ("/", ""):
                names[i] = os.path.basename(parents[i]) + "/" + n
                parents[i] = os.path.dirname(parents[i])
    seen = {}
    for i, n in enumerate(names):           # still equal (the same path twice): number them
        seen[n] = seen.get(n, 0) + 1
        if names.count(n) > 1:
            names[i] = "%s#%d" % (n, seen[n])
    return names


def fetch(spec, dest, timeout_scale=1.0):
    """Puts a copy of submission spec under dest, without build outputs; returns the tree to
    build, or raises Fail."""
    top = os.path.join(dest, "src")
    if re.match(r"^[\w+.-]+://|^git@", spec) or (spec.endswith(".git") and not os.path.isdir(spec)):
        try:
            r = subprocess.run(["git", "clone", "--quiet", "--depth", "1", spec, top],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=CLONE_TIMEOUT * timeout_scale)
        except subprocess.TimeoutExpired:
            raise Fail("git clone timed out")
        if r.returncode:
            raise Fail("git clone failed: " + tail(r.stdout.decode("utf-8", "replace"), 3))
    elif os.path.isdir(spec):
        copy_sources(spec, top)
    elif os.path.isfile(spec) and tarfile.is_tarfile(spec):
        os.mkdir(top)
        try:
            with tarfile.open(spec) as tar:
                safe_extract(tar, top)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise Fail("cannot unpack %s: %s" % (spec, e))
    elif os.path.exists(spec):
        raise Fail("not a directory, git repository or tar archive: %s" % spec)
    else:
        raise Fail("no such submission: %s" % spec)
    root = find_root(top)
    if root is None:
        raise Fail("no Makefile next to a kernel/ directory in the submission")
    remove_build_outputs(root)
    return root


def pristine_problem(pristine):
    """Why the grader's copies of the protected files cannot be used, or None."""
    missing = [rel for rel, _ in PROTECTED if not os.path.isfile(os.path.join(pristine, rel))]
    if missing:
        return ("the grader's copies of the protected files are missing in %s: %s; give "
                "--pristine DIR, a tree from the handout the submissions started from"
                % (pristine, " ".join(missing)))
    return None


def protect(tree, pristine):
    """Puts the grader's copies of the protected files over the submission's. Returns the
    ones the submission had changed, "(missing)" after those it did not have."""
    changed = []
    for rel, _ in PROTECTED:
        with open(os.path.join(pristine, rel), "rb") as f:
            want = f.read()
        dst = os.path.join(tree, rel)
        have = None
        if os.path.isfile(dst) and not os.path.islink(dst):
            with open(dst, "rb") as f:
                have = f.read()
        if have == want:
            continue
        changed.append(rel if os.path.lexists(dst) else rel + " (missing)")
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        elif os.path.lexists(dst):
            os.unlink(dst)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(want)
    return changed


def grade_submission(opts, spec, name, live):
    report = Report(name, live)
    report.write("==== %s ====\n" % report.name)
    budget = Budget(opts.time_budget)
    dest = tempfile.mkdtemp(prefix="grade-cow-sub-")
    try:
        try:
            tree = fetch(spec, dest, opts.timeout_scale)
            report.changed = protect(tree, opts.pristine)
        except (Fail, OSError, subprocess.SubprocessError) as e:
            report.fail_all(selected_tests(opts.only), str(e))
            return report
        if report.changed:
            report.write(changed_line(report.changed) + "\n")
        grade_tree(opts, tree, report, budget)
    except Exception as e:              # a grader bug must not stop the batch
        report.note = "grader error: %r" % e
        report.write("grader error: %r\n" % e)
        report.results = [Result(t.name, t.points, False, report.note, "", 0.0)
                          for t in selected_tests(opts.only)]
    finally:
        if opts.keep:
            report.write("kept %s\n" % dest)
        else:
            shutil.rmtree(dest, ignore_errors=True)
        report.elapsed = time.monotonic() - report.started
        report.write("Score: %d/%d\n" % (report.score, report.max_score))
    return report


# ---- Output formats --------------------------------------------------------------------------
def gradescope(report, visibility="visible"):
    """report in Gradescope's results.json format (as its specification says): the score,
    one entry per test, a summary for the student, and for staff in extra_data the protected
    files the submission changed."""
    return {
        "score": report.score,
        "execution_time": round(report.elapsed),
        "output": report.summary(),
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "extra_data": {"submission": report.name, "max_score": report.max_score,
                       "protected_changed": report.changed},
        "tests": [{"name": r.name, "score": r.score, "max_score": r.points,
                   "status": "passed" if r.ok else "failed", "output": r.output(),
                   "visibility": visibility}
                  for r in report.results],
    }


def write_json(path, reports, visibility="visible"):
    data = gradescope(reports[0], visibility) if len(reports) == 1 else \
        {"submissions": {r.name: gradescope(r, visibility) for r in reports}}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def write_csv(path, reports, tests):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["submission", "score", "max_score"] + [t.name for t in tests]
                   + ["protected_changed", "note"])
        for rep in reports:
            scores = {r.name: r.score for r in rep.results}
            w.writerow([rep.name, rep.score, rep.max_score]
                       + [scores.get(t.name, 0) for t in tests]
                       + [" ".join(rep.changed), rep.note])


def summary_table(reports):
    def changed(r):
        text = " ".join(r.changed) or "-"
        return text if len(text) <= 48 else "%d files (see the CSV)" % len(r.changed)
    width = max([len("submission")] + [len(r.name) for r in reports])
    cwidth = max([len("protected files changed")] + [len(changed(r)) for r in reports])
    lines = ["%-*s  %7s  %-*s  %s" % (width, "submission", "score", cwidth,
                                      "protected files changed", "note"),
             "%s  %s  %s  %s" % ("-" * width, "-" * 7, "-" * cwidth, "-" * 30)]
    for r in reports:
        lines.append("%-*s  %3d/%-3d  %-*s  %s" % (width, r.name, r.score, r.max_score, cwidth,
                                                   changed(r),
                                                   r.note[:100] if r.note else "full score"))
    return "\n".join(lines) + "\n"


def list_tables(pristine):
    lines = ["%-22s %6s  %s" % ("test", "points", "boots")]
    for t in TESTS:
        lines.append("%-22s %6d  %s" % (t.name, t.points, " ".join(t.groups)))
    lines += ["", "Protected files: the grader builds every submission with its own copies "
              "(from %s)" % pristine, "%-22s %s" % ("file", "why")]
    lines += ["%-22s %s" % row for row in PROTECTED + [COWCHECK_ROW]]
    return "\n".join(lines) + "\n"


def qemu_version_problem(qemu):
    """One line saying why this QEMU cannot run our kernel, or None."""
    try:
        out = subprocess.run([qemu, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             timeout=30).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError):
        return "%s not found (apt-get install qemu-system-misc)" % qemu
    m = re.search(r"version (\d+)\.(\d+)", out)
    if not m:
        return None
    have = (int(m.group(1)), int(m.group(2)))
    if have < QEMU_MIN:
        return "%s %d.%d is too old: need >= %d.%d (apt-get install qemu-system-misc)" % (
            (os.path.basename(qemu),) + have + QEMU_MIN)
    return None


# ---- make handin ------------------------------------------------------------------------------
def shown(path):
    """path as a person would like to read it: relative when under the current directory."""
    rel = os.path.relpath(path)
    return path if rel.startswith(os.pardir) else rel


def git_changes(tree, out):
    """How many paths git status shows as changed or untracked in tree (0 outside git)."""
    try:
        r = subprocess.run(["git", "-C", tree, "status", "--porcelain"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return 0
    if r.returncode:
        return 0
    lines = r.stdout.decode("utf-8", "replace").splitlines()
    mine = os.path.relpath(out, tree)
    return sum(1 for l in lines if l[3:].strip('"') != mine)


def handin(tree, out):
    """Packs tree's source files (no build outputs, no .git) into the .tar.gz out, under one
    top directory named like the tree: what grade-cow.py accepts as a submission."""
    out = os.path.abspath(out)
    changes = git_changes(tree, out)
    if changes:
        print("handin: warning: git status shows %d uncommitted change%s; the tarball has "
              "the files as they are on disk (commit if your course grades commits)"
              % (changes, "" if changes == 1 else "s"))
    files = [f for f in source_files(tree) if os.path.join(tree, f) != out]
    top = os.path.basename(os.path.abspath(tree))
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w:gz") as tar:
        for rel in files:
            tar.add(os.path.join(tree, rel), arcname=top + "/" + rel, recursive=False)
    os.replace(tmp, out)
    print("handin: wrote %s (%d files, %d KiB, no build outputs): hand in this file"
          % (shown(out), len(files), (os.path.getsize(out) + 1023) // 1024))
    return 0




def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Grade the copy-on-write fork lab: this tree, or the submissions named.")
    p.add_argument("submissions", nargs="*", metavar="SUBMISSION",
                   help="directory, git URL or .tar.gz to grade (default: this tree, in place)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="grade N submissions at once")
    p.add_argument("--cpus", type=int, default=setting("CPUS"),
                   help="harts QEMU emulates (default: CPUS, else %d)" % CPUS_DEFAULT)
    p.add_argument("--mem", type=int, default=setting("MEM"),
                   help="MiB of RAM, given to make and QEMU (default: MEM, else %d)" % MEM_DEFAULT)
    p.add_argument("--timeout-scale", type=float, default=1.0,
                   help="multiply every timeout by X (slow machines)")
    p.add_argument("--time-budget", type=float, default=None, metavar="S",
                   help="at most S seconds per submission, never scaled: what has not run "
                   "by then fails")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only this test (may be repeated)")
    p.add_argument("-v", "--verbose", action="store_true", help="echo the console")
    p.add_argument("--json", metavar="FILE", help="write Gradescope results JSON")
    p.add_argument("--csv", metavar="FILE", help="write one row per submission")
    p.add_argument("--qemu", default=setting("QEMU"),
                   help="QEMU binary (default: QEMU, else %s)" % QEMU_DEFAULT)
    p.add_argument("--pristine", default=HERE, metavar="DIR",
                   help="where the grader's copies of the protected files are (default: the "
                   "tree this script is in)")
    p.add_argument("--keep", action="store_true", help="keep submissions' build directories")
    p.add_argument("--list", action="store_true",
                   help="list the tests, their points and the protected files")
    p.add_argument("--visibility", default="visible",
                   choices=["visible", "hidden", "after_due_date", "after_published"],
                   help="Gradescope visibility of the --json results (default visible)")
    p.add_argument("--handin", metavar="FILE",
                   help="pack this tree without build outputs into FILE (.tar.gz) and exit")
    opts = p.parse_args(argv)
    if opts.jobs < 1 or opts.cpus < 1 or opts.timeout_scale <= 0 or opts.mem < 64 or \
            (opts.time_budget is not None and opts.time_budget <= 0):
        p.error("--jobs, --cpus, --timeout-scale and --time-budget must be positive, --mem "
                "at least 64")
    opts.pristine = os.path.abspath(opts.pristine)
    opts.make_jobs = max(1, (os.cpu_count() or 1) // opts.jobs)
    return opts


def grade_batch(opts):
    """Grades opts.submissions, opts.jobs at a time; returns the reports in order."""
    live = opts.jobs == 1
    lock = threading.Lock()

    def one(spec, name):
        rep = grade_submission(opts, spec, name, live)
        if not live:
            with lock:
                sys.stdout.write("".join(rep.lines))
                sys.stdout.flush()
        return rep

    names = unique_names(opts.submissions)
    with concurrent.futures.ThreadPoolExecutor(max_workers=opts.jobs) as pool:
        reports = list(pool.map(one, opts.submissions, names))
    sys.stdout.write("\n" + summary_table(reports))
    return reports


def main(argv):
    opts = parse_args(argv)
    tests = selected_tests(opts.only)
    if opts.list:
        sys.stdout.write(list_tables(opts.pristine))
        return 0
    if opts.handin:
        return handin(HERE, opts.handin)
    problem = qemu_version_problem(opts.qemu) or \
        (pristine_problem(opts.pristine) if opts.submissions else None)
    if problem:
        print(problem)
        return 2
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        if not opts.submissions:
            report = Report(os.path.basename(HERE), live=True)
            grade_tree(opts, HERE, report, Budget(opts.time_budget))
            report.elapsed = time.monotonic() - report.started
            report.write("Score: %d/%d\n" % (report.score, report.max_score))
            reports = [report]
        else:
            reports = grade_batch(opts)
    except KeyboardInterrupt:
        kill_all()
        return 130
    finally:
        kill_all()
    if opts.json:
        write_json(opts.json, reports, opts.visibility)
    if opts.csv:
        write_csv(opts.csv, reports, tests)
    full = all(r.score == r.max_score and r.results for r in reports)
    return 0 if full else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
