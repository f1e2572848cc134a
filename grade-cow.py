#!/usr/bin/env python3
"""Grades the copy-on-write fork lab on one tree: builds it, boots it in QEMU three times,
runs the tests, scores them out of 100 and says why each failing test failed.

  ./grade-cow.py                      grade the tree this script sits in, in place (make grade)
  ./grade-cow.py --tree DIR           grade the tree DIR, in place
  ./grade-cow.py --tree DIR --fs-from C    ... with only its kernel: fs.img is built in C
  ./grade-cow.py --list               the tests, their points and the protected files
  ./grade-cow.py --handin FILE        pack this tree without build outputs (make handin)
  options: --cpus N  --mem MIB  --timeout-scale X  --time-budget S  --only NAME  -v
           --json FILE  --qemu PATH  --name NAME  --user UID

Every test runs under gradeexec, which prints the test's lines after a token new for each
run; the programs are in fs.img under random names; a result line without the token counts
for nothing.

Course staff grade a submission with this script too, in a copy that has their copies of the
protected files. The build and the QEMU driver are tools/xv6kit.py's: copy it along with this
file. Python 3 standard library only.
"""

import argparse
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(HERE, "tools"))
import xv6kit as kit  # noqa: E402

OWN_LINES = 12          # at most this many console lines are shown for one failing test

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
# The program every test runs under, shipped like cowcheck: it runs the test with its output
# on a pipe and prints each of the test's lines after this run's token, which the grader
# writes into its copy of the binary (over TOKEN_SLOT). A result line without the token did
# not come from the test.
GRADEEXEC_C = r"""
// gradeexec: shipped by grade-cow.py. gradeexec PROGRAM ARGS... runs PROGRAM with its
// output on a pipe and prints each line it writes after the token of this grading run
// ("TOKEN line"); when PROGRAM has ended, all of them again ("TOKEN.line"), at a quiet
// moment: a line printed while the test runs can be mixed with kernel messages.
#include "kernel/types.h"
#include "user/user.h"

#define LINE 200
#define KEEP 65536          // bytes of output kept to print again

static char token[] = "@TOKEN-SLOT-OF-24-CHARS@";  // the grader writes the token here
static char kept[KEEP];     // in .bss: allocated at exec, before the test measures memory
static int nkept;

// Prints the line at out + sizeof(token), n bytes, after the token and sep, in one write:
// never mixed with another process's line.
static void
emit(char *out, int n, char sep)
{
  memmove(out, token, sizeof(token) - 1);
  out[sizeof(token) - 1] = sep;
  out[sizeof(token) + n] = '\n';
  write(1, out, sizeof(token) + n + 1);
}

static void
line(char *out, int n)
{
  emit(out, n, ' ');
  if(nkept + n + 1 <= KEEP){
    memmove(kept + nkept, out + sizeof(token), n);
    kept[nkept + n] = '\n';
    nkept += n + 1;
  }
}

int
main(int argc, char *argv[])
{
  char out[sizeof(token) + LINE + 1], buf[128];
  int fds[2], n, len = 0;

  if(argc < 2 || pipe(fds) < 0){
    printf("gradeexec: usage: gradeexec PROGRAM ARGS...\n");
    exit(1);
  }
  if(fork() == 0){
    close(1);
    dup(fds[1]);
    close(2);
    dup(fds[1]);
    close(fds[0]);
    close(fds[1]);
    exec(argv[1], argv + 1);
    printf("gradeexec: exec %s failed\n", argv[1]);
    exit(1);
  }
  close(fds[1]);
  while((n = read(fds[0], buf, sizeof(buf))) > 0){
    for(int i = 0; i < n; i++){
      if(buf[i] != '\n' && len < LINE){
        out[sizeof(token) + len++] = buf[i];
        continue;
      }
      line(out, len);
      len = 0;
      if(buf[i] != '\n')
        out[sizeof(token) + len++] = buf[i];
    }
  }
  if(len > 0)
    line(out, len);
  wait(0);
  for(int at = 0; at < nkept; at += len + 1){
    for(len = 0; kept[at + len] != '\n'; len++)
      out[sizeof(token) + len] = kept[at + len];
    emit(out, len, '.');
  }
  exit(0);
}
"""
TOKEN_SLOT = b"@TOKEN-SLOT-OF-24-CHARS@"
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# A kernel line printed while a test's line is, on another hart, can be mixed into it; the
# token still counts spread over at most this many more characters. A kernel that does not
# know the token matches it by chance only with odds below 1e-9 a line (24 characters of 62).
MIX_SPAN = 200
# Programs put into each run's fs.img under names of its own, so a kernel cannot tell them
# by name (usertests stays at /usertests too: it runs itself by that path).
RENAMED = ["gradeexec", "cowtest", "usertests", "cowcheck", "cowstat"]
# Strings only the tests print: a kernel holding one may print the tests' lines itself.
SUSPECT = re.compile(rb"(?:ALL |COW )*TESTS PASSED|fork allocated \d+|[\w%]*: (?:ok|OK)\n")
COWCHECK_MB = int(re.search(r"#define GROW_MB\s+(\d+)", COWCHECK_C).group(1))
# fork of a process that touched COWCHECK_MB MiB must allocate fewer than this many pages.
COWCHECK_LIMIT = 256

