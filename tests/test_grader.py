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

TESTS = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(TESTS)
GRADER = os.path.join(ROOT, "grade-cow.py")
KIT = os.path.join(ROOT, "tools", "xv6kit.py")
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


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class GraderTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="grade-test-")
        self.piddir = os.path.join(self.tmp, "pids")
        os.mkdir(self.piddir)
        os.chmod(self.tmp, 0o711)       # the fake QEMU may run as an unprivileged user
        os.chmod(self.piddir, 0o777)
        # The grader's copies of the protected files, as course staff have them.
        self.pristine = os.path.join(self.tmp, "pristine")
        for rel in PROTECTED:
            self.write(os.path.join(self.pristine, rel), "the grader's %s\n" % rel)
        self.write(os.path.join(self.pristine, "Makefile"), FAKE_MAKEFILE)
        self.add_grader(self.pristine)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

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
        shutil.copy(KIT, os.path.join(d, "tools"))

    def run_tool(self, argv, env_extra=None):
        env = dict(os.environ, FAKE_QEMU_PIDDIR=self.piddir)
        env.pop("MAKEFLAGS", None)
        env.update(env_extra or {})
        start = time.monotonic()
        r = subprocess.run([sys.executable] + argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                           timeout=300)
        self.elapsed = time.monotonic() - start
        return r.returncode, r.stdout.decode()

    def grade(self, tree, args=(), grader=GRADER, env_extra=None, scale=SCALE):
        """grade-cow.py on tree, in place, with the fake QEMU."""
        return self.run_tool([grader, "--tree", tree, "--qemu", FAKE_QEMU, "--timeout-scale",
                              scale] + list(args), env_extra)

    def assertNoQemuLeft(self):
        pids = [int(p) for p in os.listdir(self.piddir)]
        self.assertTrue(pids, "the fake QEMU never ran")
        left = [p for p in pids if alive(p)]
        self.assertEqual(left, [], "QEMU processes left running")

    def results(self, root):
        with open(os.path.join(root, "results", "results.json")) as f:
            data = json.load(f)
        self.assertGradescopeFormat(data)
        return data

    def assertGradescopeFormat(self, data):
        for key in ("score", "execution_time", "output", "visibility", "stdout_visibility",
                    "extra_data", "tests"):
            self.assertIn(key, data)
        for t in data["tests"]:
            self.assertEqual(set(t), {"name", "score", "max_score", "status", "output",
                                      "visibility"})
            self.assertIn(t["status"], ("passed", "failed"))
            self.assertEqual(t["score"], t["max_score"] if t["status"] == "passed" else 0)


