#!/usr/bin/env python3
"""`make check`: everything that can be tested on this machine, each check counted as one
result; docs/build-and-debug.md lists the parts in order. CHECK_FULL=1 (CI) adds the whole
usertests suite, grind, the grader at 8 harts and a build with each toolchain prefix.
Ends with exactly one line "N passed, N failed" (totals over everything run); exit 1 on any
failure. Every QEMU started here, directly or by the grader, is gone when it returns.

Environment: GRADEFLAGS adds options to the grader (e.g. "--timeout-scale 2")."""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

TESTS = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(TESTS)
GDB_TIMEOUT = 300       # building (if needed) plus booting to main under gdb

sys.path.insert(0, os.path.join(ROOT, "tools"))
import xv6kit as kit  # noqa: E402
from xv6kit import say, clean_env  # noqa: E402


def timeout_scale():
    """The --timeout-scale in GRADEFLAGS, for every timeout here too (1 if none)."""
    m = re.search(r"--timeout-scale[= ]\s*([0-9.]+)", os.environ.get("GRADEFLAGS", ""))
    return float(m.group(1)) if m else 1.0


def verdict(name, ok, what, lines=()):
    """Says how one check went: "NAME: OK (what)", or FAIL with what was expected and the
    lines that show what was seen. Returns (passed, failed) for this one check."""
    say("%s: %s (%s%s)" % (name, "OK" if ok else "FAIL", "" if ok else "expected: ", what))
    for line in [] if ok else lines:
        say("    " + line.rstrip())
    return (1, 0) if ok else (0, 1)


def total(results):
    """The sum of (passed, failed) pairs."""
    return tuple(map(sum, zip((0, 0), *results)))


def boot_and_run(tree, command, timeout, cpus=3):
    """Boots tree's kernel (built already) on a fresh copy of its fs.img, types command at
    the shell and ends QEMU. Returns (output, seconds, None or why the command did not
    finish). Timeouts are times timeout_scale()."""
    with tempfile.TemporaryDirectory(prefix="check-run-") as d:
        m, why = kit.Machine.boot(tree, os.path.join(d, "fs.img"),
                                  kit.BOOT_TIMEOUT * timeout_scale(), cpus=cpus)
        with m:
            if why:
                return m.since(0), 0.0, "no shell prompt: " + why
            return m.run(command, timeout * timeout_scale())


def run_on_copy(command, timeout, cpus=3):
    """Builds this tree, then boot_and_run() on it."""
    kit.build(ROOT, ["MEM=%d" % kit.setting("MEM")])
    return boot_and_run(ROOT, command, timeout, cpus)


def host_tests():
    """tests/test_*.py, one check per test."""
    say("==== host-side tests ====")
    suite = unittest.defaultTestLoader.discover(TESTS, pattern="test_*.py", top_level_dir=TESTS)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=1).run(suite)
    sys.stdout.flush()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    return result.testsRun - failed - len(result.skipped), failed


def grader(cpus):
    """./grade-cow.py on this tree at cpus harts, one check per grader test."""
    say("==== grade-cow.py --cpus %d ====" % cpus)
    fd, out = tempfile.mkstemp(prefix="check-grade-", suffix=".json")
    os.close(fd)
    try:
        argv = [sys.executable, os.path.join(ROOT, "grade-cow.py"),
                "--cpus", str(cpus), "--json", out]
        argv += shlex.split(os.environ.get("GRADEFLAGS", ""))
        code = subprocess.call(argv, cwd=ROOT, stdin=subprocess.DEVNULL, env=clean_env())
        try:
            with open(out) as f:
                tests = json.load(f)["tests"]
        except (OSError, ValueError, KeyError):
            say("grader at CPUS=%d produced no results (exit %d)" % (cpus, code))
            return 0, 1
        passed = sum(1 for t in tests if t["status"] == "passed")
        return passed, len(tests) - passed
    finally:
        os.unlink(out)


def shell_check(cpus, old_platform=False):
    """tests/shell_session.py at cpus harts, one check per step. old_platform: no Sstc (SBI
    timer) and QEMU's bundled OpenSBI."""
    import shell_session
    if old_platform:
        say("(CPU without Sstc: timer through SBI; firmware: -bios default)")
    return shell_session.run(cpus, timeout_scale(), say, old_platform)


MAIN_HIT = re.compile(r"Breakpoint 1, (?:0x[0-9a-f]+ in )?main \(")