# ---- Protected files -------------------------------------------------------------------------
# Everything that decides a grade besides the kernel. When course staff grade a submission,
# their copies of these replace the submission's before it is built, and the ones the
# submission had changed are reported. (path, why it is protected)
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
# cowtest's tests, each graded on its own; its leak check is part of no-leak.
COWTEST_NAMES = ["simple", "three", "file", "forkfork", "isolation", "textwrite",
                 "manyshare", "oom", "reuse", "onewrite", "nocopy", "race"]
# usertests' tests graded on their own (freepages and memfree: in no-leak); the usertests
# test is the rest.
USERTESTS_OWN = ["copyin", "copyout", "freepages", "memfree"]
# Verdict lines: cowtest prints "NAME: ok" or "NAME: FAILED (expected X, saw Y)", usertests
# "test NAME: OK" or "test NAME: FAILED", each after the test's own lines.
COWTEST_VERDICT = re.compile(r"(?<![\w-])(%s): (ok\b|FAILED.*)"
                             % "|".join(COWTEST_NAMES + ["leak"]))
USERTESTS_VERDICT = re.compile(r"\btest (\w+): (OK\b|FAILED.*)")


class Fail(Exception):
    """A test's verdict: failed, with this reason, and the console lines that show why."""

    def __init__(self, reason, lines=()):
        super().__init__(reason)
        self.lines = list(lines)


class Test:
    def __init__(self, name, points, groups, check):
        self.name, self.points, self.groups, self.check = name, points, groups, check


# ---- Reading a console: which lines are whose ---------------------------------------------
def kernel_lines(text):
    """The console's lines from the kernel's first on: OpenSBI's banner says nothing about
    the kernel and would be the same in every boot."""
    lines = text.rstrip("\n").splitlines()
    first = next((i for i, l in enumerate(lines) if "kernel is booting" in l), None)
    if first is None:       # a kernel that stopped before its first line: after the banner
        first = 1 + max([i for i, l in enumerate(lines) if l.startswith("Boot HART ")] or [-1])
    return [l for l in lines[first:] if l.strip() not in ("", "$")]


def capped(lines, n=OWN_LINES):
    """At most n of lines: the last ones, and the first panic line if that was cut."""
    if len(lines) <= n:
        return lines
    panic = [l for l in lines[:-n] if "panic: " in l][:1]
    return panic + ["..."] + lines[-(n - len(panic)):]


def spread_mark(mark, text):
    """The index in text of the last character of mark's characters found in order, each
    within MIX_SPAN characters of the first, or None."""
    for start in (i for i, c in enumerate(text) if c == mark[0]):
        at = start
        for c in mark[1:]:
            at = text.find(c, at + 1, start + len(mark) + MIX_SPAN)
            if at < 0:
                break
        else:
            return at
    return None


LIVE, AGAIN = 1, 2       # a test's line as it came, and printed again after the test ended


