#!/usr/bin/env python3
"""Grades the copy-on-write fork lab on one tree: builds it, boots it in QEMU three times,
runs the tests, scores them out of 100 and says why each failing test failed.

  ./grade-cow.py                      grade the tree this script sits in, in place (make grade)
  ./grade-cow.py --tree DIR           grade the tree DIR, in place
  ./grade-cow.py --tree DIR --fs-from C    ... with only its kernel: fs.img is built in C
  ./grade-cow.py --list               the tests, their points and the protected files
  ./grade-cow.py --handin FILE        pack this tree without build outputs (make handin)

Every test runs under gradeexec (below), which prints the test's lines after a token new for
each run; the programs are in fs.img under random names; a result line without the token
counts for nothing. Course staff grade with this script too, in a copy holding their copies
of the protected files. Needs tools/xv6kit.py beside it; Python 3 standard library only.
"""

import argparse
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import string
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import namedtuple

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(HERE, "tools"))
import xv6kit as kit  # noqa: E402

TOKEN_SLOT = b"@TOKEN-SLOT-OF-24-CHARS@"
TOKEN_CHARS = string.ascii_letters + string.digits
# A kernel line printed while a test's line is, on another hart, can be mixed into it; the
# token still counts spread over at most this many more characters. A kernel that does not
# know the token matches it by chance only with odds below 1e-9 a line (24 characters of 62).
MIX_SPAN = 200
# Programs put into each run's fs.img under names of its own, so a kernel cannot tell them
# by name (usertests stays at /usertests too: it runs itself by that path).
RENAMED = ["gradeexec", "cowtest", "usertests", "cowcheck", "cowstat"]
# Strings only the tests print: a kernel holding one may print the tests' lines itself.
SUSPECT = re.compile(rb"(?:ALL |COW )*TESTS PASSED|fork allocated \d+|[\w%]*: (?:ok|OK)\n")
with open(os.path.join(HERE, "tools", "cowcheck.c")) as f:
    COWCHECK_MB = int(re.search(r"#define GROW_MB\s+(\d+)", f.read()).group(1))
COWCHECK_LIMIT = 256    # pages a fork of the COWCHECK_MB MiB process must allocate fewer than
OWN_LINES = 12          # at most this many console lines are shown for one failing test

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
# The grader's own programs, built into fs.img with EXTRA_PROGS: always read from beside this
# script, never from the tree graded; --list shows them with the protected files.
OWN_PROGRAMS = [("tools/cowcheck.c", "the fork-is-cow check (the grader's own)"),
                ("tools/gradeexec.c", "runs each test, marks its lines (the grader's own)")]

# ---- What runs in each boot ------------------------------------------------------------------
# group -> [(shell command, base timeout in seconds)], in the order the groups boot. Each
# group gets a fresh copy of fs.img and its own QEMU.
GROUPS = {
    "cowtest": [("cowtest", 300)],
    "cowcheck": [("cowcheck", 90), ("cowstat", 30)],
    "usertests": [("usertests -q", 1200)],
}
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

Test = namedtuple("Test", "name points groups check")


class Fail(Exception):
    """A test's verdict: failed, with this reason, and the console lines that show why."""

    def __init__(self, reason, lines=()):
        super().__init__(reason)
        self.lines = list(lines)


