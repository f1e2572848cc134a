#!/usr/bin/env python3
"""Host-side tests of grade-cow.py, tools/xv6kit.py and tools/ensure-tools.sh (and in the
staff tree of the staff's grading tools), with a fake QEMU (fake_qemu.py) and fake trees
whose Makefile only pretends to build. Standard library only."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
from unittest import mock

TESTS = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(TESTS)
GRADER = os.path.join(ROOT, "grade-cow.py")
FAKE_QEMU = os.path.join(TESTS, "fake_qemu.py")
SCALE = "0.05"      # boot timeout 3s, cowcheck 4.5s: plenty for the fake
sys.path.insert(0, os.path.join(ROOT, "tools"))
import xv6kit as kit  # noqa: E402


def listing():
    """grade-cow.py --list: {test: points} and the protected files, read from its tables."""
    out = subprocess.run([sys.executable, GRADER, "--list"], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    tests, files = out.split("\n\n")
    return (dict((n, int(p)) for n, p, *_ in (l.split() for l in tests.splitlines()[1:])),
            [l.split()[0] for l in files.splitlines()[2:-1]])


POINTS, PROTECTED = listing()

# The fake build: the kernel is the file naming the fake QEMU's behaviour. The programs in
# fsroot/ name themselves (and have the token slot), cowtest's carries user/cowtest.c; the
# fake mkfs writes each file after a line with its name: so a tampered cowtest, the run's
# names and its token reach the fake QEMU as they would the kernel.
FAKE_MAKEFILE = """\
kernel/kernel:
\tcp mode kernel/kernel
fs.img:
\tmkdir -p fsroot mkfs
\tfor p in cowtest usertests cowstat $(basename $(notdir $(EXTRA_PROGS))); do \\
\t  printf 'program %s\\n@TOKEN-SLOT-OF-24-CHARS@\\n' $$p > fsroot/_$$p; done
\tcat user/cowtest.c >> fsroot/_cowtest
\tprintf '#!/bin/sh\\nout=$$1; shift 2\\n' > mkfs/mkfs
\tprintf 'for f; do echo "file $${f##*/_}"; cat "$$f"; done > $$out\\n' >> mkfs/mkfs
\tchmod +x mkfs/mkfs
\ttouch README fs.img
\techo '$(EXTRA_PROGS)' > extra.txt
"""

BROKEN_MAKEFILE = """\
kernel/kernel fs.img:
\t@echo 'kernel/trap.c:12:3: error: expected ; before }'
\t@exit 1
"""

# Builds only if user/user.h has a line the submission added: with the grader's user.h the
# submission's kernel does not build.
NEEDS_OWN_USER_H = FAKE_MAKEFILE.replace(
    "\tcp mode kernel/kernel\n",
    "\t@grep -q STUDENT-API user/user.h || { echo 'user/cowtest.c:9: error: unknown type'; "
    "exit 1; }\n\tcp mode kernel/kernel\n")

# grade-cow.py on one fake tree each: the case's name is the fake kernel's mode unless mode
# says otherwise; only: the tests run; code: the exit status; has / lacks: text the report
# must / must not hold (the name grade-cow aside); once: text it holds exactly once; lines:
# the report has fewer; boots: QEMU ran (none may be left in any case).
GRADE_CASES = {
    "leak": dict(has=["Score: %d/100" % (100 - POINTS["no-leak"]), "no-leak: FAIL",
                      "cowtest says: leak: FAILED (expected free pages unchanged, saw 3)",
                      "usertests: OK"]),
    "copyfail": dict(only=["usertests-copyout", "usertests"],
                     has=["usertests: test copyout: FAILED",
                          "| copyout: expected -1 from read into text, saw 512",
                          "usertests: OK"],     # copyout is not charged twice
                     lacks=["pipebadread"]),
    "bootpanic": dict(code=1, lines=100, boots=True, lacks=["Platform line"],
                      has=["Score: 0/100", "kernel panicked during cowtest, cowcheck, "
                           "usertests: panic: main: no disk"],
                      once=["| panic: main: no disk"]),
    "badcow": dict(only=["cowtest-three", "cowtest-oom"], lacks=["simple: ok"],
                   has=["cowtest says: three: FAILED (count 3)",
                        "    | three: child saw 2\n    | three: FAILED (count 3)\n",
                        "cowtest-oom: OK", "Score: 3/6"]),
    # The kernel prints the ok lines itself (without the token); or three says both.
    "forge": dict(only=["cowtest-three", "cowtest-oom"],
                  has=["Score: 3/6", "cowtest says: three: FAILED"]),
    "bothsay": dict(only=["cowtest-three", "cowtest-oom"],
                    has=["Score: 3/6", "cowtest says: three: FAILED",
                         "three: FAILED (its output says both ok and FAILED)"]),
    # gradeexec could not read the test's output: every test not reported says so.
    "noread": dict(only=["cowtest-simple", "cowtest-three"], code=1,
                   has=["cowtest did not report simple (gradeexec: read of the test's output "
                        "returned -1)", "cowtest did not report three (gradeexec: read"]),
    # Lines a kernel message broke into still count.
    "interleave": dict(only=["cowtest-simple", "cowtest-three"], has=["Score: 6/6"]),
    # A hang is killed even if QEMU ignores SIGTERM.
    "stubborn": dict(only=["fork-is-cow", "cowstat"], code=1, boots=True, lacks=["cowtest"],
                     has=["fork-is-cow: FAIL", "'cowcheck': timeout after",
                          "'cowstat' never ran ('cowcheck': timeout after"],
                     once=["| cowcheck: touched 8192 pages"]),
    "eager": dict(only=["fork-is-cow"], code=1,
                  has=["allocated 8231 pages (limit 256): fork copies memory"]),
    "noexec": dict(mode="good", only=["fork-is-cow"], makefile=FAKE_MAKEFILE.replace(
        " $(basename $(notdir $(EXTRA_PROGS)))", ""),
        has=["does the Makefile honour EXTRA_PROGS?"]),
    "noprompt": dict(only=["no-panic"], code=1, boots=True,
                     has=["never reached the shell (no shell prompt: timeout"]),
    "brokenbuild": dict(mode="good", makefile=BROKEN_MAKEFILE, code=1, lines=70,
                        has=["| kernel/trap.c:12:3: error: expected ; before }",
                             "build: build failed (make exit 2)"],
                        once=["| make: Entering directory"]),
}


def alive(pid):
    """True if pid runs (a zombie counts as dead)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def running(needle):
    """The pids of processes whose command line holds the bytes needle."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                pids += [pid] if needle in f.read() else []
        except OSError:
            pass
    return pids


class GraderTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="grade-test-")
        os.chmod(self.tmp, 0o711)       # the fake QEMU may run as an unprivileged user
        self.new_piddir()
        # The grader's copies of the protected files, as course staff have them.
        self.pristine = os.path.join(self.tmp, "pristine")
        for rel in PROTECTED:
            self.write(os.path.join(self.pristine, rel), "the grader's %s\n" % rel)
        self.write(os.path.join(self.pristine, "Makefile"), FAKE_MAKEFILE)
        self.add_grader(self.pristine)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def new_piddir(self):
        """A fresh directory where the fake QEMUs write their pids."""
        self.piddir = tempfile.mkdtemp(prefix="pids-", dir=self.tmp)
        os.chmod(self.piddir, 0o777)

    @staticmethod
    def write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def tree(self, name, mode, makefile=FAKE_MAKEFILE, with_grader=False, changes=None,
             pristine=None):
        """A fake tree: the protected files as the grader has them (from pristine, default
        the fake ones), changes applied ({path: text, or None to delete})."""
        d = os.path.join(self.tmp, name)
        for rel in PROTECTED:
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            shutil.copy(os.path.join(pristine or self.pristine, rel), os.path.join(d, rel))
        for rel, text in (changes or {}).items():
            if text is None:
                os.unlink(os.path.join(d, rel))
            else:
                self.write(os.path.join(d, rel), text)
        self.write(os.path.join(d, "Makefile"), makefile)
        self.write(os.path.join(d, "mode"), mode + "\n")
        if with_grader:
            self.add_grader(d)
        return d

    @staticmethod
    def add_grader(d):
        shutil.copy(GRADER, d)
        os.makedirs(os.path.join(d, "tools"), exist_ok=True)
        for name in ("xv6kit.py", "cowcheck.c", "gradeexec.c"):
            shutil.copy(os.path.join(ROOT, "tools", name), os.path.join(d, "tools"))

    def run_tool(self, argv, env_extra=None, cwd=None):
        """Runs a Python program (argv[0]) with the fake QEMU's pid directory: (status,
        output); self.elapsed the seconds it took."""
        env = dict(os.environ, FAKE_QEMU_PIDDIR=self.piddir)
        env.pop("MAKEFLAGS", None)
        env.update(env_extra or {})
        start = time.monotonic()
        r = subprocess.run([sys.executable] + argv, stdout=subprocess.PIPE, cwd=cwd,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                           timeout=300)
        self.elapsed = time.monotonic() - start
        return r.returncode, r.stdout.decode()

    def grade(self, tree, args=(), grader=GRADER, env_extra=None, scale=SCALE):
        """grade-cow.py on tree, in place, with the fake QEMU."""
        return self.run_tool([grader, "--tree", tree, "--qemu", FAKE_QEMU, "--timeout-scale",
                              scale] + list(args), env_extra)

    def assertNoQemuLeft(self, ran=True):
        pids = [int(p) for p in os.listdir(self.piddir)]
        if ran:
            self.assertTrue(pids, "the fake QEMU never ran")
        self.assertEqual([p for p in pids if alive(p)], [], "QEMU processes left running")

    def assertReport(self, out, has=(), lacks=(), once=()):
        for text in has:
            self.assertIn(text, out)
        for text in lacks:
            self.assertNotIn(text, out)
        for text in once:
            self.assertEqual(out.count(text), 1, "%r not exactly once in:\n%s" % (text, out))

    def results(self, root):
        with open(os.path.join(root, "results", "results.json")) as f:
            data = json.load(f)
        for key in ("score", "execution_time", "output", "visibility", "stdout_visibility",
                    "extra_data", "tests"):
            self.assertIn(key, data)
        for t in data["tests"]:
            self.assertEqual(set(t), {"name", "score", "max_score", "status", "output",
                                      "visibility"})
            self.assertIn(t["status"], ("passed", "failed"))
            self.assertEqual(t["score"], t["max_score"] if t["status"] == "passed" else 0)
        return data


class GraderTest(GraderTestBase):
    def test_full_score_in_place(self):
        d = self.tree("good", "good", with_grader=True)
        out_json = os.path.join(self.tmp, "r.json")
        code, out = self.run_tool([os.path.join(d, "grade-cow.py"), "--qemu", FAKE_QEMU,
                                   "--timeout-scale", SCALE, "--json", out_json])
        self.assertEqual(code, 0, out)
        self.assertReport(out, has=["Score: 100/100",
                                    "== Test cowtest-simple == cowtest-simple: OK (",
                                    "== Test fork-is-cow == fork-is-cow: OK (",
                                    "== Test cowtest-three == cowtest-three: OK\n"])
        with open(out_json) as f:
            data = json.load(f)
        self.assertEqual((data["score"], data["max_score"]), (100, 100))
        self.assertEqual(sum(POINTS.values()), 100, "the points do not add up to 100")
        self.assertEqual([t["name"] for t in data["tests"]], list(POINTS))
        self.assertEqual({t["status"] for t in data["tests"]}, {"passed"})
        with open(os.path.join(d, "extra.txt")) as f:
            self.assertIn("/cowcheck.c", f.read())
        with open(os.path.join(d, "fs.img")) as f:
            self.assertNotIn("written by the guest", f.read(),
                             "the grader booted the tree's own fs.img")
        self.assertNoQemuLeft()

    def test_cases(self):
        for name, case in GRADE_CASES.items():
            with self.subTest(case=name):
                self.new_piddir()
                tree = self.tree(name, case.get("mode", name),
                                 case.get("makefile", FAKE_MAKEFILE))
                code, out = self.grade(tree, [a for t in case.get("only", [])
                                              for a in ("--only", t)])
                if "code" in case:
                    self.assertEqual(code, case["code"], out)
                self.assertReport(out.replace("grade-cow", ""), case.get("has", ()),
                                  case.get("lacks", ()), case.get("once", ()))
                if "lines" in case:
                    self.assertLess(len(out.splitlines()), case["lines"], out)
                self.assertNoQemuLeft(ran=case.get("boots", False))

    def test_kernel_holding_the_result_strings_is_flagged(self):
        out_json = os.path.join(self.tmp, "r.json")
        code, out = self.grade(self.tree("liar", "good\nALL COW TESTS PASSED"),
                               ["--only", "cowstat", "--json", out_json])
        self.assertIn("SUSPECT: kernel/kernel holds the tests' result strings: ALL COW TESTS "
                      "PASSED", out)
        with open(out_json) as f:
            self.assertTrue(json.load(f)["note"].startswith("SUSPECT: kernel/kernel holds"))

    def test_refusals(self):
        code, out = self.grade(self.tree("good", "good"),
                               env_extra={"FAKE_QEMU_VERSION": "4.2.1"})
        self.assertEqual((code, out.strip()), (2, "fake_qemu.py 4.2 is too old: need >= 5.0 "
                                                  "(apt-get install qemu-system-misc)"))
        code, out = self.grade(self.tmp, ["--only", "nosuchtest"])
        self.assertNotEqual(code, 0, out)
        self.assertIn("unknown test nosuchtest", out)

    def test_list_shows_tests_and_protected_files(self):
        code, out = self.run_tool([GRADER, "--list"])
        self.assertEqual(code, 0)
        for name, points in POINTS.items():
            self.assertRegex(out, r"\n%s +%d " % (name, points))
        for rel in PROTECTED:
            self.assertRegex(out, r"\n%s +\w" % re.escape(rel))


class HandinTest(GraderTestBase):
    OUTPUTS = ["kernel/trap.o", "kernel/trap.d", "kernel/kernel.asm", "kernel/kernel",
               "user/_cat", "user/usys.S", "fs.img", "mkfs/mkfs", "fsroot/_cat",
               "tests/__pycache__/x.cpython-311.pyc", ".build-cow", ".extra-progs", ".gdbinit"]

    def handin(self, d, out):
        return self.run_tool([os.path.join(d, "grade-cow.py"), "--handin", out], cwd=d)

    def test_packs_sources_warns_and_grades(self):
        d = self.tree("student", "good", with_grader=True)
        for rel in self.OUTPUTS:
            self.write(os.path.join(d, rel), "built\n")
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "start"]):
            subprocess.run(["git", "-C", d, "-c", "user.name=t", "-c", "user.email=t@example.com"]
                           + args, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        self.write(os.path.join(d, "kernel", "vm.c"), "// my work\n")
        code, out = self.handin(d, "handin.tar.gz")
        self.assertEqual(code, 0, out)
        self.assertIn("handin: warning: git status shows 1 uncommitted change;", out)
        tgz = os.path.join(d, "handin.tar.gz")
        with tarfile.open(tgz) as tar:
            names = {m.name for m in tar.getmembers()}
            tar.extractall(os.path.join(self.tmp, "unpacked"))
        self.assertTrue(all(n.startswith("student/") for n in names), names)
        packed = {n[len("student/"):] for n in names}
        for rel in ["Makefile", "mode", "grade-cow.py", "kernel/vm.c"] + PROTECTED:
            self.assertIn(rel, packed)
        self.assertEqual([o for o in self.OUTPUTS if o in packed], [], "build outputs packed")
        self.assertEqual([n for n in packed if n.startswith(".git/") or n.endswith(".tar.gz")],
                         [])
        code, out = self.grade(os.path.join(self.tmp, "unpacked", "student"))
        self.assertIn("Score: 100/100", out)

    def test_no_warning_when_committed_or_outside_git(self):
        code, out = self.handin(self.tree("plain", "good", with_grader=True),
                                os.path.join(self.tmp, "h.tar.gz"))
        self.assertNotIn("warning", out)
        self.assertIn("handin: wrote", out)


class BuildOutputsTest(unittest.TestCase):
    def test_gitignore_lists_the_build_outputs(self):
        with open(os.path.join(ROOT, ".gitignore")) as f:
            lines = {l.strip() for l in f if l.strip() and not l.startswith("#")}
        self.assertEqual(lines, set(kit.BUILD_OUTPUTS))

    def test_matching(self):
        for rel in ("kernel/trap.o", "user/_cat", "fs.img", "mkfs/mkfs", "kernel/kernel",
                    "a/b/c.pyc", "handin.tar.gz"):
            self.assertTrue(kit.is_build_output(rel), rel)
        for rel in ("kernel/kernel.ld", "user/cat.c", "tests/user/_cat", "mkfs/mkfs.c",
                    "kernel/handin.tar.gz", "kernel/kernel/x", "fsroot"):
            self.assertFalse(kit.is_build_output(rel), rel)
        for rel in ("tests/__pycache__", "fsroot"):
            self.assertTrue(kit.is_build_output(rel, isdir=True), rel)


class QemuCommandLineTest(unittest.TestCase):
    """qemu_argv() and the Makefile's `make qemu` give QEMU the same command line."""

    def makefile_command(self, env):
        tmp = tempfile.mkdtemp(prefix="qemu-line-test-")
        try:
            shutil.copy(os.path.join(ROOT, "Makefile"), tmp)
            rule = "print-qemu: ; @echo $(QEMU) $(QEMUOPTS)"
            r = subprocess.run(["make", "-s", "--no-print-directory", "--eval", rule,
                                "print-qemu", "QEMU=fake-qemu", "MEM=256", "CPUS=2",
                                "TOOLS_CHECKED=1"], cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout.decode())
            return r.stdout.decode().split()
        finally:
            shutil.rmtree(tmp)

    def test_same_as_make_qemu(self):
        fw = os.path.join(TESTS, "fake_qemu.py")      # a file that exists, for the firmware
        for firmware, bios in ((fw, fw), ("/nonexistent/fw_jump.bin", "default")):
            env = dict(os.environ, OPENSBI_FW=firmware)
            for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "QEMUEXTRA"):
                env.pop(var, None)
            with mock.patch.dict(os.environ, OPENSBI_FW=firmware):
                ours = kit.qemu_argv("kernel/kernel", "fs.img", cpus=2, mem=256,
                                     qemu="fake-qemu")
            self.assertEqual(ours, self.makefile_command(env))
            self.assertEqual(ours[ours.index("-bios") + 1], bios)
            self.assertIn("256M", ours)

    def test_defaults_are_the_makefiles(self):
        with open(os.path.join(ROOT, "Makefile")) as f:
            text = f.read()
        for var, value in (("MEM", kit.MEM_DEFAULT), ("CPUS", kit.CPUS_DEFAULT),
                           ("QEMU", kit.QEMU_DEFAULT), ("OPENSBI_FW", kit.OPENSBI_FW_DEFAULT)):
            self.assertIn("\n%s ?= %s\n" % (var, value), text)


