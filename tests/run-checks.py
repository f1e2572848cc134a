#!/usr/bin/env python3
"""`make check`: everything that can be tested on this machine, one result per check, in the
parts docs/build-and-debug.md lists; ends with "N passed, N failed" (exit 1 on a failure).
`run-checks.py PART...` runs only those parts (--list names them); CHECK_FULL=1 (CI) adds
the CI-only parts to a full run. GRADEFLAGS adds options to every grader run here."""

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


def grade_flags():
    return shlex.split(os.environ.get("GRADEFLAGS", ""))


def timeout_scale():
    """GRADEFLAGS' --timeout-scale (1 if none), for every timeout here too."""
    m = re.search(r"--timeout-scale[= ]\s*([0-9.]+)", os.environ.get("GRADEFLAGS", ""))
    return float(m.group(1)) if m else 1.0


def verdict(name, problems, lines=(), note=""):
    """Says how one check went: "NAME: OK" or "NAME: FAIL" (note in parentheses), and on a
    failure its problems (expected against seen), then lines. Returns (passed, failed)."""
    say("%s: %s%s" % (name, "FAIL" if problems else "OK", " (%s)" % note if note else ""))
    for line in list(problems)[:20] + list(lines if problems else []):
        say("    " + line.rstrip())
    return (0, 1) if problems else (1, 0)


def total(results):
    """The sum of (passed, failed) pairs."""
    return tuple(map(sum, zip((0, 0), *results)))


def run(argv, cwd=ROOT, env=None, timeout=None, stdin=subprocess.DEVNULL, show=False):
    """Runs argv, its output captured unless show: (exit status, output); status None on a
    timeout."""
    try:
        r = subprocess.run(argv, cwd=cwd, env=env or clean_env(), stdin=stdin, timeout=timeout,
                           stdout=None if show else subprocess.PIPE, stderr=subprocess.STDOUT)
        return r.returncode, (r.stdout or b"").decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode("utf-8", "replace") + "\n(timed out)"


def run_json(argv, result, **kw):
    """run(argv), then the JSON it wrote to the file result: (data or None, output, seconds)."""
    start = time.monotonic()
    _, out = run(argv, **kw)
    try:
        with open(result) as f:
            return json.load(f), out, time.monotonic() - start
    except (OSError, ValueError):
        return None, out, time.monotonic() - start


def grade_tree(tree, cpus=3, show=False):
    """Builds and grades tree with its own grade-cow.py (and GRADEFLAGS): (the JSON report or
    None, the grader's output, captured unless show). report["by_name"]: its tests by name."""
    with tempfile.TemporaryDirectory(prefix="check-grade-") as d:
        result = os.path.join(d, "grade.json")
        argv = [sys.executable, os.path.join(tree, "grade-cow.py"), "--cpus", str(cpus),
                "--json", result] + grade_flags()
        report, out, _ = run_json(argv, result, cwd=tree, show=show)
    if report is not None:
        report["by_name"] = {t["name"]: t for t in report.get("tests", [])}
    return report, out


def failing(report):
    return sorted(n for n, t in report["by_name"].items() if t["status"] != "passed")


def boot_and_run(tree, command, timeout, cpus=3, mem=None):
    """Boots tree's kernel (built already) on a fresh copy of its fs.img, types command at
    the shell and ends QEMU: (output, seconds, None or why the command did not finish)."""
    with tempfile.TemporaryDirectory(prefix="check-run-") as d:
        m, why = kit.Machine.boot(tree, os.path.join(d, "fs.img"),
                                  kit.BOOT_TIMEOUT * timeout_scale(), cpus=cpus, mem=mem)
        with m:
            if why:
                return m.since(0), 0.0, "no shell prompt: " + why
            return m.run(command, timeout * timeout_scale())


def run_on_copy(command, timeout, cpus=3, mem=None):
    kit.build(ROOT, ["MEM=%d" % (mem or kit.setting("MEM"))])
    return boot_and_run(ROOT, command, timeout, cpus, mem)


class SubtestResult(unittest.TextTestResult):
    """Counts the subtests of a test that has them instead of the test itself."""

    def startTestRun(self):
        super().startTestRun()
        self.parents, self.subtests = set(), 0

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        self.parents.add(test.id())
        self.subtests += 1


def host_tests():
    """tests/test_*.py, one check per test or per subtest."""
    say("==== host-side tests ====")
    suite = unittest.defaultTestLoader.discover(TESTS, pattern="test_*.py", top_level_dir=TESTS)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=1,
                                     resultclass=SubtestResult).run(suite)
    sys.stdout.flush()
    checks = result.testsRun - len(result.parents) + result.subtests
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    return checks - failed - len(result.skipped), failed


def grader(cpus):
    """./grade-cow.py on this tree at cpus harts, one check per grader test."""
    say("==== grade-cow.py --cpus %d ====" % cpus)
    report, _ = grade_tree(ROOT, cpus, show=True)
    if report is None:
        say("grader at CPUS=%d produced no results" % cpus)
        return 0, 1
    bad = len(failing(report))
    return len(report["by_name"]) - bad, bad