def gdb_session(deadline, console):
    """Attaches gdb-multiarch to the halted kernel, breaks at main, continues; then, as the
    README tells students, loads user/_init's symbols and breaks in its main (a hardware
    breakpoint: the user address is not mapped while the kernel runs). console: the FIFO
    QEMU reads as the serial console's input, for typing at the shell.
    Returns (hit, output) once gdb connected, or (None, output) if it could not yet."""
    cmds = ["gdb-multiarch", "-q", "-batch", "-nx", "-x", ".gdbinit",
            "-ex", "break main", "-ex", "continue", "-ex", "bt 1"]
    # Without the file gdb would not stop again and the last continue would never end.
    if os.path.exists(os.path.join(ROOT, "user", "_init")):
        cmds += ["-ex", "delete", "-ex", "add-symbol-file user/_init",
                 "-ex", "hbreak init.c:main", "-ex", "continue", "-ex", "bt 1"]
        # >>> solution: the starter has no cow_fault
        # The fault path: init's next system call stops in usertrap; then a command typed
        # at the shell, whose fork is followed by COW faults (init's own fork at boot is
        # not: neither init nor its child writes memory before wait and exec). Typed only
        # now, when the kernel's UART is set up to receive it.
        cmds += ["-ex", "delete", "-ex", "break usertrap", "-ex", "continue", "-ex", "bt 1",
                 "-ex", "delete", "-ex", "break cow_fault",
                 "-ex", "shell printf 'echo gdb\\n' > '%s'" % console,
                 "-ex", "continue", "-ex", "bt 2", "-ex", "info args"]
        # <<< solution
    try:
        r = subprocess.run(cmds, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=max(5, deadline - time.monotonic()))
        out = r.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") + "\n(gdb timed out)"
        return bool(MAIN_HIT.search(out)), out
    if re.search(r"Connection refused|Connection timed out|not being run", out) and \
            "Breakpoint 1," not in out:
        return None, out
    return bool(MAIN_HIT.search(out)), out


def gdb_check():
    """`make qemu-gdb` plus a scripted gdb: must stop at the breakpoint in the kernel's main,
    then in user/init's main (the staff tree adds a test of the fault path, below). One
    check each."""
    say("==== gdb check: make qemu-gdb, gdb-multiarch -batch, break main ====")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tempfile.mkdtemp(prefix="check-gdb-home-")
    log = open(os.path.join(home, "qemu.log"), "w+")
    # QEMU's console input: a FIFO that gdb's `shell` writes to. Opened read-write here so
    # that it never reads as closed, and so that opening it does not wait for a writer.
    console = os.path.join(home, "console")
    os.mkfifo(console)
    console_fd = os.open(console, os.O_RDWR)
    # A private HOME: the safe-path line qemu-gdb adds for gdb lands there, not in ours.
    qemu = kit.spawn(["make", "-s", "qemu-gdb", "GDBPORT=%d" % port], cwd=ROOT,
                     stdin=console_fd, stdout=log, stderr=subprocess.STDOUT,
                     env=clean_env(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".c")))
    gdbinit = os.path.join(ROOT, ".gdbinit")
    deadline = time.monotonic() + GDB_TIMEOUT
    hit, out = None, ""
    try:
        while hit is None and time.monotonic() < deadline:
            if qemu.poll() is not None:
                out = "make qemu-gdb exited with status %d" % qemu.returncode
                break
            if not (os.path.exists(gdbinit) and ":%d" % port in open(gdbinit).read()):
                time.sleep(0.5)
                continue
            hit, out = gdb_session(deadline, console)
            if hit is None:
                time.sleep(1)
    finally:
        kit.end_group(qemu)
        os.close(console_fd)
        log.seek(0)
        qemu_log = log.read()
        log.close()
        shutil.rmtree(home, ignore_errors=True)
    if hit and not os.path.exists(os.path.join(ROOT, "user", "_init")):
        hit, out = False, "user/_init, the unstripped init gdb reads symbols from, does not exist"
    seen = out.rstrip().splitlines()[-20:]
    results = [verdict("gdb check", hit, "stopped at the breakpoint in main",
                       seen + ["-- make qemu-gdb said:"] + qemu_log.rstrip().splitlines()[-10:]),
               verdict("gdb user check", re.search(r"Breakpoint 2, main \(\) at user/init\.c", out),
                       "add-symbol-file user/_init; stopped in init's main", seen)]
    # >>> solution: the starter has no cow_fault
    # A breakpoint on usertrap stops in trap.c (not in an inlined riscv.h helper). Then gdb's
    # frame line "#0  cow_fault (pte=0x87f66050, va=40960) at kernel/cow.c:109" (an
    # argument may read va=va@entry=40960) and `info args` show every argument's value.
    frame = re.search(r"^#0 +cow_fault \((.*)\) at kernel/cow\.c:\d+$", out, re.M)
    shown = re.search(r"Breakpoint 3, usertrap \(\) at kernel/trap\.c:\d+", out) and \
        frame and "<optimized out>" not in frame.group(1) and "va=" in frame.group(1) and \
        re.search(r"^va = (?:0x[0-9a-f]+|[0-9]+)$", out, re.M)
    results.append(verdict(
        "gdb fault-path check", shown, "break usertrap stops in trap.c; a command typed at the "
        "shell forks, and in cow_fault bt and info args show its arguments", seen))
    # <<< solution
    return total(results)