# ---- Reading a console: which lines are whose ------------------------------------------------
def kernel_lines(text):
    """The console's lines from the kernel's first on (OpenSBI's banner says nothing)."""
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
    """The index in text of the last of mark's characters found in order, each within
    MIX_SPAN characters of the first, or None."""
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
    kernel's). A kernel message on another hart can break into a line as it is printed and
    take its line break: the token counts spread over a line and the one before (not the
    test's), within MIX_SPAN characters."""
    out, kind = list(lines), [0] * len(lines)
    for i, line in enumerate(lines):
        prev = lines[i - 1] + "\n" if i and not kind[i - 1] else ""
        both = prev + line
        end = spread_mark(run.token, both)
        if end is not None and end >= len(prev) - 1 and both[end + 1:end + 2] in (" ", "."):
            out[i], kind[i] = both[end + 2:], LIVE if both[end + 1] == " " else AGAIN
    return out, kind


class Console:
    """One command's output. out: the test's output, as gradeexec printed it again when the
    test had ended, else as it came (None if the command never ran); lines: each line once.
    With verdict, cut at the verdict lines the test printed: a test's own lines run from after
    the previous verdict through its own; after the last is where the run stopped. A verdict
    printed again decides; a test said to pass and to fail is failed."""

    def __init__(self, run, command, verdict=None, says=""):
        self.run, self.command, self.says = run, command, says
        self.out = run.outputs.get(command)
        lines = kernel_lines(self.out if self.out is not None else run.console)
        texts, kind = from_test(run, lines[1:] if self.out is not None else lines)
        again = [t for t, k in zip(texts, kind) if k == AGAIN]
        if self.out is not None:
            self.out = "\n".join(again or [t for t, k in zip(texts, kind) if k == LIVE])
        live = [(t, k) for t, k in zip(texts, kind) if k != AGAIN]
        self.lines = [t for t, _ in live]
        self.verdicts, self.last = {}, -1
        if verdict:
            self.cut(verdict, live, again)

    def cut(self, verdict, live, again):
        seen = {}       # test name -> {True for "ok", False for FAILED}, from every line
        for i, (line, k) in enumerate(live):
            m = verdict.search(line)
            if m:
                seen.setdefault(m.group(1), set()).add(m.group(2).upper() == "OK")
            if m and k:
                self.verdicts[m.group(1)] = (i, self.last, m.group(2).strip())
                self.last = i
        for line in again:      # these decide
            m = verdict.search(line)
            if m:
                seen.setdefault(m.group(1), set()).add(m.group(2).upper() == "OK")
                i, prev, _ = self.verdicts.get(m.group(1), (len(self.lines) - 1, self.last, ""))
                self.verdicts[m.group(1)] = (i, prev, m.group(2).strip())
        for name in (n for n, ok in seen.items() if len(ok) > 1 and n in self.verdicts):
            i, prev, _ = self.verdicts[name]
            self.verdicts[name] = (i, prev, "FAILED (its output says both ok and FAILED)")

    def said(self, name):
        """The test's verdict ("ok", "OK", "FAILED ...") or None if it printed none."""
        return self.verdicts[name][2] if name in self.verdicts else None

    def own(self, name):
        i, prev, _ = self.verdicts[name]
        return capped(self.lines[prev + 1:i + 1])

    def why_stopped(self):
        """Why a verdict never came: the run's error, else gradeexec's own complaint (it
        could not start the test or read its output), else that the test ended."""
        if self.run.error or self.out is None:
            return self.run.error or "'%s' never ran" % self.command
        complaint = re.search(r"^gradeexec: .*", self.out, re.M)
        return complaint.group(0) if complaint else "it ended without it"

    def stopped(self):
        """The lines after the last verdict: for a test whose verdict never came."""
        return capped(self.lines[self.last + 1:], 15)

    def require(self, name):
        """Fails unless test name's verdict came and is ok, showing the test's own lines, or
        where the run stopped if the verdict never came; says % name begins a failing one."""
        said = self.said(name)
        if said is None:
            raise Fail("%s did not report %s (%s)" % (self.command.split()[0], name,
                                                       self.why_stopped()), self.stopped())
        if said.upper() != "OK":    # the verdict line alone would only repeat the reason
            own = self.own(name)
            raise Fail(self.says % name + said, own if len(own) > 1 else [])


def command_output(runs, group, command):
    """(a command's output, its lines), or Fail if it never ran."""
    run = runs[group]
    con = Console(run, command)
    if con.out is None:     # the boot's console only if no earlier command shows it
        raise Fail("'%s' never ran (%s)" % (command, run.error or "no reason"),
                   [] if run.booted else capped(kernel_lines(run.console), 15))
    return con.out, con.lines


def cowtest(runs):
    return Console(runs["cowtest"], "cowtest", COWTEST_VERDICT, "cowtest says: %s: ")


def usertests(runs):
    return Console(runs["usertests"], "usertests -q", USERTESTS_VERDICT, "usertests: test %s: ")


# ---- The checks ------------------------------------------------------------------------------
def check_verdict(program, name):
    """The check that test name of program (cowtest or usertests) passed."""
    return lambda runs: program(runs).require(name)


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
        raise Fail("usertests did not finish (%s)%s" % (
            con.why_stopped(), "; the last test it reported: " + last if last else ""),
            con.stopped())


def check_no_leak(runs):
    """cowtest's leak check and usertests' freepages and memfree: every page back after a
    child's exit and after the whole run."""
    cowtest(runs).require("leak")
    usertests(runs).require("memfree")
    usertests(runs).require("freepages")


def check_no_panic(runs):
    panics, problems = {}, []       # panic line -> the boots that printed it
    for group in GROUPS:
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


def check_cowcheck(runs):
    out, lines = command_output(runs, "cowcheck", "cowcheck")
    because = " (%s)" % runs["cowcheck"].error if runs["cowcheck"].error else ""
    m = re.search(r"fork allocated (-?\d+) pages", out)
    if not m:
        bad = re.search(r"cowcheck: [^\n]*failed", out)
        raise Fail(bad.group(0) if bad else "cowcheck did not report" + because, capped(lines))
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
TESTS = [Test("cowtest-" + n, 3, ["cowtest"], check_verdict(cowtest, n))
         for n in COWTEST_NAMES] + [
    Test("fork-is-cow", 14, ["cowcheck"], check_cowcheck),
    Test("cowstat", 6, ["cowcheck"], check_cowstat),
    Test("usertests-copyin", 5, ["usertests"], check_verdict(usertests, "copyin")),
    Test("usertests-copyout", 5, ["usertests"], check_verdict(usertests, "copyout")),
    Test("usertests", 20, ["usertests"], check_usertests_rest),
    Test("no-leak", 8, ["cowtest", "usertests"], check_no_leak),
    Test("no-panic", 6, list(GROUPS), check_no_panic),
]


# ---- Booting and running the tests -----------------------------------------------------------
class Budget:
    """Timeouts: base seconds times --timeout-scale, cut to what is left of --time-budget
    (the wall-clock seconds one tree may take, never scaled; None: no limit)."""

    def __init__(self, seconds, scale):
        self.seconds, self.scale = seconds, scale
        self.end = None if seconds is None else time.monotonic() + seconds

    def left(self):
        return float("inf") if self.end is None else max(0.0, self.end - time.monotonic())

    def cap(self, base):
        return min(base * self.scale, self.left())

    def explain(self, why):
        """why, or the budget's reason when a timeout happened because the budget ran out."""
        if why and why.startswith("timeout") and self.left() == 0:
            return "the time budget of %.0fs ran out" % self.seconds
        return why


class GroupRun:
    """What one boot produced: per-command output, whole console, and what went wrong."""

    def __init__(self, ran=False):
        self.ran, self.booted = ran, False
        self.outputs = {}
        self.console = ""
        self.error = "did not run"
        self.token = "-"


def run_image(home, workdir):
    """This run's fs.img, made with home's mkfs from the programs home's build put in
    fsroot/: those in RENAMED under random names, gradeexec holding a new token. Returns
    (the image, {program: its name}, the token); raises Fail if home lacks a program."""
    fsroot = os.path.join(home, "fsroot")
    progs = sorted(os.listdir(fsroot)) if os.path.isdir(fsroot) else []
    token = "".join(secrets.choice(TOKEN_CHARS) for _ in TOKEN_SLOT)
    files = [os.path.join(fsroot, p) for p in progs if p[1:] not in RENAMED or p == "_usertests"]
    names, taken = {}, {p[1:] for p in progs}
    for prog in RENAMED:
        if "_" + prog not in progs:
            raise Fail("the build made no %s for fs.img (does the Makefile honour "
                       "EXTRA_PROGS?)" % os.path.join(fsroot, "_" + prog))
        while prog not in names or names[prog] in taken:
            names[prog] = "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
        taken.add(names[prog])
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
    run = GroupRun(ran=True)
    if budget.left() == 0:
        run.error = budget.explain("timeout")
        return run
    image, names, run.token = disk
    fsimg = os.path.join(os.path.dirname(image), "fs-%s.img" % group)
    shutil.copyfile(image, fsimg)
    if opts.user is not None:
        os.chown(fsimg, opts.user, opts.user)
    con, why = kit.Machine.boot(tree, fsimg, budget.cap(kit.BOOT_TIMEOUT), None, cpus=opts.cpus,
                                mem=opts.mem, qemu=opts.qemu, echo=echo, user=opts.user)
    try:
        if why:
            run.error = "no shell prompt: " + budget.explain(why)
            return run
        run.booted, run.error = True, ""
        for command, timeout in GROUPS[group]:
            prog, _, args = command.partition(" ")
            out, _, why = con.run(" ".join([names["gradeexec"], names[prog], args]).rstrip(),
                                  budget.cap(timeout))
            run.outputs[command] = out
            if why:
                run.error = "'%s': %s" % (command, budget.explain(why))
                break
    finally:
        con.close()
        # Our own kill makes QEMU say so; that is not the kernel's output.
        run.console = re.sub(r"qemu-system-\w+: terminating on signal \d+[^\n]*\n?", "",
                             con.since(0))
        os.unlink(fsimg)
    return run


# ---- Grading one tree ------------------------------------------------------------------------
class Report:
    """One tree's results (as in the JSON), printed as they come. Console lines are printed
    once: a test whose lines were printed under an earlier test says so instead."""

    def __init__(self, name):
        self.name, self.tests = name, []
        self.note = self.suspect = ""
        self.shown = {}         # console lines printed -> the test they were printed under
        self.started = time.monotonic()

    def add(self, test, fail=None, elapsed=0.0):
        """test passed, or failed with the Fail fail."""
        output = ""
        if fail:
            lines = fail.lines
            key = "\n".join(lines)
            if lines and key in self.shown:
                lines = ["(the same console lines as under %s)" % self.shown[key]]
            elif lines:
                self.shown[key] = test.name
            output = "\n".join([str(fail)] + ["| " + l for l in lines])
            self.note = self.note or "%s: %s" % (test.name, fail)
        self.tests.append({"name": test.name, "points": test.points,
                           "score": 0 if fail else test.points,
                           "status": "failed" if fail else "passed", "output": output,
                           "elapsed": round(elapsed, 1)})
        took = " (%.1fs)" % elapsed if elapsed else ""
        kit.say("%s: %s%s" % (test.name, "FAIL" if fail else "OK", took))
        for line in output.splitlines():
            kit.say("    " + line)

    def as_json(self):
        return {"tree": self.name, "score": sum(t["score"] for t in self.tests),
                "max_score": sum(t["points"] for t in self.tests),
                "elapsed": round(time.monotonic() - self.started, 1), "note": self.note,
                "suspect": self.suspect, "tests": self.tests}


def selected_tests(only):
    unknown = [n for n in only or [] if n not in [t.name for t in TESTS]]
    if unknown:
        sys.exit("grade-cow: unknown test %s; tests are: %s"
                 % (", ".join(unknown), " ".join(t.name for t in TESTS)))
    return [t for t in TESTS if not only or t.name in only]


def locked(home):
    """home's lock file, held until it is closed: one grader at a time builds in home."""
    lock = open(os.path.join(home, ".grade-lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def build(opts, tree, workdir, budget):
    """make kernel/kernel fs.img with the grader's programs in tree; with --fs-from DIR, only
    the kernel in tree (as --user) and fs.img in DIR. Returns None, or a Fail saying why the
    build failed, with the end of its log."""
    settings = ["MEM=%d" % opts.mem]
    # >>> solution
    settings.append("COW=1")    # the staff tree's default, whatever the environment says
    # <<< solution
    steps = [(tree, ["kernel/kernel", "fs.img"])]
    if opts.fs_from:
        steps = [(opts.fs_from, ["fs.img"]), (tree, ["kernel/kernel"])]
    log = os.path.join(workdir, "build.log")
    for where, targets in steps:
        home = where if where == opts.fs_from else workdir     # of cowcheck.c and the lock
        with locked(home):
            srcs = []
            for rel, _ in OWN_PROGRAMS:
                with open(os.path.join(HERE, rel)) as f:
                    text = f.read()
                srcs.append(os.path.join(home, os.path.basename(rel)))
                with open(srcs[-1], "a+") as f:     # rewritten only if changed: make rebuilds less
                    f.seek(0)
                    if f.read() != text:
                        f.truncate(0)
                        f.write(text)
            user = opts.user if where == tree else None
            why, _ = kit.build(where, settings + ["EXTRA_PROGS=" + " ".join(srcs)], targets,
                               opts.make_jobs, log, budget.cap(kit.BUILD_TIMEOUT), user)
            if opts.user is not None and not kit.end_user(opts.user):
                why = "processes the build started as user %d could not be killed" % opts.user
        if why:
            with open(log, "rb") as f:
                return Fail(budget.explain(why.replace("build timed out", "timeout")),
                            kit.tail(f.read().decode("utf-8", "replace")).splitlines())
    return None


def echo_to_stderr(prefix):
    """For -v: a function printing console output to stderr, each line after prefix."""
    def echo(s):
        sys.stderr.write("".join(prefix + line for line in s.splitlines(True)))
        sys.stderr.flush()
    return echo


def grade_tree(opts, tree, report, budget):
    """Builds and tests one tree in place, filling report."""
    workdir = tempfile.mkdtemp(prefix="grade-cow-run-")
    os.chmod(workdir, 0o711)    # QEMU as --user opens its disk here; nobody lists it
    tests = selected_tests(opts.only)
    echo = echo_to_stderr("[%s] " % opts.name if opts.name else "") if opts.verbose else None
    try:
        start = time.monotonic()
        failed = build(opts, tree, workdir, budget)
        kit.say("build: %s (%.0fs)" % (failed or "OK", time.monotonic() - start))
        try:
            if failed:
                raise failed
            with locked(opts.fs_from or workdir):
                disk = run_image(opts.fs_from or tree, workdir)
        except Fail as e:       # nothing can run: every test fails, the lines under the first
            for i, t in enumerate(tests):
                sys.stdout.write("== Test %s == " % t.name)
                report.add(t, Fail(str(e), [] if i else e.lines))
            return
        report.suspect = suspect_strings(tree)
        runs = {g: GroupRun() for g in GROUPS}
        for t in tests:
            sys.stdout.write("== Test %s == " % t.name)
            sys.stdout.flush()
            start, boots = time.monotonic(), [g for g in t.groups if not runs[g].ran]
            for g in boots:
                runs[g] = run_group(opts, tree, disk, g, budget, echo)
            elapsed = time.monotonic() - start if boots else 0.0   # a later test of a boot: 0
            try:
                t.check(runs)
                report.add(t, None, elapsed)
            except Fail as e:
                report.add(t, e, elapsed)
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


# ---- --list, make handin, the command line ---------------------------------------------------
def list_tables():
    lines = ["%-22s %6s  %s" % ("test", "points", "boots")]
    lines += ["%-22s %6d  %s" % (t.name, t.points, " ".join(t.groups)) for t in TESTS]
    lines += ["", "Protected files: course staff grade every submission with their own copies",
              "%-22s %s" % ("file", "why")]
    lines += ["%-22s %s" % row for row in PROTECTED + OWN_PROGRAMS]
    return "\n".join(lines) + "\n"


def handin(tree, out):
    """Packs tree's source files (no build outputs, no .git) into the .tar.gz out, under one
    top directory named like the tree: what the course's grading accepts as a submission."""
    out = os.path.abspath(out)
    git = subprocess.run(["git", "-C", tree, "status", "--porcelain"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    changed = [] if git.returncode else git.stdout.decode("utf-8", "replace").splitlines()
    changes = len([l for l in changed if l[3:].strip('"') != os.path.relpath(out, tree)])
    if changes:
        print("handin: warning: git status shows %d uncommitted change%s; the tarball has "
              "the files as they are on disk (commit if your course grades commits)"
              % (changes, "" if changes == 1 else "s"))
    files = [f for f in kit.source_files(tree) if os.path.join(tree, f) != out]
    top = os.path.basename(os.path.abspath(tree))
    with tarfile.open(out + ".tmp", "w:gz") as tar:
        for rel in files:
            tar.add(os.path.join(tree, rel), arcname=top + "/" + rel, recursive=False)
    os.replace(out + ".tmp", out)
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
                   help="MiB of RAM for make and QEMU (default: MEM, else %d)" % kit.MEM_DEFAULT)
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
    p.add_argument("--name", default="",
                   help="the tree's name in the report and before echoed console lines")
    p.add_argument("--fs-from", metavar="DIR", help="build fs.img (the user programs, mkfs, "
                   "cowcheck) in DIR, a copy of the course's tree, and only the kernel in --tree")
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
                               "protected": [rel for rel, _ in PROTECTED],
                               "own": [rel for rel, _ in OWN_PROGRAMS]})
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
        grade_tree(opts, opts.tree, report, Budget(opts.time_budget, opts.timeout_scale))
    except KeyboardInterrupt:
        return 130
    finally:
        kit.kill_all()
    result = report.as_json()
    kit.say("Score: %d/%d" % (result["score"], result["max_score"]))
    if opts.json:
        write_json(opts.json, result)
    return 0 if result["score"] == result["max_score"] and len(report.tests) == len(tests) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