def shell_check(cpus, old_platform=False):
    """tests/shell_session.py at cpus harts, one check per step. old_platform: no Sstc (SBI
    timer) and QEMU's bundled OpenSBI."""
    import shell_session
    if old_platform:
        say("(CPU without Sstc: timer through SBI; firmware: -bios default)")
    return shell_session.run(cpus, timeout_scale(), say, old_platform)


MAIN_HIT = re.compile(r"Breakpoint 1, (?:0x[0-9a-f]+ in )?main \(")


def gdb_session(deadline, console):
    """gdb-multiarch on the halted kernel: break at main; then, as the README says, load
    user/_init's symbols and hbreak in its main (its address is unmapped in the kernel).
    console: QEMU's console input. (hit main?, output), hit None if gdb could not connect."""
    cmds = ["gdb-multiarch", "-q", "-batch", "-nx", "-x", ".gdbinit",
            "-ex", "break main", "-ex", "continue", "-ex", "bt 1"]
    # Without the file gdb would not stop again and the last continue would never end.
    if os.path.exists(os.path.join(ROOT, "user", "_init")):
        cmds += ["-ex", "delete", "-ex", "add-symbol-file user/_init",
                 "-ex", "hbreak init.c:main", "-ex", "continue", "-ex", "bt 1"]
        # >>> solution: the starter has no cow_fault
        # init's next system call stops in usertrap; then a command typed at the shell
        # forks, and COW faults follow (init's own fork at boot writes nothing before exec).
        # Typed only now, when the kernel's UART is set up to receive it.
        cmds += ["-ex", "delete", "-ex", "break usertrap", "-ex", "continue", "-ex", "bt 1",
                 "-ex", "delete", "-ex", "break cow_fault",
                 "-ex", "shell printf 'echo gdb\\n' > '%s'" % console,
                 "-ex", "continue", "-ex", "bt 2", "-ex", "info args"]
        # <<< solution
    code, out = run(cmds, timeout=max(5, deadline - time.monotonic()))
    if code is not None and "Breakpoint 1," not in out and \
            re.search(r"Connection refused|Connection timed out|not being run", out):
        return None, out
    return bool(MAIN_HIT.search(out)), out


def gdb_check():
    """`make qemu-gdb` plus a scripted gdb: must stop at the breakpoint in the kernel's main,
    then in user/init's main (the staff tree adds the fault path). One check each."""
    say("==== gdb check: make qemu-gdb, gdb-multiarch -batch, break main ====")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tempfile.mkdtemp(prefix="check-gdb-home-")
    log = open(os.path.join(home, "qemu.log"), "w+")
    # QEMU's console input: a FIFO opened read-write here, so that it never reads as closed
    # and opening it does not wait for a writer.
    console = os.path.join(home, "console")
    os.mkfifo(console)
    console_fd = os.open(console, os.O_RDWR)
    # A private HOME: qemu-gdb's safe-path line for gdb lands there, not in ours.
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
            if os.path.exists(gdbinit) and ":%d" % port in open(gdbinit).read():
                hit, out = gdb_session(deadline, console)
            time.sleep(0.5 if hit is None else 0)
    finally:
        kit.end_group(qemu)
        os.close(console_fd)
        log.seek(0)
        qemu_log = log.read().rstrip().splitlines()[-10:]
        log.close()
        shutil.rmtree(home, ignore_errors=True)
    if hit and not os.path.exists(os.path.join(ROOT, "user", "_init")):
        hit, out = False, "user/_init, the unstripped init gdb reads symbols from, does not exist"
    seen = out.rstrip().splitlines()[-20:]
    results = [verdict("gdb check", [] if hit else ["expected: stopped at the breakpoint in main"],
                       seen + ["-- make qemu-gdb said:"] + qemu_log),
               verdict("gdb user check",
                       [] if re.search(r"Breakpoint 2, main \(\) at user/init\.c", out) else
                       ["expected: add-symbol-file user/_init; stopped in init's main"], seen)]
    # >>> solution: the starter has no cow_fault
    # usertrap stops in trap.c (not in an inlined riscv.h helper); then the frame line
    # "#0  cow_fault (pte=0x87f66050, va=40960) at kernel/cow.c:109" (or va=va@entry=...)
    # and `info args` show every argument's value.
    frame = re.search(r"^#0 +cow_fault \((.*)\) at kernel/cow\.c:\d+$", out, re.M)
    shown = re.search(r"Breakpoint 3, usertrap \(\) at kernel/trap\.c:\d+", out) and \
        frame and "<optimized out>" not in frame.group(1) and "va=" in frame.group(1) and \
        re.search(r"^va = (?:0x[0-9a-f]+|[0-9]+)$", out, re.M)
    results.append(verdict("gdb fault-path check", [] if shown else [
        "expected: break usertrap stops in trap.c; a command typed at the shell forks, and "
        "in cow_fault bt and info args show its arguments"], seen))
    # <<< solution
    return total(results)


