#!/usr/bin/env python3
"""crashtest.py: crash QEMU at chosen and random moments and check what the file system promises.

Builds this tree once (in a private copy, with tools/crashwr.c added through EXTRA_PROGS), then
runs each case --iters times. A case boots QEMU on an image, starts a crashwr scenario, kills
QEMU with SIGKILL (the crash), runs tools/fsck.py on the image (replaying a committed log in
memory, as boot would; orphans allowed, since only the next mount reclaims them), boots again
(the kernel recovers the log), runs the scenario's check, and fsck's the image once more,
strictly. QEMU runs through tools/xv6kit.py's driver, as in every tool here, with --cpus
harts and --mem MiB: CPUS and MEM from the environment (make passes them) unless given. The cases:
  random   crashwr run rewrites files of one generation each, creates and removes scratch files
           and directories; killed after a random 0.5..6 s, --rounds times per iteration on
           one image: every file wholly one generation, every scratch file a clean prefix;
  closers  several writer processes at once (crashwr close), killed right after a chosen
           close()'s output line: every file whose close() returned is wholly there, and
           every other one a prefix of whole write chunks;
  orphan   a file removed while open, written, made durable, then the process sleeps; killed:
           after the reboot fsck must find no orphan inode (the kernel reclaims them at mount);
  idle     files written and a directory made, nothing closed, every process asleep for
           longer than the log delay; killed: after the reboot all of it is there (and then
           `halt` must power the machine off, leaving a clean image);
  hogs     as idle, but 60 CPU-bound processes keep every hart busy: the log's committer
           must still get a hart in time, so all of it is there 1 s after the write (at
           most 2 s with --timeout-scale);
  fsck     no QEMU: fsck.py must report each kind of damage planted in a fresh image.

Prints one line per case and iteration, then "crashtest: case NAME: OK (N)" or
"crashtest: case NAME: FAIL (k of N) ..." per case, and last "crashtest: OK" or
"crashtest: FAIL (...)"; exit status 0 only when every case passed. Every QEMU it starts is
killed before it returns. --help lists the options."""

import argparse
import os
import random
import re
import shutil
import sys
import tempfile
import time

TOOLS = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
import fsck  # noqa: E402
import xv6kit as kit  # noqa: E402
from xv6kit import say  # noqa: E402

EXITED = re.compile(r"(?!)")    # matches nothing: wait_for() returns only why it stopped


class Fail(Exception):
    pass


def fsck_image(img, when, orphans_ok=False):
    """Raises Fail on any fsck error; returns fsck's warnings."""
    with open(img, "rb") as f:
        errors, warnings = fsck.check(f.read(), orphans_ok)
    if errors:
        raise Fail("fsck %s: %d errors, e.g. %s" % (when, len(errors), "; ".join(errors[:5])))
    return warnings


class Run:
    """What every case needs: the built tree, options, the random source."""

    def __init__(self, args, rng, tree):
        self.args, self.rng, self.tree = args, rng, tree
        self.t = 60 * args.timeout_scale          # seconds for a boot or a check to finish
        self.random_img = None                    # the random case's image, kept across rounds

    def echo(self, s):
        sys.stdout.write(s)
        sys.stdout.flush()

    def boot(self, img):
        """QEMU (every one is ended by main's kit.kill_all()) on img, at the first prompt."""
        m, why = kit.Machine.boot(self.tree, img, self.t, None, cpus=self.args.cpus,
                                  mem=self.args.mem, echo=self.echo if self.args.v else None)
        if why:
            m.kill()
            raise Fail("no shell prompt: %s; last console output:\n%s"
                       % (why, kit.tail(m.since(0))))
        return m

    def command(self, m, cmd):
        """Types cmd at m's shell prompt; returns the output through the next prompt."""
        out, _, why = m.run(cmd, self.t)
        if why:
            raise Fail("%s: %s; last console output:\n%s" % (cmd, why, kit.tail(out)))
        return out

    def fresh_image(self, name):
        img = os.path.join(self.tree, name + ".img")
        shutil.copy(os.path.join(self.tree, "fs.img"), img)
        return img

    def start(self, img, cmd, ready=None):
        """Boots img and types cmd at the shell; then waits for the program's line matching
        ready, if given. (Not for the echo of cmd: the console echoes input synchronously
        and prints output through a buffer, so the two may interleave.)"""
        m = self.boot(img)
        mark = m.mark()
        m.send(cmd)
        if ready:
            m.expect(re.compile(ready), self.t, mark)
        return m

    def check(self, img, cmd, why="after the reboot", keep=False):
        """Boots img (the kernel recovers the log) and runs the crashwr check cmd; Fail
        (saying why) unless it says OK. Returns its output, and the machine if keep (else
        QEMU is killed)."""
        m = self.boot(img)
        out = self.command(m, cmd)
        if " ".join(cmd.split()[:2]) + ": OK" not in out:
            m.kill()
            raise Fail("%s, %s:\n%s" % (why, cmd, out.strip()))
        if keep:
            return out, m
        m.kill()
        return out