class GraderTest(GraderTestBase):
    def test_full_score_in_place(self):
        d = self.tree("good", "good", with_grader=True)
        out_json = os.path.join(self.tmp, "r.json")
        code, out = self.run_tool([os.path.join(d, "grade-cow.py"), "--qemu", FAKE_QEMU,
                                   "--timeout-scale", SCALE, "--json", out_json])
        self.assertEqual(code, 0, out)
        self.assertIn("Score: 100/100", out)
        self.assertIn("== Test cowtest-simple == cowtest-simple: OK (", out)
        with open(out_json) as f:
            data = json.load(f)
        self.assertEqual((data["score"], data["max_score"]), (100, 100))
        self.assertEqual([t["name"] for t in data["tests"]], list(POINTS))
        self.assertEqual({t["status"] for t in data["tests"]}, {"passed"})
        with open(os.path.join(d, "extra.txt")) as f:
            self.assertIn("/cowcheck.c", f.read())
        with open(os.path.join(d, "fs.img")) as f:
            self.assertNotIn("written by the guest", f.read(),
                             "the grader booted the tree's own fs.img")
        self.assertNoQemuLeft()

    def test_points_add_up_to_100(self):
        self.assertEqual(sum(POINTS.values()), 100)

    def test_a_leak_costs_once(self):
        code, out = self.grade(self.tree("leaky", "leak"))
        self.assertIn("Score: %d/100" % (100 - POINTS["no-leak"]), out)
        self.assertIn("no-leak: FAIL", out)
        self.assertIn("cowtest says: leak: FAILED (expected free pages unchanged, saw 3)", out)
        self.assertIn("usertests: OK", out)

    def test_failing_usertest_shows_its_own_lines(self):
        code, out = self.grade(self.tree("copy", "copyfail"), ["--only", "usertests-copyout",
                                                               "--only", "usertests"])
        self.assertIn("usertests: test copyout: FAILED", out)
        self.assertIn("| copyout: expected -1 from read into text, saw 512", out)
        self.assertIn("usertests: OK", out)     # copyout is not charged twice
        self.assertNotIn("pipebadread", out)

    def test_panic_at_every_boot_is_short(self):
        code, out = self.grade(self.tree("broken", "bootpanic"))
        self.assertEqual(code, 1)
        self.assertIn("Score: 0/100", out)
        self.assertLess(len(out.splitlines()), 100, out)
        self.assertEqual(out.count("| panic: main: no disk"), 1, out)
        self.assertNotIn("Platform line", out)
        self.assertIn("kernel panicked during cowtest, cowcheck, usertests: panic: main: no "
                      "disk", out)
        self.assertNoQemuLeft()

    def test_failed_cowtest_shows_its_own_lines(self):
        code, out = self.grade(self.tree("badcow", "badcow"), ["--only", "cowtest-three",
                                                               "--only", "cowtest-oom"])
        self.assertIn("cowtest says: three: FAILED (count 3)", out)
        self.assertIn("    | three: child saw 2\n    | three: FAILED (count 3)\n", out)
        self.assertNotIn("simple: ok", out)
        self.assertIn("cowtest-oom: OK", out)
        self.assertIn("Score: 3/6", out)

    def test_lines_without_the_token_or_saying_both_count_for_nothing(self):
        for mode in ("forge", "bothsay"):   # the kernel prints ok lines; three says both
            code, out = self.grade(self.tree(mode, mode), ["--only", "cowtest-three",
                                                           "--only", "cowtest-oom"])
            self.assertIn("Score: 3/6", out)
            self.assertIn("cowtest says: three: FAILED", out)
        self.assertIn("three: FAILED (its output says both ok and FAILED)", out)

    def test_lines_a_kernel_message_broke_into_still_count(self):
        code, out = self.grade(self.tree("mixed", "interleave"), ["--only", "cowtest-simple",
                                                                  "--only", "cowtest-three"])
        self.assertIn("Score: 6/6", out)

    def test_kernel_holding_the_result_strings_is_flagged(self):
        out_json = os.path.join(self.tmp, "r.json")
        code, out = self.grade(self.tree("liar", "good\nALL COW TESTS PASSED"),
                               ["--only", "cowstat", "--json", out_json])
        self.assertIn("SUSPECT: kernel/kernel holds the tests' result strings: ALL COW TESTS "
                      "PASSED", out)
        with open(out_json) as f:
            self.assertTrue(json.load(f)["note"].startswith("SUSPECT: kernel/kernel holds"))

    def test_hang_is_killed_even_if_qemu_ignores_sigterm(self):
        code, out = self.grade(self.tree("hanger", "stubborn"),
                               ["--only", "fork-is-cow", "--only", "cowstat"])
        self.assertEqual(code, 1)
        self.assertIn("fork-is-cow: FAIL", out)
        self.assertIn("'cowcheck': timeout after", out)
        self.assertEqual(out.count("| cowcheck: touched 8192 pages"), 1, out)
        self.assertIn("'cowstat' never ran ('cowcheck': timeout after", out)
        self.assertNotIn("cowtest", out.replace("grade-cow", ""))
        self.assertNoQemuLeft()

    def test_eager_fork_detected(self):
        code, out = self.grade(self.tree("eager", "eager"), ["--only", "fork-is-cow"])
        self.assertEqual(code, 1)
        self.assertIn("allocated 8231 pages (limit 256): fork copies memory", out)

    def test_makefile_without_extra_progs(self):
        code, out = self.grade(self.tree("noexec", "good", makefile=FAKE_MAKEFILE.replace(
            " $(basename $(notdir $(EXTRA_PROGS)))", "")), ["--only", "fork-is-cow"])
        self.assertIn("does the Makefile honour EXTRA_PROGS?", out)

    def test_no_boot(self):
        code, out = self.grade(self.tree("silent", "noprompt"), ["--only", "no-panic"])
        self.assertEqual(code, 1)
        self.assertIn("never reached the shell (no shell prompt: timeout", out)
        self.assertNoQemuLeft()

    def test_build_log_shown_once(self):
        code, out = self.grade(self.tree("carol", "good", makefile=BROKEN_MAKEFILE))
        self.assertEqual(code, 1)
        self.assertIn("| kernel/trap.c:12:3: error: expected ; before }", out)
        self.assertEqual(out.count("| make: Entering directory"), 1, out)
        self.assertIn("build: build failed (make exit 2)", out)
        self.assertLess(len(out.splitlines()), 70, out)

    def test_old_qemu_refused(self):
        code, out = self.grade(self.tree("good", "good"),
                               env_extra={"FAKE_QEMU_VERSION": "4.2.1"})
        self.assertEqual(code, 2)
        self.assertEqual(out.strip(), "fake_qemu.py 4.2 is too old: need >= 5.0 "
                                      "(apt-get install qemu-system-misc)")

    def test_unknown_test_name(self):
        code, out = self.grade(self.tmp, ["--only", "nosuchtest"])
        self.assertNotEqual(code, 0)
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

    def git(self, d, *args):
        subprocess.run(["git", "-C", d, "-c", "user.name=t", "-c", "user.email=t@example.com"]
                       + list(args), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def test_packs_sources_warns_and_grades(self):
        d = self.tree("student", "good", with_grader=True)
        for rel in self.OUTPUTS:
            self.write(os.path.join(d, rel), "built\n")
        self.git(d, "init", "-q")
        self.git(d, "add", "-A")
        self.git(d, "commit", "-q", "-m", "start")
        self.write(os.path.join(d, "kernel", "vm.c"), "// my work\n")
        r = subprocess.run([sys.executable, os.path.join(d, "grade-cow.py"), "--handin",
                            "handin.tar.gz"], cwd=d, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("handin: warning: git status shows 1 uncommitted change;", out)
        tgz = os.path.join(d, "handin.tar.gz")
        with tarfile.open(tgz) as tar:
            names = {m.name for m in tar.getmembers()}
        self.assertTrue(all(n.startswith("student/") for n in names), names)
        packed = {n[len("student/"):] for n in names}
        for rel in ["Makefile", "mode", "grade-cow.py", "kernel/vm.c"] + PROTECTED:
            self.assertIn(rel, packed)
        self.assertEqual([o for o in self.OUTPUTS if o in packed], [])
        self.assertEqual([n for n in packed if n.startswith(".git/") or n.endswith(".tar.gz")],
                         [])
        unpacked = os.path.join(self.tmp, "unpacked")
        with tarfile.open(tgz) as tar:
            tar.extractall(unpacked)
        code, out = self.grade(os.path.join(unpacked, "student"))
        self.assertIn("Score: 100/100", out)

    def test_no_warning_when_committed_or_outside_git(self):
        d = self.tree("plain", "good", with_grader=True)
        r = subprocess.run([sys.executable, os.path.join(d, "grade-cow.py"), "--handin",
                            os.path.join(self.tmp, "h.tar.gz")], cwd=d, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        self.assertNotIn("warning", r.stdout.decode())
        self.assertIn("handin: wrote", r.stdout.decode())


class BuildOutputsTest(unittest.TestCase):
    def test_gitignore_lists_the_build_outputs(self):
        with open(os.path.join(ROOT, ".gitignore")) as f:
            lines = {l.strip() for l in f if l.strip() and not l.startswith("#")}
        self.assertEqual(lines, set(kit.BUILD_OUTPUTS))

    def test_matching(self):
        g = kit
        for rel in ("kernel/trap.o", "user/_cat", "fs.img", "mkfs/mkfs", "kernel/kernel",
                    "a/b/c.pyc", "handin.tar.gz"):
            self.assertTrue(g.is_build_output(rel), rel)
        for rel in ("kernel/kernel.ld", "user/cat.c", "tests/user/_cat", "mkfs/mkfs.c",
                    "kernel/handin.tar.gz", "kernel/kernel/x"):
            self.assertFalse(g.is_build_output(rel), rel)
        self.assertTrue(g.is_build_output("tests/__pycache__", isdir=True))
        self.assertTrue(g.is_build_output("fsroot", isdir=True))
        self.assertFalse(g.is_build_output("fsroot"))


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
            old = os.environ.get("OPENSBI_FW")
            os.environ["OPENSBI_FW"] = firmware
            try:
                ours = kit.qemu_argv("kernel/kernel", "fs.img", cpus=2, mem=256,
                                     qemu="fake-qemu")
            finally:
                if old is None:
                    del os.environ["OPENSBI_FW"]
                else:
                    os.environ["OPENSBI_FW"] = old
            self.assertEqual(ours, self.makefile_command(env))
            self.assertEqual(ours[ours.index("-bios") + 1], bios)
            self.assertIn("256M", ours)

    def test_defaults_are_the_makefiles(self):
        with open(os.path.join(ROOT, "Makefile")) as f:
            text = f.read()
        g = kit
        for var, value in (("MEM", g.MEM_DEFAULT), ("CPUS", g.CPUS_DEFAULT),
                           ("QEMU", g.QEMU_DEFAULT), ("OPENSBI_FW", g.OPENSBI_FW_DEFAULT)):
            self.assertIn("\n%s ?= %s\n" % (var, value), text)


class EnsureToolsTest(unittest.TestCase):
    def test_old_qemu_diagnosed(self):
        tmp = tempfile.mkdtemp(prefix="ensure-test-")
        try:
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
        finally:
            shutil.rmtree(tmp)


# >>> solution: the Gradescope bundle and the staff build switches exist only in the staff tree
AUTOGRADER = os.path.join(ROOT, "tools", "autograder.py")


class AutograderTest(GraderTestBase):
    """tools/autograder.py grading submissions, each in a copy with the protected files."""

    def batch(self, args, scale=SCALE, env_extra=None):
        return self.run_tool([AUTOGRADER, "--qemu", FAKE_QEMU, "--pristine", self.pristine,
                              "--timeout-scale", scale] + args, env_extra)

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
        with open(out_csv) as f:
            rows = {r["submission"]: r for r in csv.DictReader(f)}
        self.assertEqual(set(rows), {"alice", "bob", "carol", "dave", "erin"})
        self.assertEqual(rows["alice"]["score"], "100")
        self.assertEqual(rows["bob"]["usertests-copyin"], str(POINTS["usertests-copyin"]))
        self.assertEqual(rows["bob"]["usertests"], "0")
        self.assertEqual(rows["bob"]["no-panic"], "0")
        self.assertEqual(rows["bob"]["cowtest-race"], str(POINTS["cowtest-race"]))
        self.assertIn("build failed", rows["carol"]["note"])
        self.assertEqual(rows["carol"]["score"], "0")
        self.assertEqual(rows["dave"]["score"], "0")
        self.assertIn("flooded", rows["dave"]["note"])
        self.assertIn("no such submission", rows["erin"]["note"])
        self.assertEqual({r["protected_changed"] for r in rows.values()}, {""})
        self.assertIn("kernel panicked during usertests: panic: kerneltrap", out)
        self.assertIn("error: expected ; before }", out)
        self.assertRegex(out, r"alice\s+100/100\s+-\s+full score")
        bob = 100 - sum(POINTS[t] for t in ("usertests-copyout", "usertests", "no-leak",
                                             "no-panic"))
        with open(out_json) as f:
            self.assertEqual(json.load(f)["submissions"]["bob"]["score"], bob)
        self.assertNoQemuLeft()

    def test_same_names_keep_a_row_each(self):
        a = self.tree(os.path.join("a", "handin"), "good")
        b = self.tree(os.path.join("b", "handin"), "badcow")
        out_csv = os.path.join(self.tmp, "grades.csv")
        code, out = self.batch(["--jobs", "2", "--csv", out_csv, "--only", "cowtest-three",
                                a, b])
        with open(out_csv) as f:
            rows = {r["submission"]: r["score"] for r in csv.DictReader(f)}
        self.assertEqual(rows, {"a/handin": "3", "b/handin": "0"}, out)

    def test_tampered_cowtest_is_replaced_and_reported(self):
        # The kernel fails cowtest's "three"; the edited cowtest would print "three: ok".
        changes = {"user/cowtest.c": "TAMPERED\n", "kernel/stat.h": None}
        cheat = self.tree("cheat", "badcow", changes=changes)
        only = ["--only", "cowtest-three", "--only", "cowtest-oom"]
        # Graded in place (no protection) the edit works: the test can tell.
        code, out = self.grade(cheat, only)
        self.assertIn("Score: 6/6", out)
        out_json, out_csv = os.path.join(self.tmp, "r.json"), os.path.join(self.tmp, "r.csv")
        code, out = self.batch(only + ["--json", out_json, "--csv", out_csv, cheat])
        self.assertIn("cowtest says: three: FAILED (count 3)", out)
        self.assertIn("Score: 3/6", out)
        listed = "user/cowtest.c kernel/stat.h (missing)"
        self.assertIn("protected files this submission changed (graded with the grader's "
                      "copies instead): " + listed, out)
        self.assertRegex(out, r"cheat\s+3/6\s+user/cowtest.c kernel/stat.h \(missing\)")
        with open(out_json) as f:
            data = json.load(f)
        self.assertEqual(data["extra_data"]["protected_changed"],
                         ["user/cowtest.c", "kernel/stat.h (missing)"])
        self.assertIn(listed, data["output"])
        with open(out_csv) as f:
            row = next(csv.DictReader(f))
        self.assertEqual(row["protected_changed"], listed)
        self.assertEqual(row["score"], "3")

    def test_only_the_kernel_comes_from_the_submission(self):
        # This Makefile would put a cowtest that prints "ok" into fs.img.
        cheat = self.tree("cheat", "badcow", changes={"user/extra.c": "int x;\n"},
                          makefile=FAKE_MAKEFILE.replace("cat user/cowtest.c", "echo TAMPERED"))
        out_csv = os.path.join(self.tmp, "r.csv")
        code, out = self.batch(["--only", "cowtest-three", "--csv", out_csv, cheat])
        self.assertIn("Score: 0/3", out)
        self.assertIn("built from the submission (its kernel): Makefile\n", out)
        self.assertIn("ignored (the user programs, mkfs and fs.img are the course's): mode "
                      "user/extra.c\n", out)
        with open(out_csv) as f:
            self.assertEqual(next(csv.DictReader(f))["ignored_files"], "mode user/extra.c")

    def test_kernel_that_needs_its_own_test_files_scores_zero(self):
        d = self.tree("ownapi", "good", makefile=NEEDS_OWN_USER_H,
                      changes={"user/user.h": "STUDENT-API\n"})
        out_csv = os.path.join(self.tmp, "r.csv")
        code, out = self.batch(["--csv", out_csv, d])
        self.assertEqual(code, 1)
        self.assertIn("Score: 0/100", out)
        self.assertIn("build failed (make exit 2) with the grader's copies of the protected "
                      "files (this submission changed user/user.h)", out)
        self.assertIn("user/cowtest.c:9: error: unknown type", out)
        with open(out_csv) as f:
            row = next(csv.DictReader(f))
        self.assertEqual((row["score"], row["protected_changed"]), ("0", "user/user.h"))

    def test_missing_pristine_copies_stop_before_grading(self):
        d = self.tree("good", "good")
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        code, out = self.run_tool([AUTOGRADER, "--qemu", FAKE_QEMU, "--pristine", empty, d])
        self.assertEqual(code, 2)
        self.assertIn("the pristine tree %s lacks %s" % (
            empty, " ".join(["Makefile", "grade-cow.py"] + PROTECTED)), out)
        self.assertFalse(os.listdir(self.piddir), "graded without the pristine copies")

    def test_a_hung_submission_has_a_budget_by_default(self):
        code, out = self.run_tool([AUTOGRADER, "--help"])
        self.assertIn("default: %d" % __import__("autograder").BATCH_BUDGET, out)
        tgz = os.path.join(self.tmp, "big.tar.gz")
        with tarfile.open(tgz, "w:gz") as tar, open("/dev/zero", "rb") as zeros:
            info = tarfile.TarInfo("big/zeros")
            info.size = __import__("autograder").UNPACKED_MAX + 1
            tar.addfile(info, zeros)
        code, out = self.batch(["--only", "cowstat", tgz])
        self.assertIn("more than the 64 MiB a submission may hold", out)


class GradescopeTest(GraderTestBase):
    """tools/autograder.py --run, as the bundle's run_autograder runs it, on a stand-in root."""

    def run_autograder(self, args, root, scale=SCALE, env_extra=None):
        return self.run_tool([AUTOGRADER, "--run", "--qemu", FAKE_QEMU, "--pristine",
                              self.pristine, "--timeout-scale", scale] + args,
                             dict(env_extra or {}, AUTOGRADER_ROOT=root))

    def fake_root(self, submission):
        import autograder
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
                "setsid sleep 4242 </dev/null >/dev/null 2>&1 &\ntouch %s/evil-ran\n"
                % (results, self.piddir))
        sub = self.tree("evil", "badcow", changes={"evil.sh": evil}, makefile=FAKE_MAKEFILE.replace(
            "\tcp mode kernel/kernel\n", "\tcp mode kernel/kernel\n\tsh evil.sh\n"))
        self.fake_root(sub)
        os.makedirs(os.path.join(results, "in-the-way"))    # a directory where the file goes
        code, out = self.run_autograder(["--only", "cowtest-three", "--only", "cowtest-oom"],
                                        root)
        time.sleep(0.5)
        self.assertTrue(os.path.exists(os.path.join(self.piddir, "evil-ran")), out)
        os.unlink(os.path.join(self.piddir, "evil-ran"))
        self.assertEqual(self.results(root)["score"], POINTS["cowtest-oom"], out)
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            left += [pid] if b"4242" in cmd or b"while :" in cmd else []
        self.assertEqual(left, [], "processes the build started are still running")

    def test_tarball_or_nothing(self):
        good = self.tree("good", "good")
        tgz = os.path.join(self.tmp, "handin.tar.gz")
        with tarfile.open(tgz, "w:gz") as tar:
            tar.add(good, arcname="xv6")
        root = self.fake_root(tgz)
        code, out = self.run_autograder(["--visibility", "after_due_date"], root)
        data = self.results(root)
        self.assertEqual(data["score"], 100, out)
        self.assertEqual({t["visibility"] for t in data["tests"]}, {"after_due_date"})
        os.unlink(os.path.join(root, "submission", "handin.tar.gz"))
        code, out = self.run_autograder([], root)
        self.assertEqual(code, 0, out)
        data = self.results(root)
        self.assertEqual(data["score"], 0)
        self.assertIn("no tree (a Makefile next to kernel/) and no .tar.gz",
                      data["tests"][0]["output"])
        code, out = self.run_autograder([], root, env_extra={"FAKE_QEMU_VERSION": "4.2.1"})
        self.assertEqual(code, 0, out)
        self.assertIn("the autograder cannot grade here: fake_qemu.py 4.2 is too old",
                      self.results(root)["tests"][0]["output"])


class AutograderBundleTest(GraderTestBase):
    def test_bundle_layout_and_run(self):
        import zipfile
        bundle = os.path.join(self.tmp, "autograder.zip")
        r = subprocess.run([sys.executable, AUTOGRADER, "--make", bundle,
                            "--flags=--time-budget 60 --timeout-scale " + SCALE],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout.decode())
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
        import autograder
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
