#!/usr/bin/env python3
"""Host-side tests of mkfs/mkfs.c: a good image has the layout the kernel expects, and bad
inputs (a name too long, a full image, a file too big, too many files, a missing or
duplicate file) stop it with one clear line and leave no half-built image behind."""

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import fsck  # noqa: E402


def header_value(name, header):
    with open(os.path.join(ROOT, "kernel", header)) as f:
        return int(re.search(r"^#define\s+%s\s+\(?(\w+)" % name, f.read(), re.M).group(1), 0)


BSIZE, DIRSIZ, NDIRECT = (header_value(n, "fs.h") for n in ("BSIZE", "DIRSIZ", "NDIRECT"))
FSSIZE = header_value("FSSIZE", "param.h")
MAXFILE_BYTES = (NDIRECT + BSIZE // 4) * BSIZE


class MkfsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mkfs-test-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.mkfs = os.path.join(cls.tmp, "mkfs")
        # The Makefile's flags: a warning is an error.
        r = subprocess.run(["gcc", "-Wall", "-Werror", "-I", ROOT, "-o", cls.mkfs,
                            os.path.join(ROOT, "mkfs", "mkfs.c")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode:
            raise AssertionError("mkfs does not build:\n" + r.stdout.decode())

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.tmp)
        self.img = os.path.join(self.dir, "fs.img")

    def file(self, name, data=b"x"):
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)
        return f.name

    def mkfs_run(self, files):
        r = subprocess.run([self.mkfs, self.img] + files, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        return r.returncode, r.stderr.decode()

    def assertRefused(self, files, message):
        """mkfs exits 1 with one line "mkfs: ...message...", and leaves no image."""
        code, err = self.mkfs_run(files)
        err = err.strip()
        self.assertEqual((code, len(err.splitlines())), (1, 1), "expected one error line: %r" % err)
        self.assertTrue(err.startswith("mkfs: ") and message in err, err)
        self.assertFalse(os.path.exists(self.img), "a half-built image was left behind")
        return err

    def test_good_image(self):
        longest = "_" + "n" * DIRSIZ          # DIRSIZ characters once '_' is dropped
        code, err = self.mkfs_run([self.file("README", b"hello\n"), self.file(longest)])
        self.assertEqual(code, 0, err)
        with open(self.img, "rb") as f:
            data = f.read()
        self.assertEqual(len(data), FSSIZE * BSIZE)
        self.assertEqual(fsck.check(data), ([], []))
        # The root directory's names (its first block: enough for two files).
        inodestart = struct.unpack_from("<8I", data, BSIZE)[6]
        root = fsck.DINODE.unpack_from(data, inodestart * BSIZE + fsck.ROOTINO * fsck.DINODE.size)
        names = {fsck.DIRENT.unpack_from(data, root[5] * BSIZE + off)[1].rstrip(b"\0")
                 for off in range(0, root[4], fsck.DIRENT.size)}
        self.assertEqual(names, {b".", b"..", b"README", b"n" * DIRSIZ})

    def test_name_too_long(self):
        err = self.assertRefused([self.file("README"), self.file("_" + "a" * (DIRSIZ + 1))],
                                 "name longer than DIRSIZ (%d) characters" % DIRSIZ)
        self.assertIn("a" * (DIRSIZ + 1), err)

    def test_image_full(self):
        n = FSSIZE * BSIZE // MAXFILE_BYTES + 1      # more files than the whole image holds
        self.assertRefused([self.file("big%d" % i, b"z" * MAXFILE_BYTES) for i in range(n)],
                           "out of disk blocks while adding")

    def test_file_too_big(self):
        self.assertRefused([self.file("huge", b"h" * (MAXFILE_BYTES + 1))],
                           "is larger than the largest file")

    def test_too_many_files(self):
        self.assertRefused([self.file("f%d" % i) for i in range(300)], "out of inodes")

    def test_missing_input(self):
        self.assertRefused([os.path.join(self.dir, "nosuchfile")], "cannot read input file")

    def test_duplicate_name(self):
        os.mkdir(os.path.join(self.dir, "sub"))
        self.assertRefused([self.file("cat"), self.file("sub/_cat")], "duplicate name")


if __name__ == "__main__":
    unittest.main()