def case_random(run, it):
    """crashwr run, killed at random moments; one image across rounds and iterations."""
    if run.random_img is None:
        run.random_img = run.fresh_image("random")
        run.check(run.random_img, "crashwr init", why="on a fresh image")
        fsck_image(run.random_img, "after crashwr init")
    img = run.random_img
    notes = []
    for rnd in range(run.args.rounds):
        delay = run.rng.uniform(0.5, 6.0)
        m = run.start(img, "crashwr run")
        time.sleep(delay)
        m.kill()                                   # the crash
        warn = fsck_image(img, "after the crash", orphans_ok=True)
        out = run.check(img, "crashwr check")
        fsck_image(img, "after recovery")
        gens = sorted(int(x) for x in re.findall(r"generation (\d+) whole", out))
        replayed = any("replayed" in w for w in warn)
        notes.append("%.1fs%s gen %d..%d" % (delay, " (log replayed)" if replayed else "",
                                            gens[0], gens[-1]))
    return "killed after " + ", ".join(notes) + "; every file whole"


NWRITERS, NCLOSE = 4, 16       # crashwr close: writers, files per writer (NCLOSE in crashwr.c)
CLOSED = re.compile(r"crashwr: closed (k(\d)_(\d{4})) (\d+) c(\d+)\n")
CLOSE_NEWS = re.compile(CLOSED.pattern + r"|crashwr close: ")    # a close line or the end


def closed_lines(out):
    """{name: size} of the close lines whose sum is right (lines of different writers may
    interleave on the console and garble each other)."""
    seen = {}
    for m in CLOSED.finditer(out):
        w, i, n, c = int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5))
        if (w * 3 + i * 7 + n) % 97 == c and w < NWRITERS and i < NCLOSE:
            seen[m.group(1)] = n
    return seen


def case_closers(run, it):
    """Writers at once; the crash right after the target-th close line."""
    img = run.fresh_image("closers")
    epoch = run.rng.randrange(1, 1 << 20)
    target = run.rng.randint(1, NWRITERS * NCLOSE - NWRITERS)
    m = run.boot(img)
    mark = m.mark()
    m.send("crashwr close %d %d" % (NWRITERS, epoch))
    deadline = time.monotonic() + run.t
    while True:
        out = m.since(mark)
        closed = closed_lines(out)
        if len(closed) >= target or "crashwr close: " in out:
            break
        # The next close line starts after the last whole line seen so far.
        why = m.wait_for(CLOSE_NEWS, mark + out.rfind("\n") + 1,
                         max(0, deadline - time.monotonic()))
        if why:
            raise Fail("crashwr close stopped or hung after %d close lines (%s); last "
                       "output:\n%s" % (len(closed), why, kit.tail(m.since(mark))))
    m.kill()                                       # the crash, right after a close's line
    out = m.since(mark)
    closed = closed_lines(out)
    if "crashwr close: FAIL" in out or "cannot write" in out:
        raise Fail("a writer failed before the crash:\n" + kit.tail(out))
    fsck_image(img, "after the crash", orphans_ok=True)
    out = run.check(img, "crashwr closecheck %d %d" % (NWRITERS, epoch))
    fsck_image(img, "after recovery")
    have = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in
            re.finditer(r"crashwr: (k\d_\d{4}) (\d+) of (\d+)", out)}
    lost = []
    for name, size in sorted(closed.items()):
        got = have.get(name)
        if got is None or got[0] != size:
            lost.append("%s (%s of %d bytes)" % (name, "missing" if got is None else got[0],
                                                 size))
    if lost:
        raise Fail("%d files whose close() returned before the crash are not whole after "
                   "the reboot: %s" % (len(lost), ", ".join(lost[:8])))
    partial = sum(1 for n, (got, want) in have.items() if n not in closed and got != want)
    return ("killed after %d close lines: all %d closed files whole; %d unreported files, "
            "%d of them a chunk prefix" % (target, len(closed), len(have) - len(closed),
                                           partial))