# >>> solution: the handout round trip; tools/handout.py leaves this block out of the starter
# The starter's grade (./grade-cow.py --cpus 3): everything that needs no copy-on-write
# passes (cowtest three forkfork isolation textwrite, cowstat, usertests, no-leak,
# no-panic); these fail. The same at both levels (the levels differ in kalloc.c only).
HANDOUT_SCORE = 62
HANDOUT_FAILS = {"cowtest-simple", "cowtest-file", "cowtest-manyshare", "cowtest-oom",
                 "cowtest-reuse", "cowtest-onewrite", "cowtest-nocopy", "cowtest-race",
                 "fork-is-cow"}
# What must not appear anywhere in the starter (file names included): the COW code's
# names, the staff build switches (macros and make variables), the staff targets, tools and
# pages, and the handout markers (which contain "solution").
HANDOUT_TRACES = re.compile(r"COW_FORK|COW_AROUND|NO_PAGE_REFS|cowaround|COWBATCH|PTE_COW"
                            r"|\bcow_\w+|\bcow\.[co]\b|\bCOW="
                            r"|LOG_SYNC_COMMIT|TRAP_FULL_FLUSH|LOGCOMMIT|TRAPFLUSH|HANDOUT="
                            r"|\bbench\b|autograder|cow-design|performance\.md|grading\.md"
                            r"|forkbench\.svg|>>>|<<<|(?i:solution)")
# What the starter must contain, and the staff files it must not.
HANDOUT_NEEDS = ["Makefile", "README", "grade-cow.py", "user/cowtest.c", "user/cowstat.c",
                 "kernel/vm.c", "kernel/kalloc.c", "docs/lab-cow.md", "docs/build-and-debug.md"]
HANDOUT_STAFF = ["kernel/cow.c", "tools/handout.py", "tools/bench.py", "docs/cow-design.md",
                 "docs/performance.md", "docs/grading.md", "docs/forkbench.svg"]
# The README a student opens: short, and its first screen leads to the lab text, the code
# the lab changes and the gdb instructions.
README_LINES, README_SCREEN = 120, 40
README_FIRST_SCREEN = ["docs/lab-cow.md", "kernel/vm.c", "kernel/kalloc.c", "make qemu-gdb",
                       "docs/build-and-debug.md"]
# Links: Markdown [text](target) and, in any text, a path under docs/.
MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOCS_PATH = re.compile(r"(?<![\w/.-])docs/[\w.-]*\w")


def md_anchors(text):
    """The anchors of a Markdown page's headings, as GitHub makes them."""
    anchors = set()
    for line in text.splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def link_problems(tree, rel, text):
    """Links in the starter file rel (text) to a file or heading that is not in the starter."""
    targets = []
    if rel.endswith(".md"):
        for m in MD_LINK.finditer(text):
            t = m.group(1)
            if re.match(r"[a-z]+:", t):
                continue        # a URL
            path, _, anchor = t.partition("#")
            full = os.path.join(os.path.dirname(rel), path) if path else rel
            targets.append((t, os.path.normpath(full), anchor))
    targets += [(m.group(0), m.group(0), "") for m in DOCS_PATH.finditer(text)]
    problems = []
    for shown, path, anchor in targets:
        full = os.path.join(tree, path)
        if not os.path.exists(full):
            problems.append("%s: links to %s, which is not in the starter" % (rel, shown))
        elif anchor and path.endswith(".md"):
            with open(full, encoding="utf-8", errors="replace") as f:
                if anchor not in md_anchors(f.read()):
                    problems.append("%s: links to %s, a heading %s does not have"
                                    % (rel, shown, path))
    return problems


def handout_scan(tree):
    """Problems of a generated starter tree: traces of the COW code and of staff material,
    staff files, links to what is not shipped, missing files, a README that does not lead
    a student to the lab from its first screen."""
    problems, files = [], 0
    for d, dirs, names in os.walk(tree):
        for n in sorted(names):
            path = os.path.join(d, n)
            rel = os.path.relpath(path, tree)
            files += 1
            if HANDOUT_TRACES.search(rel):
                problems.append("%s: the name is a trace" % rel)
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            for i, line in enumerate(text.splitlines(), 1):
                if HANDOUT_TRACES.search(line):
                    problems.append("%s:%d: %s" % (rel, i, line.strip()[:100]))
            problems += link_problems(tree, rel, text)
    problems += ["%s is missing" % n for n in HANDOUT_NEEDS
                 if not os.path.isfile(os.path.join(tree, n))]
    problems += ["%s is staff-only but in the starter" % n for n in HANDOUT_STAFF
                 if os.path.exists(os.path.join(tree, n))]
    if os.path.isfile(os.path.join(tree, "README")):
        with open(os.path.join(tree, "README"), encoding="utf-8", errors="replace") as f:
            readme = f.read().splitlines()
        if len(readme) > README_LINES:
            problems.append("README has %d lines, more than %d" % (len(readme), README_LINES))
        screen = "\n".join(readme[:README_SCREEN])
        problems += ["README's first %d lines do not name %s" % (README_SCREEN, w)
                     for w in README_FIRST_SCREEN if w not in screen]
    if files < 50:
        problems.append("only %d files" % files)
    return problems