def from_test(run, lines):
    """(lines without the run's token, for each LIVE or AGAIN if it had it, 0 if not: the
    kernel's). A kernel message printed on another hart can break into a line as it is
    printed, a character here and there, and take the line break with it: the token counts
    spread over a line and the one before (not the test's), within MIX_SPAN characters."""
    out, kind = list(lines), [0] * len(lines)
    for i, line in enumerate(lines):
        prev = lines[i - 1] + "\n" if i and not kind[i - 1] else ""
        both = prev + line
        end = spread_mark(run.token, both)
        if end is not None and end >= len(prev) - 1 and both[end + 1:end + 2] in (" ", "."):
            out[i], kind[i] = both[end + 2:], LIVE if both[end + 1] == " " else AGAIN
    return out, kind


def test_output(texts, kind):
    """The test's output: as gradeexec printed it again when the test had ended, else (the
    test did not end) as it came."""
    again = [t for t, k in zip(texts, kind) if k == AGAIN]
    return "\n".join(again or [t for t, k in zip(texts, kind) if k == LIVE])


class Console:
    """One command's output, cut at the verdict lines the test printed (those with the run's
    token): a test's own lines run from after the previous verdict through its own; after
    the last verdict is where the run stopped. A test said to pass and to fail is failed."""

    def __init__(self, run, command, verdict):
        self.run, self.command = run, command
        self.out = run.outputs.get(command)
        lines = kernel_lines(self.out if self.out is not None else run.console)
        texts, kind = from_test(run, lines[1:] if self.out is not None else lines)
        self.out = self.out and test_output(texts, kind)
        self.lines = [t for t, k in zip(texts, kind) if k != AGAIN]    # each line once
        self.verdicts, kinds = {}, {}
        self.last = -1
        for i, (line, k) in enumerate((t, k) for t, k in zip(texts, kind) if k != AGAIN):
            m = verdict.search(line)
            if m:
                kinds.setdefault(m.group(1), set()).add(m.group(2).upper() == "OK")
            if m and k:
                self.verdicts[m.group(1)] = (i, self.last, m.group(2).strip())
                self.last = i
        for line in (t for t, k in zip(texts, kind) if k == AGAIN):   # these decide
            m = verdict.search(line)
            if m:
                kinds.setdefault(m.group(1), set()).add(m.group(2).upper() == "OK")
                i, prev, _ = self.verdicts.get(m.group(1), (len(self.lines) - 1, self.last, ""))
                self.verdicts[m.group(1)] = (i, prev, m.group(2).strip())
        for name in (n for n, k in kinds.items() if len(k) > 1 and n in self.verdicts):
            i, prev, _ = self.verdicts[name]
            self.verdicts[name] = (i, prev, "FAILED (its output says both ok and FAILED)")

    def said(self, name):
        """The test's verdict ("ok", "OK", "FAILED ...") or None if it printed none."""
        return self.verdicts[name][2] if name in self.verdicts else None

    def own(self, name):
        i, prev, _ = self.verdicts[name]
        return capped(self.lines[prev + 1:i + 1])

    def stopped(self):
        """(the lines after the last verdict, why the run stopped there): for a test whose
        verdict never came."""
        if self.out is None:
            why = self.run.error or "'%s' never ran" % self.command
        else:
            why = self.run.error or "it ended without it"
        return capped(self.lines[self.last + 1:], 15), why

    def require(self, name, says):
        """Fail unless test name printed its verdict, and that verdict is ok: the test's own
        lines, or where the run stopped if the verdict never came."""
        said = self.said(name)
        if said is None:
            lines, why = self.stopped()
            raise Fail("%s did not report %s (%s)" % (self.command.split()[0], name, why), lines)
        if said.upper() != "OK":    # the verdict line alone would only repeat the reason
            own = self.own(name)
            raise Fail(says + said, own if len(own) > 1 else [])


def cowtest(runs):
    return Console(runs["cowtest"], "cowtest", COWTEST_VERDICT)


def usertests(runs):
    return Console(runs["usertests"], "usertests -q", USERTESTS_VERDICT)


# ---- The checks --------------------------------------------------------------------------
def check_cowtest(name):
    return lambda runs: cowtest(runs).require(name, "cowtest says: %s: " % name)


def check_usertest(name):
    return lambda runs: usertests(runs).require(name, "usertests: test %s: " % name)