def case_orphan(run, it):
    """Unlink while open; after the reboot no orphan may be left."""
    img = run.fresh_image("orphan")
    m = run.start(img, "crashwr orphan", r"crashwr orphan: removed while open, sleeping")
    m.kill()
    warn = fsck_image(img, "after the crash", orphans_ok=True)
    orphans = [w for w in warn if "orphan" in w]
    if not orphans:
        raise Fail("after the crash the image holds no orphan inode, so the case proves "
                   "nothing: the unlink and writes were not on disk although a later close() "
                   "had returned")
    _, m = run.check(img, "crashwr orphancheck", keep=True)
    run.command(m, "sync")
    m.kill()
    with open(img, "rb") as f:
        errors, _ = fsck.check(f.read())
    left = [e for e in errors if "orphan" in e]
    if left:
        raise Fail("after the reboot (a mount, then sync) fsck still finds %s" % left[0])
    fsck_image(img, "after recovery")
    return "an orphan after the crash (%s); none after the reboot" % orphans[0].split(":")[0]


def case_idle(run, it):
    """Finished calls, then every process asleep; killed well after the log delay."""
    img = run.fresh_image("idle")
    wait = 1.0 * run.args.timeout_scale
    m = run.start(img, "crashwr idle", r"crashwr idle: written, sleeping")
    time.sleep(wait)                               # the log delay is 0.3 s
    m.kill()
    fsck_image(img, "after the crash", orphans_ok=True)
    _, m = run.check(img, "crashwr idlecheck", keep=True,
                     why="calls that finished %.1f s before the crash, with every process "
                     "asleep since, are not on disk after the reboot" % wait)
    mark = m.mark()
    m.send("halt")                                 # syncs and powers off: QEMU must exit
    why = m.wait_for(EXITED, mark, run.t)
    if not why.startswith("QEMU exited"):
        raise Fail("halt did not power the machine off (%s); last output:\n%s"
                   % (why, kit.tail(m.since(mark))))
    m.close()
    fsck_image(img, "after halt")
    return "idle %.1f s, then killed: all there after the reboot; halt powered off" % wait


def case_hogs(run, it):
    """Written with 60 CPU hogs running, nothing closed; killed 1 s after the write returned."""
    img = run.fresh_image("hogs")
    # The log delay is 0.3 s of real time; a slow host gets some slack, never the 4 s a
    # committer that waits its turn behind every hog needs.
    wait = min(1.0 * run.args.timeout_scale, 2.0)
    m = run.start(img, "crashwr hogs", r"crashwr idle: written, sleeping")
    time.sleep(wait)
    m.kill()
    fsck_image(img, "after the crash", orphans_ok=True)
    run.check(img, "crashwr idlecheck", why="a write that returned %.1f s before the crash, "
              "with 60 CPU hogs running, is not on disk after the reboot" % wait)
    fsck_image(img, "after recovery")
    return "written under 60 hogs, killed %.1f s later: all there after the reboot" % wait