def handout_tarball_problems(tree, tarball):
    """Differences between the tree and the tarball written next to it."""
    import tarfile
    on_disk = {}
    for d, _, names in os.walk(tree):
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                on_disk[os.path.relpath(p, os.path.dirname(tree))] = f.read()
    with tarfile.open(tarball) as tar:
        packed = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    return ["%s differs or is missing" % n
            for n in sorted(set(on_disk) | set(packed)) if on_disk.get(n) != packed.get(n)]


def handout_check(level):
    """`make handout LEVEL=level` into a temporary directory, then on the starter: no trace
    of the COW code, a build without warnings, and a grade of exactly HANDOUT_SCORE with HANDOUT_FAILS
    failing and cowtest's first test failing because fork failed. Returns (passed, failed),
    one each for: generate, scan, build, grade."""
    say("==== handout: make handout LEVEL=%s, then scan, build and grade it ====" % level)
    out = tempfile.mkdtemp(prefix="check-handout-")
    tree = os.path.join(out, "xv6-cow-lab")
    passed = failed = 0

    def verdict(name, problems):
        nonlocal passed, failed
        if problems:
            failed += 1
            say("handout %s %s: FAIL" % (level, name))
            for p in problems[:20]:
                say("    " + p)
        else:
            passed += 1
            say("handout %s %s: OK" % (level, name))
        return not problems

    try:
        r = subprocess.run(["make", "-s", "handout", "HANDOUT=" + out, "LEVEL=" + level],
                           cwd=ROOT,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=clean_env())
        said = r.stdout.decode("utf-8", "replace").splitlines()
        tarball = tree + ".tar.gz"
        if r.returncode != 0 or not os.path.isdir(tree) or not os.path.isfile(tarball):
            verdict("generate", ["make handout exited %d" % r.returncode] + said[-10:])
            return passed, failed + 3        # nothing to scan, build or grade
        verdict("generate", handout_tarball_problems(tree, tarball))
        verdict("scan", handout_scan(tree))

        r = subprocess.run(["make", "-C", tree, "-j2", "kernel/kernel", "fs.img"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=clean_env(TOOLS_CHECKED="1"))
        log = r.stdout.decode("utf-8", "replace").splitlines()
        warnings = [l for l in log if "warning:" in l]
        if not verdict("build", (["make exited %d" % r.returncode] + log[-10:]
                                 if r.returncode else []) + warnings):
            return passed, failed + 1

        result = os.path.join(out, "grade.json")
        argv = [sys.executable, os.path.join(tree, "grade-cow.py"), "--cpus", "3",
                "--json", result] + shlex.split(os.environ.get("GRADEFLAGS", ""))
        # The expected failures would fill the screen: keep the grader's report unless needed.
        g = subprocess.run(argv, cwd=tree, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=clean_env())
        graded = g.stdout.decode("utf-8", "replace").splitlines()
        try:
            with open(result) as f:
                report = json.load(f)
            tests = {t["name"]: t for t in report["tests"]}
        except (OSError, ValueError, KeyError):
            verdict("grade", ["the grader wrote no results"] + graded[-10:])
            return passed, failed
        fails = {n for n, t in tests.items() if t["status"] != "passed"}
        problems = []
        if report["score"] != HANDOUT_SCORE:
            problems.append("score %s, expected %d" % (report["score"], HANDOUT_SCORE))
        if fails != HANDOUT_FAILS:
            problems.append("failed: %s; expected: %s"
                            % (" ".join(sorted(fails)), " ".join(sorted(HANDOUT_FAILS))))
        simple = tests.get("cowtest-simple", {}).get("output", "")
        if "simple: FAILED (expected fork to succeed" not in simple:
            problems.append("cowtest-simple did not fail because fork failed: "
                            + simple.split("\n")[0])
        say("handout %s grade: %s/100 (expected %d)" % (level, report["score"], HANDOUT_SCORE))
        if problems:        # the grader's verdicts, without the console tails
            problems += [l for l in graded if re.match(r"== Test .*: (OK|FAIL)|Score", l)]
        verdict("grade", problems)
        return passed, failed
    finally:
        subprocess.call(["rm", "-rf", out])
# <<< solution


def perf_checks():
    """The fast paths still correct: `sysbench -q` on this tree's image (its own byte and
    status checks; its timings are printed, never judged), one check, and
    tools/crashtest.py bounded to three iterations, one check per crash case."""
    say("==== sysbench -q and tools/crashtest.py ====")
    out, _, why = run_on_copy("sysbench -q", 180)
    lines = [l for l in out.splitlines() if not l.startswith("sysbench,")] + [why or ""]
    result = verdict("sysbench -q", why is None and "sysbench: OK" in out, "sysbench: OK", lines)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "crashtest.py"),
                        "--iters", "3", "--rounds", "1",
                        "--timeout-scale", str(2 * timeout_scale())],
                       cwd=ROOT, stdin=subprocess.DEVNULL, env=clean_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode("utf-8", "replace")
    sys.stdout.write(out)
    cases = re.findall(r"^crashtest: case \S+: (OK|FAIL)", out, re.M)
    crashed = r.returncode != 0 and "FAIL" not in cases      # died without a verdict
    return total([result, (cases.count("OK"), cases.count("FAIL") + crashed)])


