#!/usr/bin/env python3
"""Host-side tests of tools/ensure-tools.sh and the Makefile's use of it: `make qemu` refuses
a QEMU that is too old with one line before anything boots; a machine without apt-get gets
one line naming the Debian packages to install (gnuplot's too, when asked with `plot`)."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import xv6kit as kit  # noqa: E402
# A QEMU 4.2 that leaves a mark (the file %s) if anything boots with it.
OLD_QEMU = """#!/bin/sh
[ "$1" = --version ] && echo 'QEMU emulator version 4.2.1 (Debian 1:4.2-3ubuntu6)' && exit 0
touch %s
"""


def run(argv, **env):
    """argv's exit status and output, with TOOLS_CHECKED empty so that make runs the check."""
    r = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=kit.clean_env(TOOLS_CHECKED="", **env),
                       timeout=600)
    return r.returncode, r.stdout.decode().strip()


class ToolsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tools-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_make_qemu_refuses_old_qemu(self):
        qemu, booted = os.path.join(self.tmp, "qemu-system-riscv64"), self.tmp + "/booted"
        with open(qemu, "w") as f:
            f.write(OLD_QEMU % booted)
        os.chmod(qemu, 0o755)
        code, out = run(["make", "-s", "qemu", "QEMU=" + qemu])
        self.assertNotEqual(code, 0, out)
        self.assertEqual([l for l in out.splitlines() if l.startswith("ensure-tools:")], [
            "ensure-tools: %s 4.2 is too old: need >= 5.0 (apt-get install qemu-system-misc)"
            % qemu], out)
        self.assertFalse(os.path.exists(booted), "make qemu ran the old QEMU")

    def test_no_apt_get_names_the_packages(self):
        for tool in ("sed", "id", "mktemp", "tail", "rm"):   # what the script itself needs
            if shutil.which(tool):
                os.symlink(shutil.which(tool), os.path.join(self.tmp, tool))
        for args in ([], ["plot"]):      # plot: gnuplot as well
            code, out = run(["/bin/sh", os.path.join(ROOT, "tools", "ensure-tools.sh")] + args,
                            PATH=self.tmp, QEMU="qemu-system-riscv64",
                            OPENSBI_FW=self.tmp + "/no")
            self.assertEqual((code, len(out.splitlines())), (1, 1), out)
            self.assertTrue(out.startswith("ensure-tools: missing tools; please install these "
                                           "(Debian/Ubuntu package names): "), out)
            pkgs = out.split(": ")[-1].split()
            for pkg in ("gcc-riscv64-unknown-elf", "qemu-system-misc", "opensbi",
                        "gdb-multiarch"):
                self.assertIn(pkg, pkgs)
            self.assertEqual("gnuplot-nox" in pkgs, args == ["plot"], out)


if __name__ == "__main__":
    unittest.main()