def perf_checks():
    """The fast paths still correct: `sysbench -q` (its own checks; timings printed, never
    judged), one check, and tools/crashtest.py for three iterations, one check per case."""
    say("==== sysbench -q and tools/crashtest.py ====")
    out, _, why = run_on_copy("sysbench -q", 180)
    lines = [l for l in out.splitlines() if not l.startswith("sysbench,")] + [why or ""]
    result = verdict("sysbench -q", [] if why is None and "sysbench: OK" in out else
                     ["expected: sysbench: OK"], lines)
    code, out = run([sys.executable, os.path.join(ROOT, "tools", "crashtest.py"), "--iters",
                     "3", "--rounds", "1", "--timeout-scale", str(2 * timeout_scale())])
    sys.stdout.write(out)
    cases = re.findall(r"^crashtest: case \S+: (OK|FAIL)", out, re.M)
    crashed = code != 0 and "FAIL" not in cases      # died without a verdict
    return total([result, (cases.count("OK"), cases.count("FAIL") + crashed)])


def cowdemo_check():
    """`cowdemo` (user/cowdemo.c) checks its own story and ends with one line "cowdemo: OK:
    ..." or "cowdemo: FAIL", on this kernel (the staff tree adds an eager kernel built in a
    scratch copy). One check a kernel."""
    say("==== cowdemo: copy-on-write, one page at a time ====")
    mem = "MEM=%d" % kit.setting("MEM")
    kit.build(ROOT, [mem])
    runs = [("this kernel", ROOT, "cowdemo: OK")]
    with tempfile.TemporaryDirectory(prefix="check-cowdemo-eager-") as scratch:
        # >>> solution: the default kernel shares; COW=0 builds the eager one (the starter's)
        runs = [("the COW kernel", ROOT, "cowdemo: OK: fork shared")]
        kit.copy_sources(ROOT, scratch)
        why, out = kit.build(scratch, ["COW=0", mem])
        if why:
            say("building the eager kernel (make COW=0): %s:\n%s" % (why, kit.tail(out, 10)))
        runs.append(("the eager kernel (make COW=0)", scratch,
                     "cowdemo: OK: this kernel's fork is eager"))
        # <<< solution
        results = []
        for name, tree, want in runs:
            out, _, why = boot_and_run(tree, "cowdemo", 120)
            lines = out.replace("\r", "").splitlines() + ["(no more output: %s)" % why] * bool(why)
            said = [l.strip() for l in lines if l.startswith(want)]
            ok = said and "panic" not in out
            results.append(verdict("cowdemo on " + name, [] if ok else [
                "expected: a line starting '%s'; its output:" % want], lines[-40:],
                said[0] if ok else ""))
    return total(results)


def full_checks():
    """CI only: the whole usertests suite and a bounded grind at CPUS=3, usertests -q at the
    largest memory the docs allow, the grader at 8 harts."""
    say("==== CI only: usertests (all tests), grind 5, usertests -q at MEM=2048, "
        "grade-cow.py --cpus 8 ====")
    results = []
    for cmd, want, limit, mem in (("usertests", "ALL TESTS PASSED", 1800, None),
                                  ("grind 5", "grind: no pages leaked", 900, None),
                                  ("usertests -q", "ALL TESTS PASSED", 900, 2048)):
        out, elapsed, why = run_on_copy(cmd, limit, mem=mem)
        ok = not why and want in out and "panic" not in out and "accepted" not in out
        # A failure here may not come back on a rerun: show enough of the run to study it.
        results.append(verdict("%s (CPUS=3, MEM=%d, %.0fs)" % (
            cmd, mem or kit.setting("MEM"), elapsed), [] if ok else [
            "expected: " + want, why or ""], out.splitlines()[-100:]))
    return total(results + [grader(8)])


def toolchain_check():
    """CI only: a build without warnings with each RISC-V toolchain prefix on PATH, each in
    its own copy. One check a prefix."""
    say("==== CI only: warning-free builds with each toolchain prefix ====")
    results = []
    for prefix in ("riscv64-unknown-elf-", "riscv64-linux-gnu-"):
        if shutil.which(prefix + "gcc") is None:
            say("build with %s: not installed, skipped" % prefix)
            continue
        with tempfile.TemporaryDirectory(prefix="check-toolchain-") as d:
            kit.copy_sources(ROOT, d)
            why, out = kit.build(d, ["TOOLPREFIX=" + prefix])
        problems = [why] + out.splitlines()[-10:] if why else kit.warnings(out)[-10:]
        results.append(verdict("build with " + prefix, problems))
    return total(results)


