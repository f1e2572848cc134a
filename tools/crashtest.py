#!/usr/bin/env python3
"""crashtest.py: prove that every file-system call stays all-or-nothing across a crash.

Builds this tree (in a private copy, with tools/crashwr.c added through EXTRA_PROGS), then
for each round on one image:
  1. boot QEMU, start `crashwr run` (rewrites files whose whole contents name their
     generation, and creates and removes scratch files and directories), and kill QEMU with
     SIGKILL after a random delay: a crash at an arbitrary moment, mid-commit included;
  2. tools/fsck.py on the image (replaying a committed log in memory, as boot would): the
     file system must be consistent;
  3. boot again on the same image (the kernel recovers the log), run `crashwr check`: each
     file must be wholly one generation, each scratch file a clean prefix of its pattern;
  4. fsck.py again on the image as the kernel left it.

  tools/crashtest.py [--rounds N] [--cpus N] [--seed S] [--timeout-scale X] [-v]

Ends with "crashtest: OK (N rounds)" or "crashtest: FAIL ..."; exit status 0 only when OK.
Every QEMU it starts is killed before it returns. Standard library only."""

import argparse
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOOLS = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
from hostutil import clean_env  # noqa: E402
import fsck  # noqa: E402

FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"


class Fail(Exception):
    pass


class Machine:
    """One QEMU on an image, driven through its console."""

    def __init__(self, tree, img, cpus, verbose):
        argv = [os.environ.get("QEMU", "qemu-system-riscv64"), "-machine", "virt",
                "-bios", FW if os.path.exists(FW) else "default",
                "-kernel", os.path.join(tree, "kernel", "kernel"), "-m", "128M",
                "-smp", str(cpus), "-nographic", "-monitor", "none", "-serial", "stdio",
                "-global", "virtio-mmio.force-legacy=false",
                "-drive", "file=%s,if=none,format=raw,id=x0" % img,
                "-device", "virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0"]
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.out = b""
        self.verbose = verbose

    def expect(self, pattern, timeout, start=0):
        """Waits until pattern (bytes regex) appears in the output after offset start."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.out, start)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.p.poll() is not None:
                raise Fail("waiting for %r; last console output:\n%s" %
                           (pattern, self.out[-600:].decode("utf-8", "replace")))
            r, _, _ = select.select([self.p.stdout], [], [], min(left, 0.5))
            if r:
                b = os.read(self.p.stdout.fileno(), 65536)
                if self.verbose:
                    sys.stdout.write(b.decode("utf-8", "replace"))
                    sys.stdout.flush()
                self.out += b

    def run(self, cmd, timeout):
        """Types cmd at the shell prompt; returns the output up to the next prompt."""
        self.expect(rb"\$ $", timeout)
        start = len(self.out)
        self.p.stdin.write(cmd.encode() + b"\n")
        self.p.stdin.flush()
        m = self.expect(rb"\n\$ $", timeout, start)
        return self.out[start:m.start()].decode("utf-8", "replace")

    def type(self, cmd):
        self.p.stdin.write(cmd.encode() + b"\n")
        self.p.stdin.flush()

    def kill(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait()


def source_files():
    """The tree's source files: git's list in a checkout, else every file but build outputs."""
    r = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if r.returncode == 0:
        return r.stdout.decode().split("\n")
    skip_dirs = {".git", "fsroot", "bench-out", "handout", "__pycache__"}
    outputs = (".o", ".d", ".asm", ".sym", ".img")
    files = []
    for d, dirs, names in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in skip_dirs]
        rel = os.path.relpath(d, ROOT)
        for n in names:
            f = os.path.normpath(os.path.join(rel, n))
            if n.endswith(outputs) or f.startswith("user/_") or f in ("kernel/kernel", "mkfs/mkfs"):
                continue
            files.append(f)
    return files


def build(tree):
    files = source_files()
    for f in files:
        src = os.path.join(ROOT, f)
        if f and os.path.isfile(src):
            dst = os.path.join(tree, f)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
    r = subprocess.run(["make", "-s", "kernel/kernel", "fs.img",
                        "EXTRA_PROGS=tools/crashwr.c"], cwd=tree, env=clean_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise Fail("build failed:\n" + r.stdout.decode("utf-8", "replace")[-2000:])


def fsck_image(img, when):
    with open(img, "rb") as f:
        errors, warnings = fsck.check(f.read())
    if errors:
        raise Fail("fsck %s: %d errors, e.g. %s" % (when, len(errors), "; ".join(errors[:5])))
    return warnings


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cpus", type=int, default=3)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--timeout-scale", type=float, default=1.0)
    ap.add_argument("-v", action="store_true", help="echo the consoles")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    t = 60 * args.timeout_scale

    tree = tempfile.mkdtemp(prefix="crashtest-")
    machines = []

    def boot(img):
        m = Machine(tree, img, args.cpus, args.v)
        machines.append(m)
        return m

    try:
        print("crashtest: seed %d, %d rounds, CPUS=%d; building with EXTRA_PROGS=tools/crashwr.c"
              % (seed, args.rounds, args.cpus))
        sys.stdout.flush()
        build(tree)
        img = os.path.join(tree, "crash.img")
        shutil.copy(os.path.join(tree, "fs.img"), img)

        m = boot(img)
        out = m.run("crashwr init", t)
        if "crashwr init: done" not in out:
            raise Fail("crashwr init: " + out)
        m.kill()
        fsck_image(img, "after init")

        for rnd in range(1, args.rounds + 1):
            delay = rng.uniform(0.5, 6.0)
            m = boot(img)
            m.expect(rb"\$ $", t)
            m.type("crashwr run")
            m.expect(rb"crashwr run\r?\n", t)
            time.sleep(delay)
            m.kill()                               # the crash
            notes = fsck_image(img, "after the crash")

            m = boot(img)                          # recovery happens at boot
            out = m.run("crashwr check", t)
            m.kill()
            if "crashwr check: OK" not in out:
                raise Fail("round %d: crashwr check:\n%s" % (rnd, out.strip()))
            fsck_image(img, "after recovery")
            gens = sorted(int(g) for g in re.findall(r"generation (\d+) whole", out))
            print("crashtest: round %d: killed after %.1fs; fsck OK%s; every file whole "
                  "(generations %d..%d)" % (rnd, delay, " (" + notes[0] + ")" if notes else "",
                                            gens[0], gens[-1]))
            sys.stdout.flush()
        print("crashtest: OK (%d rounds)" % args.rounds)
        return 0
    except Fail as e:
        print("crashtest: FAIL (seed %d): %s" % (seed, e))
        return 1
    finally:
        for m in machines:
            m.kill()
        shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
