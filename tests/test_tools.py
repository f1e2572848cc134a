#!/usr/bin/env python3
"""Host-side tests of the set-up path: tools/ensure-tools.sh and the Makefile's use of it.
A QEMU that is too old is refused by `make qemu` with one line before anything boots; a
machine without apt-get gets one line naming the Debian packages to install."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

TESTS = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(TESTS)
ENSURE = os.path.join(ROOT, "tools", "ensure-tools.sh")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import xv6kit as kit  # noqa: E402
OLD = "qemu-system-riscv64 4.2 is too old: need >= 5.0 (apt-get install qemu-system-misc)"


def clean_env(**extra):
    """make's plumbing dropped, and TOOLS_CHECKED empty so that make runs the check."""
    return kit.clean_env(TOOLS_CHECKED="", **extra)


class ToolsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tools-test-")
        # A fake QEMU 4.2 that would leave a mark if anything tried to boot with it.
        self.booted = os.path.join(self.tmp, "booted")
        self.qemu = os.path.join(self.tmp, "qemu-system-riscv64")
        with open(self.qemu, "w") as f:
            f.write("#!/bin/sh\n"
                    "if [ \"$1\" = --version ]; then\n"
                    "  echo 'QEMU emulator version 4.2.1 (Debian 1:4.2-3ubuntu6)'; exit 0\n"
                    "fi\n"
                    "touch %s\n" % self.booted)
        os.chmod(self.qemu, 0o755)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_make_qemu_refuses_old_qemu(self):
        r = subprocess.run(["make", "-s", "qemu", "QEMU=" + self.qemu], cwd=ROOT,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=clean_env(), timeout=600)
        out = r.stdout.decode()
        self.assertNotEqual(r.returncode, 0, out)
        said = [l for l in out.splitlines() if l.startswith("ensure-tools:")]
        self.assertEqual(said, ["ensure-tools: " + OLD.replace("qemu-system-riscv64",
                                                               self.qemu, 1)], out)
        self.assertFalse(os.path.exists(self.booted), "make qemu ran the old QEMU")

    def test_no_apt_get_names_the_packages(self):
        # A PATH with the few commands the script itself needs, and no tools at all.
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir)
        for tool in ("sed", "id", "mktemp", "tail", "rm"):
            path = shutil.which(tool)
            if path:
                os.symlink(path, os.path.join(bindir, tool))
        r = subprocess.run(["/bin/sh", ENSURE], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                           env=clean_env(PATH=bindir, QEMU="qemu-system-riscv64",
                                         OPENSBI_FW=os.path.join(self.tmp, "none.bin")))
        out = r.stdout.decode().strip()
        self.assertEqual(r.returncode, 1, out)
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertTrue(out.startswith("ensure-tools: missing tools; please install these "
                                       "(Debian/Ubuntu package names): "), out)
        for pkg in ("gcc-riscv64-unknown-elf", "qemu-system-misc", "opensbi", "gdb-multiarch"):
            self.assertIn(pkg, out.split(": ")[-1].split())


if __name__ == "__main__":
    unittest.main()