def plant(data, what):
    """A copy of a clean image with one kind of damage; returns (bytes, expected message)."""
    import struct
    blocks = bytearray(data)
    BS = fsck.BSIZE
    magic, size, nblocks, ninodes, nlog, logstart, inodestart, bmapstart = \
        struct.unpack_from("<8I", blocks, BS)

    def ioff(inum):
        return (inodestart + inum // fsck.IPB) * BS + (inum % fsck.IPB) * fsck.DINODE.size

    def inode(inum):
        return list(fsck.DINODE.unpack_from(blocks, ioff(inum)))

    def put(inum, f):
        fsck.DINODE.pack_into(blocks, ioff(inum), *f)

    def bit(b, on):
        off = bmapstart * BS + b // 8
        blocks[off] = (blocks[off] | (1 << (b % 8))) if on else (blocks[off] & ~(1 << (b % 8)))

    root = inode(fsck.ROOTINO)
    rootdata = root[5] * BS                      # the root directory's first block
    entries = [fsck.DIRENT.unpack_from(blocks, rootdata + o)
               for o in range(0, root[4], fsck.DIRENT.size)]
    files = [(inum, nm.split(b"\0")[0]) for inum, nm in entries
             if inum and inode(inum)[0] == fsck.T_FILE]
    finum, fname = files[0]
    free_inum = next(i for i in range(2, ninodes) if inode(i)[0] == 0)
    if what == "duplicate":                       # a second entry with an existing name
        if root[4] + fsck.DIRENT.size > BS:
            raise Fail("fsck case: the root directory fills its first block")
        fsck.DIRENT.pack_into(blocks, rootdata + root[4], finum, fname)
        root[4] += fsck.DIRENT.size
        put(fsck.ROOTINO, root)
        f = inode(finum)
        f[3] += 1
        put(finum, f)
        return blocks, "two entries named"
    if what == "orphan":                          # allocated, nlink 0, no name
        put(free_inum, [fsck.T_FILE, 0, 0, 0, 0] + [0] * (fsck.NDIRECT + 1))
        return blocks, "orphan"
    if what == "marked":                          # bitmap says used, nothing uses it
        bit(size - 1, True)
        return blocks, "marked in use in the bitmap but used by nothing"
    if what == "free":                            # a file's block free in the bitmap
        bit(inode(finum)[5], False)
        return blocks, "used but free in the bitmap"
    if what == "nlink":
        f = inode(finum)
        f[3] += 1
        put(finum, f)
        return blocks, "has nlink"
    if what == "dot":                             # root's "." names another inode
        fsck.DIRENT.pack_into(blocks, rootdata, finum, b".")
        return blocks, "'.' is not itself"
    raise ValueError(what)


def case_fsck(run, it):
    """fsck.py finds each kind of planted damage, and nothing on the clean image."""
    with open(os.path.join(run.tree, "fs.img"), "rb") as f:
        clean = f.read()
    errors, warnings = fsck.check(clean)
    if errors:
        raise Fail("fsck reports errors on a fresh image: " + "; ".join(errors[:3]))
    kinds = ("duplicate", "orphan", "marked", "free", "nlink", "dot")
    for what in kinds:
        bad, want = plant(clean, what)
        errors, _ = fsck.check(bytes(bad))
        if not any(want in e for e in errors):
            raise Fail("fsck misses planted damage '%s': expected an error with %r, got %r"
                       % (what, want, errors[:3]))
    bad, _ = plant(clean, "orphan")
    errors, warnings = fsck.check(bytes(bad), orphans_ok=True)
    if errors or not any("orphan" in w for w in warnings):
        raise Fail("fsck with orphans allowed: expected one orphan warning and no error, "
                   "got %r / %r" % (errors, warnings))
    return "clean image clean; finds " + ", ".join(kinds)


CASES = {"random": case_random, "closers": case_closers, "orphan": case_orphan,
         "idle": case_idle, "hogs": case_hogs, "fsck": case_fsck}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=1, help="iterations of every case")
    ap.add_argument("--cases", default=",".join(CASES),
                    help="comma-separated subset of: " + ", ".join(CASES))
    ap.add_argument("--rounds", type=int, default=2, help="random kills per iteration")
    ap.add_argument("--cpus", type=int, default=kit.setting("CPUS"),
                    help="harts (default: CPUS from the environment, else %d)" % kit.CPUS_DEFAULT)
    ap.add_argument("--mem", type=int, default=kit.setting("MEM"),
                    help="MiB of RAM, for the build and QEMU (default: MEM from the "
                    "environment, else %d)" % kit.MEM_DEFAULT)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--timeout-scale", type=float, default=1.0)
    ap.add_argument("-v", action="store_true", help="echo the consoles")
    args = ap.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    if not cases or set(cases) - set(CASES) or args.iters < 1:
        ap.error("--cases: choose from %s (got %s); --iters at least 1"
                 % (", ".join(CASES), args.cases))
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    tree = tempfile.mkdtemp(prefix="crashtest-")
    run = Run(args, random.Random(seed), tree)
    failures = {c: [] for c in cases}
    say("crashtest: seed %d, %d iterations of %s, CPUS=%d, MEM=%d; building with "
        "EXTRA_PROGS=tools/crashwr.c" % (seed, args.iters, ", ".join(cases), args.cpus, args.mem))
    try:
        kit.copy_sources(ROOT, tree)
        why, out = kit.build(tree, ["MEM=%d" % args.mem, "EXTRA_PROGS=tools/crashwr.c"])
        if why:
            say("crashtest: FAIL: %s:\n%s" % (why, kit.tail(out)))
            return 1
        for it in range(1, args.iters + 1):
            for c in cases:
                if c == "fsck" and it > 1:
                    continue                      # no QEMU, nothing random: once is enough
                t0 = time.monotonic()
                try:
                    note, verdict = CASES[c](run, it), "OK"
                except (Fail, kit.MachineError) as e:
                    failures[c].append((it, str(e)))
                    note, verdict = str(e), "FAIL"
                    if c == "random":
                        run.random_img = None     # start the next rounds on a fresh image
                finally:
                    kit.kill_all()
                say("crashtest: %s %d/%d: %s (%.0fs): %s"
                    % (c, it, args.iters, verdict, time.monotonic() - t0, note))
        for c in cases:
            n = 1 if c == "fsck" else args.iters
            say("crashtest: case %s: " % c + ("OK (%d)" % n if not failures[c] else
                "FAIL (%d of %d; seed %d) first: iteration %d: %s"
                % (len(failures[c]), n, seed, *failures[c][0])))
        bad = [c for c in cases if failures[c]]
        say("crashtest: OK" if not bad else "crashtest: FAIL (%s)" % ", ".join(bad))
        return 1 if bad else 0
    finally:
        kit.kill_all()
        shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