class EnsureToolsTest(unittest.TestCase):
    def test_old_qemu_diagnosed(self):
        with tempfile.TemporaryDirectory(prefix="ensure-test-") as tmp:
            qemu = os.path.join(tmp, "qemu-system-riscv64")
            with open(qemu, "w") as f:
                f.write("#!/bin/sh\necho 'QEMU emulator version 4.2.1 (Debian 1:4.2-3ubuntu6)'\n")
            os.chmod(qemu, 0o755)
            r = subprocess.run([os.path.join(ROOT, "tools", "ensure-tools.sh")],
                               env=dict(os.environ, QEMU=qemu), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        self.assertEqual(r.returncode, 1)
        self.assertIn("qemu-system-riscv64 4.2 is too old: need >= 5.0 "
                      "(apt-get install qemu-system-misc)", r.stdout.decode())


# >>> solution: the Gradescope bundle and the staff build switches exist only in the staff tree
AUTOGRADER = os.path.join(ROOT, "tools", "autograder.py")
import autograder  # noqa: E402


def sections(out):
    """An autograder's output split by submission: {name: its report}."""
    parts = re.split(r"^==== (\S+) ====\n", out, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def csv_rows(path):
    with open(path) as f:
        return {r["submission"]: r for r in csv.DictReader(f)}


class AutograderTest(GraderTestBase):
    """tools/autograder.py grading submissions, each in a copy with the protected files."""

    def batch(self, args, scale=SCALE):
        return self.run_tool([AUTOGRADER, "--qemu", FAKE_QEMU, "--pristine", self.pristine,
                              "--timeout-scale", scale] + args)

    def test_batch(self):
        good = self.tree("alice", "good")
        panic = self.tree("bob", "panic")
        tgz = os.path.join(self.tmp, "bob.tar.gz")
        with tarfile.open(tgz, "w:gz") as tar:
            tar.add(panic, arcname="bob-handin")
        shutil.rmtree(panic)
        broken = self.tree("carol", "good", makefile=BROKEN_MAKEFILE)
        garbage = self.tree("dave", "garbage")
        missing = os.path.join(self.tmp, "erin")
        out_csv = os.path.join(self.tmp, "grades.csv")
        out_json = os.path.join(self.tmp, "all.json")
        # A longer boot timeout (12s): on a loaded machine the garbage submission must
        # reach the flood limit before the prompt timeout, not after.
        code, out = self.batch(["--jobs", "3", "--csv", out_csv, "--json", out_json,
                                good, tgz, broken, garbage, missing], scale="0.2")
        self.assertEqual(code, 1, out)
        rows = csv_rows(out_csv)
        self.assertEqual(set(rows), {"alice", "bob", "carol", "dave", "erin"})
        expect = {("alice", "score"): "100", ("bob", "usertests"): "0", ("bob", "no-panic"): "0",
                  ("bob", "usertests-copyin"): str(POINTS["usertests-copyin"]),
                  ("bob", "cowtest-race"): str(POINTS["cowtest-race"]),
                  ("carol", "score"): "0", ("dave", "score"): "0"}
        for (sub, column), value in expect.items():
            self.assertEqual(rows[sub][column], value, "%s's %s" % (sub, column))
        for sub, note in (("carol", "build failed"), ("dave", "flooded"),
                          ("erin", "no such submission")):
            self.assertIn(note, rows[sub]["note"])
        self.assertEqual({r["protected_changed"] for r in rows.values()}, {""})
        self.assertIn("kernel panicked during usertests: panic: kerneltrap", out)
        self.assertIn("error: expected ; before }", out)
        self.assertRegex(out, r"alice\s+100/100\s+-\s+full score")
        bob = 100 - sum(POINTS[t] for t in ("usertests-copyout", "usertests", "no-leak",
                                             "no-panic"))
        with open(out_json) as f:
            self.assertEqual(json.load(f)["submissions"]["bob"]["score"], bob)
        self.assertNoQemuLeft()

    def test_protection_and_what_comes_from_the_submission(self):
        """One batch (--only cowtest-three and cowtest-oom, 6 points) of submissions that
        each try something; each one's report is checked on its own."""
        a = self.tree(os.path.join("a", "handin"), "good")
        b = self.tree(os.path.join("b", "handin"), "badcow")
        # The kernel fails cowtest's "three"; the edited cowtest would print "three: ok".
        cheat = self.tree("cheat", "badcow", changes={"user/cowtest.c": "TAMPERED\n",
                                                      "kernel/stat.h": None})
        # This Makefile would put a cowtest that prints "ok" into fs.img.
        mkcheat = self.tree("mkcheat", "badcow", changes={"user/extra.c": "int x;\n"},
                            makefile=FAKE_MAKEFILE.replace("cat user/cowtest.c", "echo TAMPERED"))
        # A kernel that builds only with its own user/user.h.
        ownapi = self.tree("ownapi", "good", makefile=NEEDS_OWN_USER_H,
                           changes={"user/user.h": "STUDENT-API\n"})
        big = os.path.join(self.tmp, "big.tar.gz")
        with tarfile.open(big, "w:gz") as tar, open("/dev/zero", "rb") as zeros:
            info = tarfile.TarInfo("big/zeros")
            info.size = autograder.UNPACKED_MAX + 1
            tar.addfile(info, zeros)
        only = ["--only", "cowtest-three", "--only", "cowtest-oom"]
        code, out = self.grade(cheat, only)
        self.assertIn("Score: 6/6", out, "graded in place, the edited cowtest should work")

        out_json, out_csv = os.path.join(self.tmp, "r.json"), os.path.join(self.tmp, "r.csv")
        code, out = self.batch(["--jobs", "2", "--json", out_json, "--csv", out_csv] + only
                               + [a, b, cheat, mkcheat, ownapi, big])
        self.assertEqual(code, 1, out)
        rows, report = csv_rows(out_csv), sections(out)
        self.assertEqual({n: r["score"] for n, r in rows.items()},
                         {"a/handin": "6", "b/handin": "3", "cheat": "3", "mkcheat": "3",
                          "ownapi": "0", "big": "0"}, out)
        with open(out_json) as f:
            data = json.load(f)["submissions"]

        listed = "user/cowtest.c kernel/stat.h (missing)"
        self.assertReport(report["cheat"], has=[
            "cowtest says: three: FAILED (count 3)", "Score: 3/6",
            "protected files this submission changed (graded with the grader's copies "
            "instead): " + listed])
        self.assertRegex(out, r"cheat\s+3/6\s+user/cowtest.c kernel/stat.h \(missing\)")
        self.assertEqual(data["cheat"]["extra_data"]["protected_changed"],
                         ["user/cowtest.c", "kernel/stat.h (missing)"])
        self.assertIn(listed, data["cheat"]["output"])
        self.assertEqual(rows["cheat"]["protected_changed"], listed)

        self.assertReport(report["mkcheat"], has=[
            "cowtest says: three: FAILED (count 3)",
            "built from the submission (its kernel): Makefile\n",
            "ignored (the user programs, mkfs and fs.img are the course's): mode "
            "user/extra.c\n"])
        self.assertEqual(rows["mkcheat"]["ignored_files"], "mode user/extra.c")

        self.assertReport(report["ownapi"], has=[
            "Score: 0/6", "user/cowtest.c:9: error: unknown type",
            "build failed (make exit 2) with the grader's copies of the protected files (this "
            "submission changed user/user.h)"])
        self.assertEqual(rows["ownapi"]["protected_changed"], "user/user.h")
        self.assertIn("more than the 64 MiB a submission may hold", report["big"])
        self.assertNoQemuLeft()

    def test_refusals(self):
        code, out = self.run_tool([AUTOGRADER, "--help"])
        self.assertIn("default: %d" % autograder.BATCH_BUDGET, out, "no default time budget")
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        code, out = self.run_tool([AUTOGRADER, "--qemu", FAKE_QEMU, "--pristine", empty,
                                   self.tree("good", "good")])
        self.assertEqual(code, 2)
        self.assertIn("the pristine tree %s lacks %s" % (
            empty, " ".join(["Makefile", "grade-cow.py"] + PROTECTED)), out)
        self.assertFalse(os.listdir(self.piddir), "graded without the pristine copies")


class GradescopeTest(GraderTestBase):
    """tools/autograder.py --run, as the bundle's run_autograder runs it, on a stand-in root."""

    def run_autograder(self, args, root, scale=SCALE, env_extra=None):
        return self.run_tool([AUTOGRADER, "--run", "--qemu", FAKE_QEMU, "--pristine",
                              self.pristine, "--timeout-scale", scale] + args,
                             dict(env_extra or {}, AUTOGRADER_ROOT=root))

    def fake_root(self, submission):
        return autograder.stand_in_root(os.path.join(self.tmp, "autograder"), submission)

    def test_hang_still_yields_results_within_the_budget(self):
        root = self.fake_root(self.tree("hanger", "stubborn"))
        code, out = self.run_autograder(["--time-budget", "6", "--only", "cowtest-simple",
                                         "--only", "fork-is-cow"], root, scale="1")
        self.assertEqual(code, 0, out)
        self.assertLess(self.elapsed, 6 + 15, out)
        data = self.results(root)
        tests = {t["name"]: t for t in data["tests"]}
        self.assertEqual(data["score"], POINTS["cowtest-simple"], out)
        self.assertEqual(tests["cowtest-simple"]["status"], "passed")
        self.assertIn("'cowcheck': the time budget of 6s ran out", tests["fork-is-cow"]["output"])
        self.assertEqual(data["visibility"], "visible")
        self.assertNoQemuLeft()

    @unittest.skipIf(os.geteuid() != 0, "the build runs as another user only under root")
    def test_the_build_cannot_write_the_results_nor_outlive_the_grading(self):
        root = os.path.join(self.tmp, "autograder")
        results = os.path.join(root, "results", "results.json")
        evil = ("r=%s; mkdir -p $r.tmp; echo '{\"score\": 100}' > $r\n"
                "setsid sh -c \"while :; do echo '{}' > $r; sleep 0.2; done\" >/dev/null 2>&1 &\n"
                "setsid sleep 4242 </dev/null >/dev/null 2>&1 &\n"
                "grep NoNewPrivs /proc/self/status > %s/evil-ran\n"
                % (results, self.piddir))
        sub = self.tree("evil", "badcow", changes={"evil.sh": evil}, makefile=FAKE_MAKEFILE.replace(
            "\tcp mode kernel/kernel\n", "\tcp mode kernel/kernel\n\tsh evil.sh\n"))
        self.fake_root(sub)
        os.makedirs(os.path.join(results, "in-the-way"))    # a directory where the file goes
        code, out = self.run_autograder(["--only", "cowtest-three", "--only", "cowtest-oom"],
                                        root)
        time.sleep(0.5)
        with open(os.path.join(self.piddir, "evil-ran")) as f:     # no set-user-id to root
            self.assertEqual(f.read().split(), ["NoNewPrivs:", "1"], out)
        os.unlink(os.path.join(self.piddir, "evil-ran"))
        self.assertEqual(self.results(root)["score"], POINTS["cowtest-oom"], out)
        self.assertEqual(running(b"4242") + running(b"while :"), [],
                         "processes the build started are still running")

    def test_tarball_or_nothing(self):
        tgz = os.path.join(self.tmp, "handin.tar.gz")
        with tarfile.open(tgz, "w:gz") as tar:
            tar.add(self.tree("good", "good"), arcname="xv6")
        root = self.fake_root(tgz)
        code, out = self.run_autograder(["--visibility", "after_due_date"], root)
        data = self.results(root)
        self.assertEqual(data["score"], 100, out)
        self.assertEqual({t["visibility"] for t in data["tests"]}, {"after_due_date"})
        os.unlink(os.path.join(root, "submission", "handin.tar.gz"))
        for env, why in (({}, "no tree (a Makefile next to kernel/) and no .tar.gz"),
                         ({"FAKE_QEMU_VERSION": "4.2.1"},
                          "the autograder cannot grade here: fake_qemu.py 4.2 is too old")):
            code, out = self.run_autograder([], root, env_extra=env)
            self.assertEqual(code, 0, out)
            data = self.results(root)
            self.assertEqual(data["score"], 0, out)
            self.assertIn(why, data["tests"][0]["output"])


class AutograderBundleTest(GraderTestBase):
    def test_bundle_layout_and_run(self):
        import zipfile
        bundle = os.path.join(self.tmp, "autograder.zip")
        code, out = self.run_tool([AUTOGRADER, "--make", bundle,
                                   "--flags=--time-budget 60 --timeout-scale " + SCALE])
        self.assertEqual(code, 0, out)
        root = os.path.join(self.tmp, "autograder")
        source = os.path.join(root, "source")
        with zipfile.ZipFile(bundle) as z:
            names = z.namelist()
            for name in ("setup.sh", "run_autograder"):
                self.assertEqual(z.getinfo(name).external_attr >> 16 & 0o777, 0o755)
            z.extractall(source)
            for info in z.infolist():
                os.chmod(os.path.join(source, info.filename), info.external_attr >> 16 & 0o777)
        self.assertLessEqual({"setup.sh", "run_autograder", "grade-cow.py", "Makefile",
                              "tools/xv6kit.py", "tools/autograder.py"} | set(PROTECTED),
                             set(names))
        self.assertNotIn("kernel/cow.c", names)
        for rel in PROTECTED:
            with open(os.path.join(source, rel), "rb") as a, \
                    open(os.path.join(ROOT, rel), "rb") as b:
                self.assertEqual(a.read(), b.read(), rel)
        with open(os.path.join(source, "grade-cow.py")) as f:
            self.assertNotIn("COW=1", f.read(), "not the handout's grade-cow.py")
        autograder.stand_in_root(root, self.tree("good", "good", pristine=ROOT))
        self.write(os.path.join(source, "Makefile"), FAKE_MAKEFILE)   # an fs.img fake_qemu reads
        shutil.copy(os.path.join(source, "run_autograder"), root)   # as Gradescope does
        env = dict(os.environ, AUTOGRADER_ROOT=root, QEMU=FAKE_QEMU,
                   FAKE_QEMU_PIDDIR=self.piddir)
        r = subprocess.run([os.path.join(root, "run_autograder")], cwd=root, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout.decode())
        data = self.results(root)
        self.assertEqual((data["score"], data["extra_data"]["protected_changed"]), (100, []))

    def test_protected_files_are_what_the_handout_ships(self):
        # The handout resolves staff switches and drops marked blocks; a protected file
        # with neither is the same in the staff tree, the starter and the bundle.
        for rel in PROTECTED:
            with open(os.path.join(ROOT, rel)) as f:
                text = f.read()
            for word in ("COW_FORK", "LOG_SYNC_COMMIT", "TRAP_FULL_FLUSH", "# >>> solution"):
                self.assertNotIn(word, text, rel)
# <<< solution


if __name__ == "__main__":
    unittest.main()