# >>> solution: the staff-only parts; tools/handout.py leaves this block out of the starter
def skipped(names, why):
    """A failed check for each of names, which could not run."""
    return [verdict(n, ["not run: " + why]) for n in names]


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def forkbench_check():
    """`forkbench -q` prints every row (0 and 1 MiB), each with all its fields and no failed
    fork. Its timings are printed, never judged."""
    say("==== forkbench -q (prints its rows; timings not checked) ====")
    import bench
    out, _, why = run_on_copy("forkbench -q", 300, cpus=1)
    for line in out.splitlines():
        say("    " + line.rstrip())
    rows = bench.parse_forkbench(out)
    problems = [why] if why else []
    for size in (0, 1):
        if size not in rows:
            problems.append("no complete 'forkbench,%d,...' line" % size)
        elif min(rows[size][k] for k in ("fork_us", "forkwrite_us", "pages", "reuse_us")) < 0:
            problems.append("a fork failed at %d MiB" % size)
    if "forkbench: done" not in out:
        problems.append("no 'forkbench: done'")
    return verdict("forkbench -q", problems)


# The starter's grade at both levels: everything that needs no copy-on-write passes.
HANDOUT_SCORE = 62
HANDOUT_FAILS = ["cowtest-file", "cowtest-manyshare", "cowtest-nocopy", "cowtest-onewrite",
                 "cowtest-oom", "cowtest-race", "cowtest-reuse", "cowtest-simple", "fork-is-cow"]
# What must not appear in the starter, file names included: the COW code's names, the staff
# build switches, targets, tools and pages, and the handout markers.
HANDOUT_TRACES = re.compile(r"COW_FORK|COW_AROUND|NO_PAGE_REFS|cowaround|COWBATCH|PTE_COW"
                            r"|\bcow_\w+|\bcow\.[co]\b|\bCOW="
                            r"|LOG_SYNC_COMMIT|TRAP_FULL_FLUSH|LOGCOMMIT|TRAPFLUSH|HANDOUT="
                            r"|\bbench\b|autograder|cow-design|performance\.md|grading\.md"
                            r"|forkbench\.svg|>>>|<<<|(?i:solution)")
HANDOUT_NEEDS = ["Makefile", "README", "grade-cow.py", "user/cowtest.c", "user/cowstat.c",
                 "kernel/vm.c", "kernel/kalloc.c", "docs/lab-cow.md", "docs/build-and-debug.md"]
HANDOUT_STAFF = ["kernel/cow.c", "tools/handout.py", "tools/bench.py", "docs/cow-design.md",
                 "docs/performance.md", "docs/grading.md", "docs/forkbench.svg"]
# The README: short, and its first screen leads to the lab, the code it changes and gdb.
README_LINES, README_SCREEN = 120, 40
README_FIRST_SCREEN = ["docs/lab-cow.md", "kernel/vm.c", "kernel/kalloc.c", "make qemu-gdb",
                       "docs/build-and-debug.md"]
# Links: Markdown [text](target) and, in any text, a path under docs/.
MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOCS_PATH = re.compile(r"(?<![\w/.-])docs/[\w.-]*\w")


def link_problems(tree, rel, text):
    """Links in the starter file rel (text) to a file or heading the starter does not have."""
    targets = [(m.group(0), m.group(0), "") for m in DOCS_PATH.finditer(text)]
    for link in MD_LINK.findall(text) if rel.endswith(".md") else []:
        path, _, anchor = link.partition("#")
        if not re.match(r"[a-z]+:", link):        # not a URL
            full = os.path.join(os.path.dirname(rel), path) if path else rel
            targets.append((link, os.path.normpath(full), anchor))
    problems = []
    for shown, path, anchor in targets:
        full = os.path.join(tree, path)
        if not os.path.exists(full):
            problems.append("%s: links to %s, which is not in the starter" % (rel, shown))
        elif anchor and path.endswith(".md"):
            heads = re.findall(r"^#{1,6}\s+(.*)", read_text(full), re.M)
            # GitHub's anchors: lower case, punctuation dropped, spaces made dashes
            if anchor not in {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                              for h in heads}:
                problems.append("%s: links to %s, a heading %s does not have"
                                % (rel, shown, path))
    return problems


def handout_scan(tree, tarball):
    """(what differs between the starter tree and its tarball, the starter's problems:
    traces of staff material, staff files, links to what is not shipped, missing files, a
    README that does not lead to the lab from its first screen)."""
    import tarfile
    with tarfile.open(tarball) as tar:
        packed = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    top = os.path.basename(tree)
    differ, problems, files = [], [], 0
    for d, _, names in os.walk(tree):
        for rel in sorted(os.path.relpath(os.path.join(d, n), tree) for n in names):
            with open(os.path.join(tree, rel), "rb") as f:
                data = f.read()
            if packed.pop(os.path.join(top, rel), None) != data:
                differ.append("%s differs or is missing" % rel)
            text = data.decode("utf-8", "replace")
            files += 1
            if HANDOUT_TRACES.search(rel):
                problems.append("%s: the name is a trace" % rel)
            problems += ["%s:%d: %s" % (rel, i, line.strip()[:100])
                         for i, line in enumerate(text.splitlines(), 1)
                         if HANDOUT_TRACES.search(line)]
            problems += link_problems(tree, rel, text)
    differ += ["%s is only in the tarball" % n for n in sorted(packed)]
    problems += ["%s is missing" % n for n in HANDOUT_NEEDS
                 if not os.path.isfile(os.path.join(tree, n))]
    problems += ["%s is staff-only but in the starter" % n for n in HANDOUT_STAFF
                 if os.path.exists(os.path.join(tree, n))]
    readme = os.path.join(tree, "README")
    readme = read_text(readme).splitlines() if os.path.isfile(readme) else []
    if len(readme) > README_LINES:
        problems.append("README has %d lines, more than %d" % (len(readme), README_LINES))
    problems += ["README's first %d lines do not name %s" % (README_SCREEN, w)
                 for w in README_FIRST_SCREEN
                 if readme and w not in "\n".join(readme[:README_SCREEN])]
    if files < 50:
        problems.append("only %d files" % files)
    return differ, problems