def check_usertests_rest(runs):
    """Every test usertests -q ran, but those graded on their own, passed; and it finished."""
    con = usertests(runs)
    failed = [n for n in con.verdicts if con.said(n) != "OK" and n not in USERTESTS_OWN]
    if failed:
        lines = []
        for n in failed[:3]:
            lines += capped(con.own(n), 6)
        if len(failed) > 3:
            lines.append("(%d more failed tests not shown)" % (len(failed) - 3))
        raise Fail("usertests failed: " + " ".join(failed), lines)
    if not re.search(r"ALL TESTS PASSED|SOME TESTS FAILED", con.out or ""):
        last = max(con.verdicts, key=lambda n: con.verdicts[n][0]) if con.verdicts else None
        lines, why = con.stopped()
        raise Fail("usertests did not finish (%s)%s" % (
            why, "; the last test it reported: " + last if last else ""), lines)


def check_no_leak(runs):
    """cowtest's leak check and usertests' freepages and memfree: every page back after a
    child's exit and after the whole run."""
    cowtest(runs).require("leak", "cowtest says: leak: ")
    usertests(runs).require("memfree", "usertests: test memfree: ")
    usertests(runs).require("freepages", "usertests: test freepages: ")


def check_no_panic(runs):
    panics, problems = {}, []       # panic line -> the boots that printed it
    for group in GROUP_ORDER:
        run = runs[group]
        m = re.search(r"panic:[^\n]*", run.console)
        if m:
            panics.setdefault(m.group(0).strip(), []).append(group)
        elif not run.booted:
            problems.append("%s: never reached the shell (%s)" % (group, run.error))
    problems += ["kernel panicked during %s: %s" % (", ".join(groups), line)
                 for line, groups in panics.items()]
    if problems:
        raise Fail("; ".join(problems))


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
    try:
        out = command_output(runs, "cowcheck", "cowcheck")[0]
    except Fail:
        return False
    m = re.search(r"touched (\d+) pages; fork allocated (-?\d+) pages", out)
    return bool(m) and int(m.group(2)) >= int(m.group(1))


def command_output(runs, group, command):
    """(a command's output, its lines without the typed one), or Fail if it never ran."""
    run = runs[group]
    out = run.outputs.get(command)
    if out is None:         # the boot's console only if no earlier command shows it
        raise Fail("'%s' never ran (%s)" % (command, run.error or "no reason"),
                   [] if run.booted else capped(kernel_lines(run.console), 15))
    texts, kind = from_test(run, kernel_lines(out)[1:])
    return test_output(texts, kind), [t for t, k in zip(texts, kind) if k != AGAIN]


def check_cowcheck(runs):
    out, lines = command_output(runs, "cowcheck", "cowcheck")
    because = " (%s)" % runs["cowcheck"].error if runs["cowcheck"].error else ""
    m = re.search(r"fork allocated (-?\d+) pages", out)
    if not m:
        bad = re.search(r"cowcheck: [^\n]*failed", out)
        if bad:
            raise Fail(bad.group(0), capped(lines))
        raise Fail("cowcheck did not report" + because, capped(lines))
    pages = int(m.group(1))
    if pages >= COWCHECK_LIMIT:
        raise Fail("fork of a %d MiB process allocated %d pages (limit %d): fork copies memory%s"
                   % (COWCHECK_MB, pages, COWCHECK_LIMIT,
                      EAGER_BUILD if copies_at_fork(runs) else ""))
    if "cowcheck: done" not in out:
        raise Fail("cowcheck did not finish after fork" + because, capped(lines))


def check_cowstat(runs):
    text, lines = command_output(runs, "cowcheck", "cowstat")
    if re.search(r"cowstat: .*failed", text):
        raise Fail("cowstat failed: " + text.splitlines()[0], capped(lines))
    if not (re.search(r"cow", text, re.I) and re.search(r"\d", text)):
        raise Fail("cowstat printed no counters (%s)" % (runs["cowcheck"].error or "ran"),
                   capped(lines))


