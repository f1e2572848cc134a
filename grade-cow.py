#!/usr/bin/env python3
"""Grades the copy-on-write fork lab: builds a tree, boots it in QEMU, runs the tests, scores them.

  ./grade-cow.py                      grade the tree this script sits in
  ./grade-cow.py SUB [SUB...]         grade submissions (directories, git URLs, .tar.gz files),
                                      each copied to and built in its own temporary directory
  options: --jobs N  --cpus N  --timeout-scale X  --only NAME  -v  --json FILE  --csv FILE

Python 3 standard library only. Every QEMU started here runs in its own process group and is
killed when its group of tests ends, on timeout, and when this script exits.
"""

import argparse
import concurrent.futures
import csv
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
QEMU_DEFAULT = "qemu-system-riscv64"
OPENSBI_FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
QEMU_MIN = (5, 0)           # virtio-mmio force-legacy=false (modern virtio-mmio) appeared in 5.0
# The shell's prompt: at the start of a line, or last thing printed by a program that did
# not end its output with a newline.
PROMPT = re.compile(r"(?:^|\n)\$ |\$ \Z")
TAIL_LINES = 20
OUTPUT_CAP = 8 << 20        # console bytes kept per boot; more means the kernel is spewing
BUILD_TIMEOUT = 900
BOOT_TIMEOUT = 60

# fork of a process that touched COWCHECK_MB MiB must allocate fewer than this many pages.
COWCHECK_MB = 32
COWCHECK_LIMIT = 256

# The checking program the grader ships; built with EXTRA_PROGS into the tree's fs.img.
COWCHECK_C = r"""
// cowcheck: shipped by grade-cow.py. Does fork share a big address space or copy it?
#include "kernel/types.h"
#include "kernel/memstat.h"
#include "user/user.h"

#define PAGE  4096
#define GROW  (%(mb)d * 1024 * 1024)

static void
fail(const char *what)
{
  printf("cowcheck: %%s failed\n", what);
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
  printf("cowcheck: touched %%d pages; fork allocated %%d pages; %%d mappings shared\n",
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
""" % {"mb": COWCHECK_MB}

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

# ---- QEMU processes --------------------------------------------------------------------------
_live = set()
_live_lock = threading.Lock()


def kill_group(proc):
    """Ends a process we started in its own session, and everything it started."""
    for sig, wait in ((signal.SIGTERM, 2), (signal.SIGKILL, 5)):
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
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        kill_group(proc)


def on_signal(signum, frame):
    kill_all()
    sys.exit(128 + signum)