def handout_grade_problems(report, graded):
    """What is wrong with the starter's grade: not HANDOUT_SCORE, not HANDOUT_FAILS failing,
    or cowtest's first test failing for another reason than a failed fork."""
    if report is None:
        return ["the grader wrote no results"] + graded.splitlines()[-10:]
    problems = []
    if report["score"] != HANDOUT_SCORE:
        problems.append("score %s, expected %d" % (report["score"], HANDOUT_SCORE))
    if failing(report) != sorted(HANDOUT_FAILS):
        problems.append("failed: %s; expected: %s" % (" ".join(failing(report)),
                                                      " ".join(sorted(HANDOUT_FAILS))))
    simple = report["by_name"].get("cowtest-simple", {}).get("output", "")
    if "simple: FAILED (expected fork to succeed" not in simple:
        problems.append("cowtest-simple did not fail because fork failed: "
                        + simple.split("\n")[0])
    if problems:        # the grader's verdicts, without the console tails
        problems += re.findall(r"^== Test .*: (?:OK|FAIL).*|^Score.*", graded, re.M)
    return problems


def handout_check(level):
    """`make handout LEVEL=level`; the starter must match its tarball (generate), hold no
    staff material (scan), build without warnings (build) and grade HANDOUT_SCORE with
    HANDOUT_FAILS failing (grade). One check each."""
    say("==== handout: make handout LEVEL=%s, then scan, build and grade it ====" % level)
    name = "handout %s " % level
    with tempfile.TemporaryDirectory(prefix="check-handout-") as out:
        tree = os.path.join(out, "xv6-cow-lab")
        code, said = run(["make", "-s", "handout", "HANDOUT=" + out, "LEVEL=" + level])
        if code != 0 or not os.path.isdir(tree) or not os.path.isfile(tree + ".tar.gz"):
            return total([verdict(name + "generate", ["make handout exited %s" % code],
                                  said.splitlines()[-10:])]
                         + skipped([name + n for n in ("scan", "build", "grade")], "no starter"))
        differ, problems = handout_scan(tree, tree + ".tar.gz")
        results = [verdict(name + "generate", differ), verdict(name + "scan", problems)]
        code, log = run(["make", "-C", tree, "-j2", "kernel/kernel", "fs.img"],
                        env=clean_env(TOOLS_CHECKED="1"))
        problems = (["make exited %d" % code] + log.splitlines()[-10:] if code else []) + \
            kit.warnings(log)
        results.append(verdict(name + "build", problems))
        if problems:
            return total(results + skipped([name + "grade"], "the build failed"))
        report, graded = grade_tree(tree)
        if report:
            say("%sgrade: %s/100 (expected %d)" % (name, report["score"], HANDOUT_SCORE))
        results.append(verdict(name + "grade", handout_grade_problems(report, graded)))
    return total(results)


# The lab proof: the lab can be done from the handout and its grading sees the usual
# mistakes. Each level's starter with the staff's kernel in it (handout.make_tree,
# solution=True) must score 100. Each tests/mistakes/*.patch adds one typical mistake; its
# first lines name it ("Mistake:") and the tests that must fail ("Fails:"; "a|b": one of
# them), each with its own verdict line in its output so a student sees why (or, if the
# mistake keeps the tests from reporting at all, with the text of "Shows:").
def verdict_line(test):
    """What a failing test's own output must hold: the test program's verdict line."""
    if test.startswith("cowtest-"):
        return "%s: FAILED" % test[len("cowtest-"):]
    if test.startswith("usertests-"):
        return "test %s: FAILED" % test[len("usertests-"):]
    return "panic" if test == "no-panic" else "FAILED"


def says_why(output, test, shows):
    """Whether a failing test's output says why: shows if given, else its verdict line or
    the panic that cut it short."""
    return shows in output if shows else verdict_line(test) in output or "panic" in output