# The point table (docs/lab-cow.md has it too): each mistake a kernel typically makes
# costs once. A leak fails no-leak only; usertests counts the tests not graded on their own.
TESTS = [Test("cowtest-" + n, 3, ["cowtest"], check_cowtest(n)) for n in COWTEST_NAMES] + [
    Test("fork-is-cow", 14, ["cowcheck"], check_cowcheck),
    Test("cowstat", 6, ["cowcheck"], check_cowstat),
    Test("usertests-copyin", 5, ["usertests"], check_usertest("copyin")),
    Test("usertests-copyout", 5, ["usertests"], check_usertest("copyout")),
    Test("usertests", 20, ["usertests"], check_usertests_rest),
    Test("no-leak", 8, ["cowtest", "usertests"], check_no_leak),
    Test("no-panic", 6, GROUP_ORDER, check_no_panic),
]


# ---- Grading one tree --------------------------------------------------------------------------
class Budget:
    """The wall-clock time one tree may take (--time-budget), never scaled; None: no limit.
    Every wait is cut to what is left."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def cap(self, timeout):
        if self.end is None:
            return timeout
        return max(0.0, min(timeout, self.end - time.monotonic()))

    def over(self):
        return self.end is not None and time.monotonic() >= self.end

    def explain(self, why):
        """why, or the budget's reason when a timeout happened because the budget ran out."""
        if why and why.startswith("timeout") and self.over():
            return "the time budget of %.0fs ran out" % self.seconds
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
        self.token = "-"


def random_name(taken):
    while True:
        name = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8))
        if name not in taken:
            return name