class Console:
    """QEMU's serial console: a reader thread collects output; we wait for patterns in it."""

    def __init__(self, argv, echo=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        with _live_lock:
            _live.add(self.proc)
        self.text = ""
        self.dropped = 0
        self.flood = False
        self.cond = threading.Condition()
        self.eof = False
        self.echo = echo
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

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

    def since(self, mark):
        with self.cond:
            return self.text[max(0, mark - self.dropped):]

    def wait_for(self, pattern, mark, timeout):
        """Waits until pattern appears after mark. Returns None, or why it did not."""
        deadline = time.monotonic() + timeout
        panic_seen = None
        scanned = mark          # absolute offset up to which the text has been searched
        with self.cond:
            while True:
                # Rescan a little before the old end: a match may straddle two chunks.
                start = max(mark, scanned - 16, self.dropped)
                text = self.text[start - self.dropped:]
                scanned = self.dropped + len(self.text)
                m = pattern.search(text)
                if m and (start == mark or m.start() > 0 or m.group(0)[0] == "\n"):
                    return None
                now = time.monotonic()
                if panic_seen or "panic:" in text:
                    # Give the panic message a moment to finish, then stop waiting.
                    panic_seen = panic_seen or now
                    if now - panic_seen > 1.0:
                        return "kernel panic"
                if self.flood:
                    return "console flooded with more than %d MiB of output" % (OUTPUT_CAP >> 20)
                if self.eof:
                    code = self.proc.poll()
                    return "QEMU exited%s" % ("" if code is None else " with status %d" % code)
                if now >= deadline:
                    return "timeout after %.0fs" % timeout
                self.cond.wait(min(0.5, deadline - now))

    def send(self, line):
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def close(self):
        kill_group(self.proc)
        self.reader.join(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


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


def qemu_argv(opts, kernel, fsimg):
    bios = OPENSBI_FW if os.path.exists(OPENSBI_FW) else "default"
    return [opts.qemu, "-machine", "virt", "-bios", bios, "-kernel", kernel,
            "-m", "128M", "-smp", str(opts.cpus), "-nographic", "-no-reboot",
            "-global", "virtio-mmio.force-legacy=false",
            "-drive", "file=%s,if=none,format=raw,id=x0" % fsimg,
            "-device", "virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0"]


def run_group(opts, tree, workdir, group, echo):
    """Boots a fresh copy of the tree's fs.img and types the group's commands."""
    run = GroupRun(group)
    run.ran = True
    start = time.monotonic()
    fsimg = os.path.join(workdir, "fs-%s.img" % group)
    shutil.copyfile(os.path.join(tree, "fs.img"), fsimg)
    con = Console(qemu_argv(opts, os.path.join(tree, "kernel", "kernel"), fsimg), echo)
    try:
        why = con.wait_for(PROMPT, 0, BOOT_TIMEOUT * opts.timeout_scale)
        if why:
            run.error = "no shell prompt: " + why
            return run
        run.booted = True
        run.error = ""
        for command, timeout in GROUPS[group]:
            mark = con.mark()
            if not con.send(command):
                run.error = "QEMU stopped reading input"
                break
            why = con.wait_for(PROMPT, mark, timeout * opts.timeout_scale)
            out = con.since(mark)
            run.outputs[command] = out
            if why:
                run.error = "'%s': %s" % (command, why)
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


# ---- Results ------------------------------------------------------------------------------
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


def selected_tests(only):
    if not only:
        return TESTS
    names = {t.name for t in TESTS}
    unknown = [n for n in only if n not in names]
    if unknown:
        sys.exit("grade-cow: unknown test %s; tests are: %s"
                 % (", ".join(unknown), " ".join(t.name for t in TESTS)))
    return [t for t in TESTS if t.name in only]


def build(opts, tree, workdir, report):
    """make kernel/kernel fs.img with the cowcheck program. Returns None or why it failed."""
    src = os.path.join(workdir, "cowcheck.c")
    with open(src, "w") as f:
        f.write(COWCHECK_C)
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(var, None)
    env["TOOLS_CHECKED"] = "1"      # the grader checks QEMU itself; never apt-get from here
    argv = ["make", "-C", tree, "-j%d" % opts.make_jobs, "kernel/kernel", "fs.img",
            "COW=1", "EXTRA_PROGS=" + src]
    log = os.path.join(workdir, "build.log")
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        with _live_lock:
            _live.add(proc)
        try:
            proc.wait(timeout=BUILD_TIMEOUT * opts.timeout_scale)
            why = None if proc.returncode == 0 else "build failed (make exit %d)" % proc.returncode
        except subprocess.TimeoutExpired:
            why = "build timed out after %.0fs" % (BUILD_TIMEOUT * opts.timeout_scale)
        finally:
            kill_group(proc)
    report.build_time = time.monotonic() - start
    if why is None:
        for f in ("kernel/kernel", "fs.img"):
            if not os.path.exists(os.path.join(tree, f)):
                why = "build produced no %s" % f
    if why:
        with open(log, "rb") as f:
            report.build_log = tail(f.read().decode("utf-8", "replace"))
    return why


def grade_tree(opts, tree, report):
    """Builds and tests one tree (already where it should be built), filling report."""
    workdir = tempfile.mkdtemp(prefix="grade-cow-run-")
    tests = selected_tests(opts.only)
    try:
        why = build(opts, tree, workdir, report)
        if why:
            for t in tests:
                report.write("== Test %s == " % t.name)
                report.add(Result(t.name, t.points, False, why, report.build_log, 0.0))
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
                    runs[g] = run_group(opts, tree, workdir, g, echo if opts.verbose else None)
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
BUILD_OUTPUT = re.compile(r".*\.(o|d|asm|sym)$|^fs\.img$|^\.gdbinit$|^\.build-cow$|^\.extra-progs$")


def ignore_outputs(directory, names):
    """copytree filter: leaves out VCS data and anything a build produces."""
    skip = {".git"}
    base = os.path.basename(directory)
    for n in names:
        if BUILD_OUTPUT.match(n) or (base == "user" and n.startswith("_")):
            skip.add(n)
        if (base, n) in (("kernel", "kernel"), ("mkfs", "mkfs")):
            skip.add(n)
    return skip


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


def fetch(spec, dest):
    """Puts a copy of submission spec under dest; returns the tree to build, or raises Fail."""
    if re.match(r"^[\w+.-]+://|^git@", spec) or (spec.endswith(".git") and not os.path.isdir(spec)):
        r = subprocess.run(["git", "clone", "--quiet", "--depth", "1", spec,
                            os.path.join(dest, "src")], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        if r.returncode:
            raise Fail("git clone failed: " + tail(r.stdout.decode("utf-8", "replace"), 3))
        top = os.path.join(dest, "src")
    elif os.path.isdir(spec):
        top = os.path.join(dest, "src")
        shutil.copytree(spec, top, symlinks=True, ignore=ignore_outputs)
    elif os.path.isfile(spec) and tarfile.is_tarfile(spec):
        top = os.path.join(dest, "src")
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
    return root


def grade_submission(opts, spec, live):
    report = Report(submission_name(spec), live)
    report.write("==== %s ====\n" % report.name)
    dest = tempfile.mkdtemp(prefix="grade-cow-sub-")
    try:
        try:
            tree = fetch(spec, dest)
        except (Fail, OSError, subprocess.SubprocessError) as e:
            for t in selected_tests(opts.only):
                report.write("== Test %s == " % t.name)
                report.add(Result(t.name, t.points, False, str(e), "", 0.0))
            return report
        grade_tree(opts, tree, report)
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
        report.write("Score: %d/%d\n" % (report.score, report.max_score))
    return report


# ---- Output formats --------------------------------------------------------------------------
def gradescope(report):
    return {
        "score": report.score,
        "tests": [{"name": r.name, "score": r.score, "max_score": r.points,
                   "status": "passed" if r.ok else "failed", "output": r.output()}
                  for r in report.results],
    }


def write_json(path, reports):
    data = gradescope(reports[0]) if len(reports) == 1 else \
        {"submissions": {r.name: gradescope(r) for r in reports}}
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def write_csv(path, reports, tests):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["submission", "score", "max_score"] + [t.name for t in tests] + ["note"])
        for rep in reports:
            scores = {r.name: r.score for r in rep.results}
            w.writerow([rep.name, rep.score, rep.max_score]
                       + [scores.get(t.name, 0) for t in tests] + [rep.note])


def summary_table(reports):
    width = max([len("submission")] + [len(r.name) for r in reports])
    lines = ["%-*s  %7s  %s" % (width, "submission", "score", "note"),
             "%s  %s  %s" % ("-" * width, "-" * 7, "-" * 30)]
    for r in reports:
        lines.append("%-*s  %3d/%-3d  %s" % (width, r.name, r.score, r.max_score,
                                             r.note[:100] if r.note else "full score"))
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


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Grade the copy-on-write fork lab: this tree, or the submissions named.")
    p.add_argument("submissions", nargs="*", metavar="SUBMISSION",
                   help="directory, git URL or .tar.gz to grade (default: this tree, in place)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="grade N submissions at once")
    p.add_argument("--cpus", type=int, default=3, help="harts QEMU emulates (default 3)")
    p.add_argument("--timeout-scale", type=float, default=1.0,
                   help="multiply every timeout by X (slow machines)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only this test (may be repeated)")
    p.add_argument("-v", "--verbose", action="store_true", help="echo the console")
    p.add_argument("--json", metavar="FILE", help="write Gradescope results JSON")
    p.add_argument("--csv", metavar="FILE", help="write one row per submission")
    p.add_argument("--qemu", default=os.environ.get("QEMU", QEMU_DEFAULT),
                   help="QEMU binary (default qemu-system-riscv64)")
    p.add_argument("--keep", action="store_true", help="keep submissions' build directories")
    p.add_argument("--list", action="store_true", help="list the tests and their points")
    opts = p.parse_args(argv)
    if opts.jobs < 1 or opts.cpus < 1 or opts.timeout_scale <= 0:
        p.error("--jobs, --cpus and --timeout-scale must be positive")
    opts.make_jobs = max(1, (os.cpu_count() or 1) // opts.jobs)
    return opts


def main(argv):
    opts = parse_args(argv)
    tests = selected_tests(opts.only)
    if opts.list:
        for t in TESTS:
            print("%-20s %3d" % (t.name, t.points))
        return 0
    problem = qemu_version_problem(opts.qemu)
    if problem:
        print(problem)
        return 2
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        if not opts.submissions:
            report = Report(os.path.basename(HERE), live=True)
            grade_tree(opts, HERE, report)
            report.write("Score: %d/%d\n" % (report.score, report.max_score))
            reports = [report]
        else:
            live = opts.jobs == 1
            lock = threading.Lock()

            def one(spec):
                rep = grade_submission(opts, spec, live)
                if not live:
                    with lock:
                        sys.stdout.write("".join(rep.lines))
                        sys.stdout.flush()
                return rep

            with concurrent.futures.ThreadPoolExecutor(max_workers=opts.jobs) as pool:
                reports = list(pool.map(one, opts.submissions))
            sys.stdout.write("\n" + summary_table(reports))
    except KeyboardInterrupt:
        kill_all()
        return 130
    finally:
        kill_all()
    if opts.json:
        write_json(opts.json, reports)
    if opts.csv:
        write_csv(opts.csv, reports, tests)
    full = all(r.score == r.max_score and r.results for r in reports)
    return 0 if full else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