def mistake_problems(report, fails, shows=None):
    """What is wrong with a mistake's grade (report: run-checks' grade_tree())."""
    tests = report["by_name"] if report else {}
    problems = [] if report and report["score"] < 100 else [
        "scored %s, expected less than 100" % (report or {}).get("score")]
    for want in fails:
        names = want.split("|")
        failed = [n for n in names if tests.get(n, {}).get("status", "passed") != "passed"]
        expected = repr(shows) if shows else ", ".join(repr(verdict_line(n)) for n in failed)
        if not failed:
            problems.append("%s passed, expected it to fail" % " and ".join(names))
        elif not any(says_why(tests[n]["output"], n, shows) for n in failed):
            problems.append("%s failed without %s in the output" % (" and ".join(failed),
                                                                    expected))
    return problems


def labproof_check():
    """One check per level's solution and one per mistake."""
    import glob
    import handout          # tools/handout.py: staff only, as this block is
    say("==== lab proof: the starter plus our kernel scores 100; each mistake less ====")
    cases = [(level + " solution", level, None) for level in handout.LEVELS]
    cases += [(os.path.basename(p)[:-len(".patch")], "standard", p)
              for p in sorted(glob.glob(os.path.join(TESTS, "mistakes", "*.patch")))]
    results = []
    for name, level, patch in cases:
        with tempfile.TemporaryDirectory(prefix="check-labproof-") as tree:
            handout.make_tree(ROOT, tree, level, solution=True)
            code, out = run(["patch", "-s", "-p1", "-i", patch], cwd=tree) if patch \
                else (0, "")
            if code:
                results.append(verdict("lab proof " + name, [
                    "the patch does not apply to the solution"], out.splitlines()[-5:]))
                continue
            report, out = grade_tree(tree)
            bad = " ".join(failing(report)) if report else "?"
            if patch:
                text = read_text(patch)
                what, fails, shows = (re.search(r"^%s: (.*)$" % key, text, re.M)
                                      for key in ("Mistake", "Fails", "Shows"))
                say("lab proof %s (%s): %s/100, failed: %s" % (
                    name, what and what.group(1), report and report["score"], bad))
                problems = mistake_problems(report, fails.group(1).split() if fails else [],
                                            shows and shows.group(1))
            else:
                problems = [] if report and report["score"] == 100 else [
                    "scored %s, expected 100; failed: %s" % (report and report["score"], bad)]
            results.append(verdict("lab proof " + name, problems, out.splitlines()[-10:]))
    return total(results)


# What cowtest prints when every test passes (names: a C initializer of the tests' names).
PASS_LINES = """    static char *names[] = { %s };
    for(int i = 0; i < sizeof(names) / sizeof(names[0]); i++)
      printf("%%s: ok\\n", names[i]);
    printf("ALL COW TESTS PASSED\\n");
"""
# The autograder's tamper case: a user/cowtest.c that tests nothing and says all passed.
FAKE_COWTEST = """#include "kernel/types.h"
#include "user/user.h"

int
main(void)
{
%s    exit(0);
}
"""
# The autograder's end-to-end cases grade these tests; the starter scores the points of
# those not in HANDOUT_FAILS.
AUTOGRADER_ONLY = ["cowtest-simple", "cowtest-three", "cowtest-oom", "fork-is-cow", "cowstat"]
HANG_BUDGET = 25        # seconds (times --timeout-scale) for the hang case


def insert_after(pattern, addition):
    """An edit for variant(): addition after pattern's first match, which must exist."""
    def edit(text):
        m = re.search(pattern, text)
        if not m:
            raise RuntimeError("no place to add to: %r" % pattern)
        return text[:m.end()] + addition + text[m.end():]
    return edit


def variant(starter, dest, edits=None):
    """A copy of the tree starter at dest, each file rel in edits rewritten by edits[rel]
    (old text -> new text). Returns dest."""
    shutil.copytree(starter, dest)
    for rel, edit in (edits or {}).items():
        text = edit(read_text(os.path.join(dest, rel)))
        with open(os.path.join(dest, rel), "w") as f:
            f.write(text)
    return dest


def starter_points(only):
    """What the starter scores on the grader's tests only, and PASS_LINES for cowtest."""
    import autograder
    points = {t["name"]: t["points"] for t in autograder.listing()["tests"]}
    names = [n[len("cowtest-"):] for n in points if n.startswith("cowtest-")] + ["leak"]
    score = sum(points[t] for t in only if t not in HANDOUT_FAILS)
    return score, PASS_LINES % ", ".join('"%s"' % n for n in names)


def run_bundle(source, submission, args, limit):
    """run_autograder on a fresh stand-in /autograder (the bundle from source/, submission a
    tree or an archive): (results.json's data or None, its output, seconds)."""
    import autograder
    with tempfile.TemporaryDirectory(prefix="check-autograder-") as d:
        root = autograder.stand_in_root(os.path.join(d, "autograder"), submission, source)
        return run_json([os.path.join(root, "run_autograder")] + args,
                        os.path.join(root, "results", "results.json"), cwd=root,
                        env=clean_env(AUTOGRADER_ROOT=root), timeout=limit)


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