def run_image(home, workdir):
    """This run's fs.img, made with home's mkfs from its fs.img's programs (built in home):
    RENAMED under random names, gradeexec holding a new token. Returns (the image, {program:
    its name}, the token); raises Fail if home lacks a program."""
    fsroot = os.path.join(home, "fsroot")
    progs = sorted(os.listdir(fsroot)) if os.path.isdir(fsroot) else []
    names, token = {}, "".join(secrets.choice(TOKEN_CHARS) for _ in TOKEN_SLOT)
    files = [os.path.join(fsroot, p) for p in progs if p[1:] not in RENAMED[:2] + RENAMED[3:]]
    for prog in RENAMED:
        if "_" + prog not in progs:
            raise Fail("the build made no %s for fs.img (does the Makefile honour "
                       "EXTRA_PROGS?)" % os.path.join(fsroot, "_" + prog))
        names[prog] = random_name(set(names.values()) | {p[1:] for p in progs})
        with open(os.path.join(fsroot, "_" + prog), "rb") as f:
            data = f.read().replace(TOKEN_SLOT, token.encode())
        files.append(os.path.join(workdir, "_" + names[prog]))
        with open(files[-1], "wb") as f:
            f.write(data)
    image = os.path.join(workdir, "fs.img")
    r = subprocess.run([os.path.join(home, "mkfs", "mkfs"), image, os.path.join(home, "README")]
                       + files, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode:
        raise Fail("mkfs failed for this run's fs.img: " + kit.tail(r.stdout.decode(), 3))
    return image, names, token


def run_group(opts, tree, disk, group, budget, echo):
    """Boots a fresh copy of disk's fs.img (run_image()) and types the group's commands,
    each run by gradeexec, every program under its name in that image."""
    run = GroupRun(group)
    run.ran = True
    if budget.over():
        run.error = budget.explain("timeout")
        return run
    start = time.monotonic()
    image, names, run.token = disk
    fsimg = os.path.join(os.path.dirname(image), "fs-%s.img" % group)
    shutil.copyfile(image, fsimg)
    if opts.user is not None:
        os.chown(fsimg, opts.user, opts.user)
    con, why = kit.Machine.boot(tree, fsimg, budget.cap(kit.BOOT_TIMEOUT * opts.timeout_scale),
                                None, cpus=opts.cpus, mem=opts.mem, qemu=opts.qemu, echo=echo,
                                user=opts.user)
    try:
        if why:
            run.error = "no shell prompt: " + budget.explain(why)
            return run
        run.booted = True
        run.error = ""
        for command, timeout in GROUPS[group]:
            prog, _, args = command.partition(" ")
            out, _, why = con.run(" ".join([names["gradeexec"], names[prog], args]).rstrip(),
                                  budget.cap(timeout * opts.timeout_scale))
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
        os.unlink(fsimg)
    return run


class Result:
    def __init__(self, name, points, ok, reason="", lines=(), elapsed=0.0):
        self.name, self.points, self.ok = name, points, ok
        self.reason, self.lines, self.elapsed = reason, list(lines), elapsed

    @property
    def score(self):
        return self.points if self.ok else 0

    def output(self):
        return "\n".join([self.reason] + ["| " + l for l in self.lines]) if not self.ok else ""


class Report:
    """One tree's grading: the results and what is printed as they come. Console lines are
    printed once: a test whose lines were printed under an earlier test says so instead."""

    def __init__(self, name):
        self.name = name
        self.results = []
        self.note = self.suspect = ""
        self.shown = {}         # console lines printed -> the test they were printed under
        self.started = time.monotonic()

    @property
    def score(self):
        return sum(r.score for r in self.results)

    @property
    def max_score(self):
        return sum(r.points for r in self.results)

    def add(self, result):
        if result.lines:
            key = "\n".join(result.lines)
            if key in self.shown:
                result.lines = ["(the same console lines as under %s)" % self.shown[key]]
            else:
                self.shown[key] = result.name
        self.results.append(result)
        kit.say("%s: %s (%.1fs)" % (result.name, "OK" if result.ok else "FAIL", result.elapsed))
        for line in result.output().splitlines():
            kit.say("    " + line)
        if not result.ok and not self.note:
            self.note = "%s: %s" % (result.name, result.reason)

    def fail_all(self, tests, reason, lines=()):
        """Every test failed for one reason (nothing could run), shown under the first."""
        for i, t in enumerate(tests):
            sys.stdout.write("== Test %s == " % t.name)
            self.add(Result(t.name, t.points, False, reason, [] if i else lines))

    def as_json(self):
        return {"tree": self.name, "score": self.score, "max_score": self.max_score,
                "elapsed": round(time.monotonic() - self.started, 1), "note": self.note,
                "suspect": self.suspect,
                "tests": [{"name": r.name, "points": r.points, "score": r.score,
                           "status": "passed" if r.ok else "failed", "output": r.output(),
                           "elapsed": round(r.elapsed, 1)} for r in self.results]}


def selected_tests(only):
    if not only:
        return TESTS
    names = {t.name for t in TESTS}
    unknown = [n for n in only if n not in names]
    if unknown:
        sys.exit("grade-cow: unknown test %s; tests are: %s"
                 % (", ".join(unknown), " ".join(t.name for t in TESTS)))
    return [t for t in TESTS if t.name in only]


def locked(home):
    """home's lock file, held until it is closed: one grader at a time builds in home."""
    lock = open(os.path.join(home, ".grade-lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def build(opts, tree, workdir, budget):
    """make kernel/kernel fs.img with the grader's programs in tree; with --fs-from DIR, only
    the kernel in tree (as --user) and fs.img in DIR. Returns (None or why it failed, the end
    of the build log)."""
    settings = ["MEM=%d" % opts.mem]
    # >>> solution
    settings.append("COW=1")    # the staff tree's default, whatever the environment says
    # <<< solution
    steps = [(tree, ["kernel/kernel", "fs.img"])]
    if opts.fs_from:
        steps = [(opts.fs_from, ["fs.img"]), (tree, ["kernel/kernel"])]
    for where, targets in steps:
        home = where if where == opts.fs_from else workdir     # of cowcheck.c and the lock
        with locked(home):
            srcs = []
            for name, text in (("cowcheck.c", COWCHECK_C), ("gradeexec.c", GRADEEXEC_C)):
                srcs.append(os.path.join(home, name))
                with open(srcs[-1], "a+") as f:     # rewritten only if changed: make rebuilds less
                    f.seek(0)
                    if f.read() != text:
                        f.truncate(0)
                        f.write(text)
            log = os.path.join(workdir, "build.log")
            why, _ = kit.build(where, settings + ["EXTRA_PROGS=" + " ".join(srcs)], targets,
                               opts.make_jobs, log,
                               budget.cap(kit.BUILD_TIMEOUT * opts.timeout_scale),
                               opts.user if where == tree else None)
            if opts.user is not None and not kit.end_user(opts.user):
                why = "processes the build started as user %d could not be killed" % opts.user
        if why:
            with open(log, "rb") as f:
                return (budget.explain(why.replace("build timed out", "timeout")),
                        kit.tail(f.read().decode("utf-8", "replace")).splitlines())
    return None, []


def grade_tree(opts, tree, report, budget):
    """Builds and tests one tree in place, filling report."""
    workdir = tempfile.mkdtemp(prefix="grade-cow-run-")
    os.chmod(workdir, 0o711)    # QEMU as --user opens its disk here; nobody lists it
    tests = selected_tests(opts.only)
    try:
        start = time.monotonic()
        why, log = build(opts, tree, workdir, budget)
        kit.say("build: %s (%.0fs)" % (why or "OK", time.monotonic() - start))
        try:
            if why:
                raise Fail(why, log)
            with locked(opts.fs_from or workdir):
                disk = run_image(opts.fs_from or tree, workdir)
        except Fail as e:
            report.fail_all(tests, str(e), e.lines)
            return
        report.suspect = suspect_strings(tree)
        runs = {g: GroupRun(g) for g in GROUP_ORDER}
        prefix = "[%s] " % opts.name if opts.name else ""

        def echo(s):
            sys.stderr.write("".join(prefix + line for line in s.splitlines(True)))
            sys.stderr.flush()

        for t in tests:
            sys.stdout.write("== Test %s == " % t.name)
            sys.stdout.flush()
            for g in t.groups:
                if not runs[g].ran:
                    runs[g] = run_group(opts, tree, disk, g, budget,
                                        echo if opts.verbose else None)
            elapsed = sum(runs[g].elapsed for g in t.groups)
            try:
                t.check(runs)
                report.add(Result(t.name, t.points, True, elapsed=elapsed))
            except Fail as e:
                report.add(Result(t.name, t.points, False, str(e), e.lines, elapsed))
        if copies_at_fork(runs):
            kit.say(EAGER_NOTE)
            report.note = EAGER_NOTE[len("note: "):] + (
                "; first failure: " + report.note if report.note else "")
        if report.suspect:
            report.note = "SUSPECT: %s; %s" % (report.suspect, report.note or "full score")
    finally:
        if opts.user is not None:
            kit.end_user(opts.user)
        shutil.rmtree(workdir, ignore_errors=True)


def suspect_strings(tree):
    """Why the tree's kernel binary looks like one that prints the tests' lines, or ""."""
    path = os.path.join(tree, "kernel", "kernel")
    if not stat.S_ISREG(os.lstat(path).st_mode):     # a link, or a pipe to hold us up
        why = "kernel/kernel is not a regular file"
    else:
        with open(path, "rb") as f:
            found = sorted({m.group(0).decode("ascii").strip()
                            for m in SUSPECT.finditer(f.read())})
        why = found and "kernel/kernel holds the tests' result strings: " + " | ".join(found)
    if why:
        kit.say("SUSPECT: " + why)
    return why


# ---- --list and make handin --------------------------------------------------------------------
def list_tables():
    lines = ["%-22s %6s  %s" % ("test", "points", "boots")]
    for t in TESTS:
        lines.append("%-22s %6d  %s" % (t.name, t.points, " ".join(t.groups)))
    lines += ["", "Protected files: course staff grade every submission with their own copies",
              "%-22s %s" % ("file", "why")]
    lines += ["%-22s %s" % row for row in PROTECTED + [COWCHECK_ROW]]
    return "\n".join(lines) + "\n"


def git_changes(tree, out):
    """How many paths git status shows as changed or untracked in tree (0 outside git)."""
    r = subprocess.run(["git", "-C", tree, "status", "--porcelain"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if r.returncode:
        return 0
    lines = r.stdout.decode("utf-8", "replace").splitlines()
    mine = os.path.relpath(out, tree)
    return sum(1 for l in lines if l[3:].strip('"') != mine)


def handin(tree, out):
    """Packs tree's source files (no build outputs, no .git) into the .tar.gz out, under one
    top directory named like the tree: what the course's grading accepts as a submission."""
    out = os.path.abspath(out)
    changes = git_changes(tree, out)
    if changes:
        print("handin: warning: git status shows %d uncommitted change%s; the tarball has "
              "the files as they are on disk (commit if your course grades commits)"
              % (changes, "" if changes == 1 else "s"))
    files = [f for f in kit.source_files(tree) if os.path.join(tree, f) != out]
    top = os.path.basename(os.path.abspath(tree))
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w:gz") as tar:
        for rel in files:
            tar.add(os.path.join(tree, rel), arcname=top + "/" + rel, recursive=False)
    os.replace(tmp, out)
    print("handin: wrote %s (%d files, %d KiB, no build outputs): hand in this file"
          % (kit.shown(out), len(files), (os.path.getsize(out) + 1023) // 1024))
    return 0


def write_json(path, data):
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=2)
    os.replace(path + ".tmp", path)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Grade the copy-on-write fork lab on one tree.")
    p.add_argument("--tree", default=HERE, metavar="DIR",
                   help="the tree to grade, in place (default: the one this script is in)")
    p.add_argument("--cpus", type=int, default=kit.setting("CPUS"),
                   help="harts QEMU emulates (default: CPUS, else %d)" % kit.CPUS_DEFAULT)
    p.add_argument("--mem", type=int, default=kit.setting("MEM"),
                   help="MiB of RAM, given to make and QEMU (default: MEM, else %d)"
                   % kit.MEM_DEFAULT)
    p.add_argument("--timeout-scale", type=float, default=1.0,
                   help="multiply every timeout by X (slow machines)")
    p.add_argument("--time-budget", type=float, default=None, metavar="S",
                   help="at most S seconds in all, never scaled: what has not run by then fails")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only this test (may be repeated)")
    p.add_argument("-v", "--verbose", action="store_true", help="echo the console")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--qemu", default=kit.setting("QEMU"),
                   help="QEMU binary (default: QEMU, else %s)" % kit.QEMU_DEFAULT)
    p.add_argument("--name", default="", help="the tree's name in the report and before "
                   "echoed console lines")
    p.add_argument("--fs-from", metavar="DIR", help="build fs.img (the user programs, "
                   "mkfs, cowcheck) in DIR, a copy of the course's tree, and only the kernel "
                   "in the graded tree")
    p.add_argument("--user", type=int, metavar="UID", help="build the kernel and run QEMU as "
                   "this unprivileged user id, and kill its processes after each (root only)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="trees graded at once on this machine (the build uses cores / N)")
    p.add_argument("--list", action="store_true",
                   help="list the tests, their points and the protected files")
    p.add_argument("--handin", metavar="FILE",
                   help="pack this tree without build outputs into FILE (.tar.gz) and exit")
    opts = p.parse_args(argv)
    if opts.jobs < 1 or opts.cpus < 1 or opts.timeout_scale <= 0 or opts.mem < 64 or \
            (opts.time_budget is not None and opts.time_budget <= 0):
        p.error("--jobs, --cpus, --timeout-scale and --time-budget must be positive, --mem "
                "at least 64")
    opts.tree = os.path.abspath(opts.tree)
    opts.fs_from = opts.fs_from and os.path.abspath(opts.fs_from)
    opts.make_jobs = max(1, (os.cpu_count() or 1) // opts.jobs)
    return opts


def main(argv):
    opts = parse_args(argv)
    if opts.list and opts.json:         # the same, for other programs
        write_json(opts.json, {"tests": [{"name": t.name, "points": t.points} for t in TESTS],
                               "protected": [rel for rel, _ in PROTECTED]})
    if opts.list:
        sys.stdout.write(list_tables())
        return 0
    if opts.handin:
        return handin(HERE, opts.handin)
    tests = selected_tests(opts.only)
    problem = kit.qemu_version_problem(opts.qemu)
    if problem:
        print(problem)
        return 2
    kit.exit_on_signals()
    report = Report(opts.name or os.path.basename(opts.tree))
    try:
        grade_tree(opts, opts.tree, report, Budget(opts.time_budget))
    except KeyboardInterrupt:
        return 130
    finally:
        kit.kill_all()
    kit.say("Score: %d/%d" % (report.score, report.max_score))
    if opts.json:
        write_json(opts.json, report.as_json())
    return 0 if report.score == report.max_score and len(report.results) == len(tests) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