# >>> solution: tools/bench.py, which this uses, is not in the starter
def forkbench_check():
    """`forkbench -q` boots, runs and prints every row (sizes 0 and 1 MiB), each with
    all its fields and no failed fork; one check. Its timings are printed, never judged."""
    say("==== forkbench -q (prints its rows; timings not checked) ====")
    import bench
    out, _, why = run_on_copy("forkbench -q", 300, cpus=1)
    rows = bench.parse_forkbench(out)
    problems = [why] if why else []
    for size in (0, 1):
        if size not in rows:
            problems.append("no complete 'forkbench,%d,...' line" % size)
        elif min(rows[size][k] for k in ("fork_us", "forkwrite_us", "pages", "reuse_us")) < 0:
            problems.append("a fork failed at %d MiB" % size)
    if "forkbench: done" not in out:
        problems.append("no 'forkbench: done'")
    for line in out.splitlines():
        say("    " + line.rstrip())
    return verdict("forkbench -q", not problems, "every row, 'forkbench: done'", problems)
# <<< solution


def cowdemo_check():
    """`cowdemo` (user/cowdemo.c) checks its own story step by step and ends with one line
    "cowdemo: OK: ..." or "cowdemo: FAIL". Run on this tree's kernel; the staff tree also
    requires the copy-on-write story there, and runs it again on an eager kernel built in
    a scratch copy, which must tell the eager story. One check a kernel."""
    say("==== cowdemo: copy-on-write, one page at a time ====")
    kit.build(ROOT, ["MEM=%d" % kit.setting("MEM")])
    runs = [("this kernel", ROOT, "cowdemo: OK")]
    scratch = tempfile.mkdtemp(prefix="check-cowdemo-eager-")
    # >>> solution: the default kernel shares; COW=0 builds the eager one (the starter's)
    runs = [("the COW kernel", ROOT, "cowdemo: OK: fork shared")]
    kit.copy_sources(ROOT, scratch)
    why, out = kit.build(scratch, ["COW=0", "MEM=%d" % kit.setting("MEM")])
    if why:
        say("building the eager kernel (make COW=0): %s:\n%s" % (why, kit.tail(out, 10)))
    runs.append(("the eager kernel (make COW=0)", scratch,
                 "cowdemo: OK: this kernel's fork is eager"))
    # <<< solution
    results = []
    try:
        for name, tree, want in runs:
            out, _, why = boot_and_run(tree, "cowdemo", 120)
            lines = out.replace("\r", "").splitlines() + ["(no more output: %s)" % why] * bool(why)
            said = [l.strip() for l in lines if l.startswith(want)]
            ok = bool(said) and "panic" not in out
            results.append(verdict("cowdemo on " + name, ok, said[0] if ok else
                                   "a line starting '%s'; its output:" % want, lines[-40:]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return total(results)


# >>> solution: make autograder is staff-only
# The autograder's end-to-end cases: the grader's tests each runs, and what the starter
# scores on them (the points of those not in HANDOUT_FAILS).
AUTOGRADER_ONLY = ["cowtest-simple", "cowtest-three", "cowtest-oom", "fork-is-cow", "cowstat"]
# A cowtest that tests nothing and says every test passed: the tamper case's user/cowtest.c.
FAKE_COWTEST = """// Prints what a passing cowtest prints, without testing anything.
#include "kernel/types.h"
#include "user/user.h"

int
main(void)
{
  static char *names[] = { %s };
  for(int i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    printf("%%s: ok\\n", names[i]);
  printf("ALL COW TESTS PASSED\\n");
  exit(0);
}
"""
HANG_BUDGET = 25        # seconds (times --timeout-scale) for the hang case


def unzip_bundle(bundle, source):
    """Unpacks autograder.zip as Gradescope does, keeping the files' modes."""
    import zipfile
    with zipfile.ZipFile(bundle) as z:
        z.extractall(source)
        for info in z.infolist():
            os.chmod(os.path.join(source, info.filename), info.external_attr >> 16 & 0o777)
        return set(z.namelist())


def run_bundle(source, submission, args, limit):
    """A fresh stand-in /autograder: the bundle in source/, run_autograder copied to the top
    (as Gradescope's image build does), submission (a tree or an archive) in submission/.
    Runs run_autograder there. Returns (results.json's data or None, seconds, its output)."""
    import shutil
    import autograder
    root = os.path.join(tempfile.mkdtemp(prefix="check-autograder-"), "autograder")
    try:
        autograder.stand_in_root(root, submission, source)
        start = time.monotonic()
        try:
            r = subprocess.run([os.path.join(root, "run_autograder")] + args, cwd=root,
                               env=clean_env(AUTOGRADER_ROOT=root), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=limit)
            out = r.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode("utf-8", "replace") + "\n(run_autograder timed out)"
        elapsed = time.monotonic() - start
        try:
            with open(os.path.join(root, "results", "results.json")) as f:
                return json.load(f), elapsed, out
        except (OSError, ValueError):
            return None, elapsed, out
    finally:
        shutil.rmtree(os.path.dirname(root), ignore_errors=True)


def results_problems(data, score, changed):
    """What is wrong with a results.json: Gradescope's fields, the score, the changed list."""
    if data is None:
        return ["no results.json"]
    problems = ["no %s" % k for k in ("score", "execution_time", "output", "visibility", "tests")
                if k not in data]
    for t in data.get("tests", []):
        missing = {"name", "score", "max_score", "status", "output", "visibility"} - set(t)
        if missing:
            problems.append("test %s has no %s" % (t.get("name"), " ".join(sorted(missing))))
    if data.get("score") != score:
        problems.append("score %s, expected %s; failed: %s" % (
            data.get("score"), score, "; ".join(
                "%s (%s)" % (t.get("name"), t.get("output", "").split("\n")[0])
                for t in data.get("tests", []) if t.get("status") != "passed") or "none"))
    got = data.get("extra_data", {}).get("protected_changed")
    if got != changed:
        problems.append("protected files changed: %s, expected %s" % (got, changed))
    return problems


def autograder_check():
    """make autograder, then the bundle end to end on a stand-in /autograder, as Gradescope
    runs it (AUTOGRADER_ROOT). Returns (passed, failed), one each for:
      bundle   the zip: setup.sh and run_autograder at its top, executable
      full     this tree packed by make handin: the whole grade, 100, nothing changed
      starter  make handout's tree (AUTOGRADER_ONLY): the starter's points on those
      tamper   the starter with a cowtest that only prints "ok": the same points, and
               user/cowtest.c listed as changed
      hang     the starter with a kernel that never reaches the shell: a results.json all
               the same, within the time budget"""
    import shutil
    say("==== autograder: make autograder, run_autograder on a stand-in /autograder ====")
    import autograder
    scale = timeout_scale()
    flags = shlex.split(os.environ.get("GRADEFLAGS", ""))
    only = [a for t in AUTOGRADER_ONLY for a in ("--only", t)]
    points = {t["name"]: t["points"] for t in autograder.listing()["tests"]}
    starter_score = sum(points[t] for t in AUTOGRADER_ONLY if t not in HANDOUT_FAILS)
    work = tempfile.mkdtemp(prefix="check-autograder-")
    passed = failed = 0

    def verdict(name, problems, out=""):
        nonlocal passed, failed
        say("autograder %s: %s" % (name, "FAIL" if problems else "OK"))
        for p in problems[:10]:
            say("    " + p)
        if problems and out:
            for line in out.splitlines()[-15:]:
                say("    | " + line)
        passed += not problems
        failed += bool(problems)

    def make(*args):
        r = subprocess.run(["make", "-s"] + list(args), cwd=ROOT, env=clean_env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    try:
        bundle = os.path.join(work, "autograder.zip")
        code, out = make("autograder", "AUTOGRADER_ZIP=" + bundle)
        source = os.path.join(work, "source")
        names = unzip_bundle(bundle, source) if code == 0 and os.path.isfile(bundle) else set()
        problems = [] if names else ["make autograder exited %d" % code]
        for top in ("setup.sh", "run_autograder"):
            if names and not os.access(os.path.join(source, top), os.X_OK):
                problems.append("%s is not at the top of the zip, executable" % top)
        verdict("bundle", problems, out)
        if problems:
            return passed, failed + 4

        tarball = os.path.join(work, "handin.tar.gz")
        code, out = make("handin", "HANDIN=" + tarball)
        data, secs, out = run_bundle(source, tarball, flags, 900 * scale) if code == 0 else \
            (None, 0, out)
        verdict("full (make handin's tarball, every test; %.0fs)" % secs,
                results_problems(data, 100, []), out)

        code, out = make("handout", "HANDOUT=" + os.path.join(work, "handout"))
        starter = os.path.join(work, "handout", "xv6-cow-lab")
        if code or not os.path.isdir(starter):
            verdict("starter", ["make handout exited %d" % code], out)
            return passed, failed + 2
        data, secs, out = run_bundle(source, starter, flags + only, 600 * scale)
        verdict("starter (%s; %.0fs)" % (" ".join(AUTOGRADER_ONLY), secs),
                results_problems(data, starter_score, []), out)

        tampered = os.path.join(work, "tampered")
        shutil.copytree(starter, tampered)
        with open(os.path.join(tampered, "user", "cowtest.c"), "w") as f:
            names = [n[len("cowtest-"):] for n in points if n.startswith("cowtest-")]
            f.write(FAKE_COWTEST % ", ".join('"%s"' % n for n in names + ["leak"]))
        data, secs, out = run_bundle(source, tampered, flags + only, 600 * scale)
        verdict("tamper (cowtest prints ok; %.0fs)" % secs,
                results_problems(data, starter_score, ["user/cowtest.c"]), out)

        hang = os.path.join(work, "hang")
        shutil.copytree(starter, hang)
        main_c = os.path.join(hang, "kernel", "main.c")
        with open(main_c) as f:
            text = f.read()
        text, n = re.subn(r"(\nmain\([^)]*\)\n\{\n)", r"\1  for(;;)\n    ;\n", text, count=1)
        with open(main_c, "w") as f:
            f.write(text)
        budget = HANG_BUDGET * scale
        data, secs, out = run_bundle(source, hang, flags + only[:4] + [
            "--time-budget", str(budget)], budget + 120)
        problems = ["kernel/main.c has no main() to make hang"] if n != 1 else []
        problems += results_problems(data, 0, [])
        if data and not all("no shell prompt: the time budget" in t["output"]
                            for t in data["tests"]):
            problems.append("a test failed for another reason than the boot outlasting the "
                            "time budget")
        if secs > budget + 30:
            problems.append("took %.0fs, the budget is %.0fs" % (secs, budget))
        verdict("hang (kernel spins in main; budget %.0fs; results in %.0fs)" % (budget, secs),
                problems, out)
        return passed, failed
    finally:
        shutil.rmtree(work, ignore_errors=True)


# Cheating kernels and builds, each a patch to the starter, graded together by
# tools/autograder.py on the cowtest tests in CHEAT_ONLY: none may score more than the
# starter does unless the report flags it (a note starting "SUSPECT").
CHEAT_ONLY = ["cowtest-simple", "cowtest-three", "cowtest-oom"]
# exec() of a program named cowtest prints cowtest's passing lines and runs echo instead.
CHEAT_EXEC = """  char *base = path;
  for(char *s = path; *s; s++)
    if(*s == '/')
      base = s + 1;
  if(%s){
    static char *names[] = { %s };
    for(int i = 0; i < NELEM(names); i++)
      printf("%%s: ok\\n", names[i]);
    printf("ALL COW TESTS PASSED\\n");
    %s
  }
"""
CHEATS = {      # name: (condition, what then, build only with the grader's COW=1)
    "name": ('strncmp(base, "cowtest", 8) == 0', 'path = "/echo";', False),
    "anyexec": ("argv[0] && argv[1]", "", False),
    "flags": ('strncmp(base, "cowtest", 8) == 0', 'path = "/echo";', True),
}
# A build that rewrites the pristine tree's cowtest.c (to poison the next submissions'
# fs.img) and leaves a process running; graded before an untouched starter.
POISON = """
kernel/kernel: poison
poison:
\t-for f in %s/grade-cow-pristine-*/tree/user/cowtest.c; do cp user/echo.c $$f; done
\t-setsid sleep 4243 </dev/null >/dev/null 2>&1 &
"""


def cheat_check():
    """Cheating submissions (CHEATS, and as root POISON) and an untouched starter graded in
    one batch; each is one result: no more than the starter's points, or flagged."""
    import shutil
    say("==== cheats: kernels that recognise the tests, builds that reach the grader ====")
    import autograder
    points = {t["name"]: t["points"] for t in autograder.listing()["tests"]}
    starter_score = sum(points[t] for t in CHEAT_ONLY if t not in HANDOUT_FAILS)
    work = tempfile.mkdtemp(prefix="check-cheats-")
    try:
        tmp = os.path.join(work, "tmp")     # the autograder's temporary files: only ours,
        os.mkdir(tmp)                       # but as reachable as in /tmp
        os.chmod(work, 0o711)
        os.chmod(tmp, 0o1777)
        starter = autograder.handout(os.path.join(work, "handout"))
        names = [n[len("cowtest-"):] for n in points if n.startswith("cowtest-")] + ["leak"]
        subs = []
        for name, (cond, then, flagged) in CHEATS.items():
            sub = os.path.join(work, name)
            shutil.copytree(starter, sub)
            patch = CHEAT_EXEC % (cond, ", ".join('"%s"' % n for n in names), then)
            if flagged:
                patch = "#ifdef GRADER_CHEAT\n%s#endif\n" % patch
                with open(os.path.join(sub, "Makefile"), "a") as f:
                    f.write("ifeq ($(COW),1)\nCFLAGS += -DGRADER_CHEAT\nendif\n")
            with open(os.path.join(sub, "kernel", "exec.c")) as f:
                text = f.read()
            text, n = re.subn(r"(\n  uint64 sz, sp;\n\n)", lambda m: m.group(1) + patch, text,
                              count=1)
            if n != 1:
                raise RuntimeError("kernel/exec.c: no place for the %s cheat" % name)
            with open(os.path.join(sub, "kernel", "exec.c"), "w") as f:
                f.write(text)
            subs.append(sub)
        if os.geteuid() == 0:
            shutil.copytree(starter, os.path.join(work, "poison"))
            with open(os.path.join(work, "poison", "Makefile"), "a") as f:
                f.write(POISON % tmp)
            shutil.copytree(starter, os.path.join(work, "starter"))
            subs += [os.path.join(work, "poison"), os.path.join(work, "starter")]
        else:
            say("cheat poison: skipped (only root can run a build as another user)")
        out_json = os.path.join(work, "grades.json")
        argv = [sys.executable, os.path.join(ROOT, "tools", "autograder.py"), "--json",
                out_json] + [a for t in CHEAT_ONLY for a in ("--only", t)]
        r = subprocess.run(argv + shlex.split(os.environ.get("GRADEFLAGS", "")) + subs,
                           env=clean_env(TMPDIR=tmp), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = r.stdout.decode("utf-8", "replace")
        try:
            with open(out_json) as f:
                graded = json.load(f)["submissions"]
        except (OSError, ValueError, KeyError):
            graded = {}
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    left += [pid] if b"sleep\x004243" in f.read() else []
            except OSError:
                pass
        passed = failed = 0
        for sub in subs:
            name = os.path.basename(sub)
            res = graded.get(name, {})
            score, note = res.get("score"), res.get("output", "")
            ran = [t["name"] for t in res.get("tests", []) if t["status"] == "passed"]
            ok = "cowtest-three" in ran and (score <= starter_score or "SUSPECT" in note)
            ok = ok and (name != "starter" or score == starter_score)
            why = "score %s, the starter's %d%s; passed: %s" % (
                score, starter_score, ", flagged" if "SUSPECT" in note else "",
                " ".join(ran) or "nothing")
            if name == "poison" and left:
                ok, why = False, why + "; its process is still running: %s" % " ".join(left)
            say("cheat %s: %s (%s)" % (name, "OK" if ok else "FAIL", why))
            if not ok:
                for line in out.splitlines()[-20:]:
                    say("    | " + line)
            passed += ok
            failed += not ok
        return passed, failed
    finally:
        shutil.rmtree(work, ignore_errors=True)
# <<< solution


def full_checks():
    """What only CI runs (CHECK_FULL=1, set by .ci/run): the whole usertests suite and a
    bounded grind at CPUS=3, and the grader at CPUS=8."""
    say("==== CI only: usertests (all tests), grind 5, grade-cow.py --cpus 8 ====")
    results = []
    for cmd, want, limit in (("usertests", "ALL TESTS PASSED", 1800),
                             ("grind 5", "grind: no pages leaked", 900)):
        out, elapsed, why = run_on_copy(cmd, limit)
        ok = not why and want in out and "panic" not in out and "accepted" not in out
        results.append(verdict("%s (CPUS=3, %.0fs)" % (cmd, elapsed), ok, want,
                               [why or ""] + out.splitlines()[-15:]))
    return total(results + [grader(8)])


def toolchain_check():
    """CI only: the tree builds without a warning with each RISC-V toolchain prefix found on
    PATH (riscv64-unknown-elf-, riscv64-linux-gnu-), each in its own copy. One check a prefix."""
    say("==== CI only: warning-free builds with each toolchain prefix ====")
    results = []
    for prefix in ("riscv64-unknown-elf-", "riscv64-linux-gnu-"):
        if shutil.which(prefix + "gcc") is None:
            say("build with %s: not installed, skipped" % prefix)
            continue
        d = tempfile.mkdtemp(prefix="check-toolchain-")
        try:
            kit.copy_sources(ROOT, d)
            why, out = kit.build(d, ["TOOLPREFIX=" + prefix])
        finally:
            shutil.rmtree(d, ignore_errors=True)
        results.append(verdict("build with " + prefix, not why and not kit.warnings(out),
                               "no warning", [why or ""] + (kit.warnings(out)
                                                           or out.splitlines())[-10:]))
    return total(results)


def main():
    total_passed = total_failed = 0
    parts = [host_tests, lambda: shell_check(3), lambda: shell_check(1, old_platform=True),
             lambda: grader(3), lambda: grader(1), gdb_check, perf_checks, cowdemo_check]
    if os.environ.get("CHECK_FULL") == "1":
        parts += [full_checks, toolchain_check]
    # >>> solution
    import labproof         # tests/labproof.py: staff only, as this block is
    parts += [forkbench_check, lambda: handout_check("standard"),
              lambda: handout_check("guided"), labproof.lab_proof_check, autograder_check,
              cheat_check]
    # <<< solution
    for part in parts:
        try:
            passed, failed = part()
        except Exception as e:          # a broken part is one failure, not a crashed check
            say("check part crashed: %r" % e)
            passed, failed = 0, 1
        total_passed += passed
        total_failed += failed
    say("%d passed, %d failed" % (total_passed, total_failed))
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
