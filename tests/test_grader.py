#!/usr/bin/env python3
"""Host-side tests of grade-cow.py and tools/ensure-tools.sh, with a fake QEMU (fake_qemu.py)
and fake submission trees whose Makefile only pretends to build. Standard library only."""

import csv
import json
import os
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
FAKE_QEMU = os.path.join(TESTS, "fake_qemu.py")
SCALE = "0.05"      # boot timeout 3s, cowcheck 4.5s: plenty for the fake

FAKE_MAKEFILE = """\
kernel/kernel:
\tcp mode kernel/kernel
fs.img:
\techo image > fs.img
\techo '$(EXTRA_PROGS)' > extra.txt
"""

BROKEN_MAKEFILE = """\
kernel/kernel fs.img:
\t@echo 'kernel/trap.c:12:3: error: expected ; before }'
\t@exit 1
"""


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


class GraderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="grade-test-")
        self.piddir = os.path.join(self.tmp, "pids")
        os.mkdir(self.piddir)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def tree(self, name, mode, makefile=FAKE_MAKEFILE, with_grader=False):
        d = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(d, "kernel"))
        with open(os.path.join(d, "Makefile"), "w") as f:
            f.write(makefile)
        with open(os.path.join(d, "mode"), "w") as f:
            f.write(mode + "\n")
        if with_grader:
            shutil.copy(GRADER, d)
        return d

    def grade(self, args, grader=GRADER, env_extra=None, scale=SCALE):
        env = dict(os.environ, FAKE_QEMU_PIDDIR=self.piddir)
        env.pop("MAKEFLAGS", None)
        env.update(env_extra or {})
        start = time.monotonic()
        r = subprocess.run([sys.executable, grader, "--qemu", FAKE_QEMU,
                            "--timeout-scale", scale] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, env=env, timeout=300)
        self.elapsed = time.monotonic() - start
        return r.returncode, r.stdout.decode()

    def assertNoQemuLeft(self):
        pids = [int(p) for p in os.listdir(self.piddir)]
        self.assertTrue(pids, "the fake QEMU never ran")
        left = [p for p in pids if alive(p)]
        self.assertEqual(left, [], "QEMU processes left running")

    def test_full_score_in_place(self):
        d = self.tree("good", "good", with_grader=True)
        out_json = os.path.join(self.tmp, "r.json")
        code, out = self.grade(["--json", out_json], grader=os.path.join(d, "grade-cow.py"))
        self.assertEqual(code, 0, out)
        self.assertIn("Score: 100/100", out)
        self.assertIn("== Test cowtest-simple == cowtest-simple: OK (", out)
        with open(out_json) as f:
            data = json.load(f)
        self.assertEqual(data["score"], 100)
        self.assertEqual(len(data["tests"]), 18)
        for t in data["tests"]:
            self.assertEqual(set(t), {"name", "score", "max_score", "status", "output"})
            self.assertEqual(t["status"], "passed")
        with open(os.path.join(d, "extra.txt")) as f:
            self.assertTrue(f.read().strip().endswith("/cowcheck.c"))
        with open(os.path.join(d, "fs.img")) as f:
            self.assertEqual(f.read(), "image\n", "the grader booted the tree's own fs.img")
        self.assertNoQemuLeft()

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
        code, out = self.grade(["--jobs", "3", "--csv", out_csv, "--json", out_json,
                                good, tgz, broken, garbage, missing], scale="0.2")
        self.assertEqual(code, 1, out)
        with open(out_csv) as f:
            rows = {r["submission"]: r for r in csv.DictReader(f)}
        self.assertEqual(set(rows), {"alice", "bob", "carol", "dave", "erin"})
        self.assertEqual(rows["alice"]["score"], "100")
        self.assertEqual(rows["bob"]["usertests-copyin"], "4")
        self.assertEqual(rows["bob"]["usertests"], "0")
        self.assertEqual(rows["bob"]["no-panic"], "0")
        self.assertEqual(rows["bob"]["cowtest-leak"], "4")
        self.assertIn("build failed", rows["carol"]["note"])
        self.assertEqual(rows["carol"]["score"], "0")
        self.assertEqual(rows["dave"]["score"], "0")
        self.assertIn("flooded", rows["dave"]["note"])
        self.assertIn("no such submission", rows["erin"]["note"])
        self.assertIn("kernel panicked during usertests: panic: kerneltrap", out)
        self.assertIn("error: expected ; before }", out)
        self.assertRegex(out, r"alice\s+100/100\s+full score")
        with open(out_json) as f:
            self.assertEqual(json.load(f)["submissions"]["bob"]["score"], 64)
        self.assertNoQemuLeft()

    def test_hang_is_killed_even_if_qemu_ignores_sigterm(self):
        d = self.tree("hanger", "stubborn")
        code, out = self.grade(["--only", "fork-is-cow", "--only", "cowstat", d])
        self.assertEqual(code, 1)
        self.assertIn("fork-is-cow: FAIL", out)
        self.assertIn("'cowcheck': timeout after", out)
        self.assertIn("cowcheck: touched 8192 pages", out)   # the console tail
        self.assertNotIn("cowtest", out.replace("grade-cow", ""))
        self.assertNoQemuLeft()

    def test_eager_fork_detected(self):
        d = self.tree("eager", "eager")
        code, out = self.grade(["--only", "fork-is-cow", d])
        self.assertEqual(code, 1)
        self.assertIn("allocated 8231 pages (limit 256): fork copies memory", out)

    def test_missing_checker_and_failed_subtest(self):
        d = self.tree("noexec", "noexec")
        code, out = self.grade(["--only", "fork-is-cow", d])
        self.assertIn("cowcheck is not in fs.img", out)
        d = self.tree("badcow", "badcow")
        code, out = self.grade(["--only", "cowtest-three", "--only", "cowtest-oom", d])
        self.assertIn("cowtest-three: FAIL", out)
        self.assertIn("cowtest says: three: FAILED (count 3)", out)
        self.assertIn("cowtest-oom: OK", out)
        self.assertIn("Score: 4/8", out)

    def test_no_boot(self):
        d = self.tree("silent", "noprompt")
        code, out = self.grade(["--only", "no-panic", d])
        self.assertEqual(code, 1)
        self.assertIn("never reached the shell (no shell prompt: timeout", out)
        self.assertNoQemuLeft()

    def test_old_qemu_refused(self):
        d = self.tree("good", "good")
        code, out = self.grade([d], env_extra={"FAKE_QEMU_VERSION": "4.2.1"})
        self.assertEqual(code, 2)
        self.assertEqual(out.strip(), "fake_qemu.py 4.2 is too old: need >= 5.0 "
                                      "(apt-get install qemu-system-misc)")

    def test_unknown_test_name(self):
        code, out = self.grade(["--only", "nosuchtest", self.tmp])
        self.assertNotEqual(code, 0)
        self.assertIn("unknown test nosuchtest", out)


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


if __name__ == "__main__":
    unittest.main()