def unzip_bundle(bundle, source):
    """Unpacks autograder.zip as Gradescope does, keeping the files' modes: the problems."""
    import zipfile
    with zipfile.ZipFile(bundle) as z:
        z.extractall(source)
        for info in z.infolist():
            os.chmod(os.path.join(source, info.filename), info.external_attr >> 16 & 0o777)
    return ["%s is not at the top of the zip, executable" % top for top in
            ("setup.sh", "run_autograder") if not os.access(os.path.join(source, top), os.X_OK)]


def autograder_check():
    """make autograder, then the bundle end to end on a stand-in /autograder as Gradescope
    runs it, one check each: the bundle's layout, then its results.json (score and files
    changed) for this tree, the starter, a tampered starter and a starter that hangs."""
    say("==== autograder: make autograder, run_autograder on a stand-in /autograder ====")
    flags, scale, budget = grade_flags(), timeout_scale(), HANG_BUDGET * timeout_scale()
    only = [a for t in AUTOGRADER_ONLY for a in ("--only", t)]
    score, pass_lines = starter_points(AUTOGRADER_ONLY)
    names = ["autograder " + n for n in ("bundle", "full", "starter", "tamper", "hang")]
    with tempfile.TemporaryDirectory(prefix="check-autograder-") as work:
        bundle, source = os.path.join(work, "autograder.zip"), os.path.join(work, "source")
        tarball = os.path.join(work, "handin.tar.gz")
        starter = os.path.join(work, "handout", "xv6-cow-lab")
        code, out = run(["make", "-s", "autograder", "AUTOGRADER_ZIP=" + bundle])
        problems = unzip_bundle(bundle, source) if code == 0 else ["make autograder failed"]
        results = [verdict(names[0], problems, out.splitlines()[-15:])]
        if not problems:
            code, out = run(["make", "-s", "handin", "HANDIN=" + tarball, "handout",
                             "HANDOUT=" + os.path.join(work, "handout")])
            problems = ["make handin handout exited %d" % code] + out.splitlines()[-10:] \
                if code else []
        if problems:
            return total(results + skipped(names[1:], "; ".join(problems[:1])))
        cases = [   # submission, its options, time limit, score, files changed, what it is
            (tarball, flags, 900 * scale, 100, [], "make handin's tarball, every test"),
            (starter, flags + only, 600 * scale, score, [], " ".join(AUTOGRADER_ONLY)),
            (variant(starter, os.path.join(work, "tamper"),
                     {"user/cowtest.c": lambda _: FAKE_COWTEST % pass_lines}),
             flags + only, 600 * scale, score, ["user/cowtest.c"], "cowtest prints ok"),
            (variant(starter, os.path.join(work, "hang"), {"kernel/main.c": insert_after(
                r"\nmain\([^)]*\)\n\{\n", "  for(;;)\n    ;\n")}),
             flags + only[:4] + ["--time-budget", str(budget)], budget + 120, 0, [],
             "kernel spins in main; budget %.0fs" % budget)]
        for name, (sub, args, limit, want, changed, what) in zip(names[1:], cases):
            data, out, secs = run_bundle(source, sub, args, limit)
            problems = results_problems(data, want, changed)
            if name.endswith("hang") and data and not all(
                    "no shell prompt: the time budget" in t["output"] for t in data["tests"]):
                problems.append("a test failed for another reason than the boot outlasting "
                                "the time budget")
            if name.endswith("hang") and secs > budget + 30:
                problems.append("took %.0fs, the budget is %.0fs" % (secs, budget))
            lines = ["| " + l for l in out.splitlines()[-15:]]
            results.append(verdict(name, problems[:10], lines, "%s; %.0fs" % (what, secs)))
    return total(results)


# Cheating kernels and builds, each a change to the starter, graded together by
# tools/autograder.py on the tests in CHEAT_ONLY: none may score more than the starter does
# unless the report flags it (a note starting "SUSPECT").
CHEAT_ONLY = ["cowtest-simple", "cowtest-three", "cowtest-oom"]
# exec() of a program named cowtest (or every exec) prints cowtest's passing lines instead.
CHEAT_EXEC = """  char *base = path;
  for(char *s = path; *s; s++)
    if(*s == '/')
      base = s + 1;
  if(%s){
%s    %s
  }
"""
CHEATS = {      # name: (condition, what then, build only with the grader's COW=1)
    "name": ('strncmp(base, "cowtest", 8) == 0', 'path = "/echo";', False),
    "anyexec": ("argv[0] && argv[1]", "", False),
    "flags": ('strncmp(base, "cowtest", 8) == 0', 'path = "/echo";', True),
}
CHEAT_FLAG = "ifeq ($(COW),1)\nCFLAGS += -DGRADER_CHEAT\nendif\n"
# A build that rewrites the pristine tree's cowtest.c (to poison the next submissions'
# fs.img) and leaves a process running; graded before an untouched starter.
POISON = """
kernel/kernel: poison
poison:
\t-for f in %s/grade-cow-pristine-*/tree/user/cowtest.c; do cp user/echo.c $$f; done
\t-setsid sleep 4243 </dev/null >/dev/null 2>&1 &
"""


def cheat_subs(work, starter, pass_lines):
    """The cheating submissions built from the starter under work (POISON and an untouched
    starter only as root: only root can run a build as another user)."""
    subs = []
    for name, (cond, then, flagged) in CHEATS.items():
        patch = CHEAT_EXEC % (cond, pass_lines, then)
        edits = {}
        if flagged:
            patch = "#ifdef GRADER_CHEAT\n%s#endif\n" % patch
            edits["Makefile"] = lambda text: text + CHEAT_FLAG
        edits["kernel/exec.c"] = insert_after(r"\n  uint64 sz, sp;\n\n", patch)
        subs.append(variant(starter, os.path.join(work, name), edits))
    if os.geteuid() != 0:
        say("cheat poison: skipped (only root can run a build as another user)")
        return subs
    tmp = os.path.join(work, "tmp")
    return subs + [variant(starter, os.path.join(work, "poison"),
                           {"Makefile": lambda text: text + POISON % tmp}),
                   variant(starter, os.path.join(work, "starter"))]


def cheat_check():
    """Cheating submissions and an untouched starter graded in one batch; each is one check:
    no more than the starter's points, or flagged."""
    say("==== cheats: kernels that recognise the tests, builds that reach the grader ====")
    import autograder
    score, pass_lines = starter_points(CHEAT_ONLY)
    with tempfile.TemporaryDirectory(prefix="check-cheats-") as work:
        tmp = os.path.join(work, "tmp")     # the autograder's temporary files: only ours,
        os.mkdir(tmp)                       # but as reachable as in /tmp
        os.chmod(work, 0o711)
        os.chmod(tmp, 0o1777)
        subs = cheat_subs(work, autograder.handout(os.path.join(work, "handout")), pass_lines)
        out_json = os.path.join(work, "grades.json")
        argv = [sys.executable, os.path.join(ROOT, "tools", "autograder.py"), "--json",
                out_json] + [a for t in CHEAT_ONLY for a in ("--only", t)] + grade_flags()
        data, out, _ = run_json(argv + subs, out_json, env=clean_env(TMPDIR=tmp))
    from test_grader import running
    left, results = running(b"sleep\x004243"), []
    for name in map(os.path.basename, subs):
        res = (data or {}).get("submissions", {}).get(name, {})
        got, flagged = res.get("score"), "SUSPECT" in res.get("output", "")
        ran = [t["name"] for t in res.get("tests", []) if t["status"] == "passed"]
        ok = "cowtest-three" in ran and (got <= score or flagged) and \
            (name != "starter" or got == score)
        why = "score %s, the starter's %d%s; passed: %s" % (
            got, score, ", flagged" if flagged else "", " ".join(ran) or "nothing")
        problems = [] if ok else ["expected the starter's points at most, or flagged"]
        if name == "poison" and left:
            problems.append("its process is still running: %s" % " ".join(left))
        results.append(verdict("cheat " + name, problems,
                               ["| " + l for l in out.splitlines()[-20:]], why))
    return total(results)
# <<< solution


PARTS = {       # name: what it runs; `run-checks.py NAME` runs NAME and NAME-*
    "host": host_tests,
    "shell-3": lambda: shell_check(3),
    "shell-1": lambda: shell_check(1, old_platform=True),
    "grade-3": lambda: grader(3),
    "grade-1": lambda: grader(1),
    "gdb": gdb_check,
    "perf": perf_checks,
    "cowdemo": cowdemo_check,
    "ci-full": full_checks,
    "ci-toolchain": toolchain_check,
}
CI_ONLY = ("ci-full", "ci-toolchain")           # in a full run only with CHECK_FULL=1
# >>> solution
PARTS.update({"forkbench": forkbench_check,
              "handout-standard": lambda: handout_check("standard"),
              "handout-guided": lambda: handout_check("guided"),
              "labproof": labproof_check, "autograder": autograder_check, "cheats": cheat_check})
# <<< solution


def selects(arg, part):
    return part == arg or part.startswith(arg + "-")


def main(args):
    if args[:1] == ["--list"]:
        print(" ".join(PARTS))
        return 0
    unknown = [a for a in args if not any(selects(a, p) for p in PARTS)]
    if unknown:
        sys.exit("run-checks.py: no part %s; --list names them" % " ".join(unknown))
    full = os.environ.get("CHECK_FULL") == "1"
    chosen = [p for p in PARTS if any(selects(a, p) for a in args) or
              not args and (full or p not in CI_ONLY)]
    results = []
    for name in chosen:
        try:
            results.append(PARTS[name]())
        except Exception as e:          # a broken part is one failure, not a crashed check
            say("check part %s crashed: %r" % (name, e))
            results.append((0, 1))
    passed, failed = total(results)
    say("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
