#!/usr/bin/env python3
"""crashtest.py: crash QEMU at chosen and random moments and check what the file system promises.
Builds this tree once with tools/crashwr.c, then runs each case --iters times: boot, start a
crashwr scenario, kill QEMU (the crash), fsck (orphans allowed), boot again (the kernel recovers
the log), run the scenario's check, fsck strictly. docs/build-and-debug.md (Crash safety) has
the details. The cases:
  random   killed at random moments during rewrites: every file wholly one generation;
  closers  killed right after a chosen close()'s line: every closed file whole;
  orphan   a file removed while open; killed: no orphan inode left after the reboot;
  idle     written, nothing closed, all asleep; killed 1 s later: all there; halt powers off;
  hogs     as idle beside 60 CPU-bound processes;
  fsck     no QEMU: fsck.py reports each kind of damage planted in a fresh image."""

import argparse
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import time

TOOLS = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, TOOLS)
import fsck  # noqa: E402
import xv6kit as kit  # noqa: E402
from xv6kit import say  # noqa: E402

EXITED = re.compile(r"(?!)")    # matches nothing: wait_for() returns only why it stopped
NWRITERS, NCLOSE = 4, 16        # crashwr close: writers, files per writer (NCLOSE in crashwr.c)
CLOSED = re.compile(r"crashwr: closed (k(\d)_(\d{4})) (\d+) c(\d+)\n")
CLOSE_NEWS = re.compile(CLOSED.pattern + r"|crashwr close: ")    # a close line or the end


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
    """What every case needs: the built tree, the options, the random source."""

    def __init__(self, args, rng, tree):
        self.args, self.rng, self.tree = args, rng, tree
        self.t = 60 * args.timeout_scale          # seconds for a boot or a check to finish

    def random_img(self):
        return os.path.join(self.tree, "random.img")

    def echo(self, s):
        sys.stdout.write(s)
        sys.stdout.flush()

    def boot(self, img, fresh=False):
        """QEMU on img (a fresh copy of fs.img if fresh), at the first prompt."""
        m, why = kit.Machine.boot(self.tree, img, self.t, "fs.img" if fresh else None,
                                  cpus=self.args.cpus, mem=self.args.mem,
                                  echo=self.echo if self.args.v else None)
        if why:
            m.kill()
            raise Fail("no shell prompt: %s; last console output:\n%s"
                       % (why, kit.tail(m.since(0))))
        return m

    def start(self, name, cmd, ready=None):
        """Boots a fresh image tree/NAME.img and types cmd; then waits for the program's line
        matching ready, if given (not for cmd's echo, which may interleave with output)."""
        img = os.path.join(self.tree, name + ".img")
        m = self.boot(img, fresh=True)
        mark = m.mark()
        m.send(cmd)
        if ready:
            m.expect(re.compile(ready), self.t, mark)
        return img, m

    def recover(self, img, cmd, why="after the reboot", halt=False):
        """Boots img (the kernel recovers the log) and runs the crashwr check cmd, which must
        say OK (else Fail, saying why); then `sync` and a kill, or `halt`, which must power
        the machine off; then fscks img strictly. Returns cmd's output."""
        m = self.boot(img)
        out, _, stopped = m.run(cmd, self.t)
        if stopped or " ".join(cmd.split()[:2]) + ": OK" not in out:
            m.kill()
            raise Fail("%s, %s: %s\n%s" % (why, cmd, stopped or "", out.strip()))
        end, _, stopped = m.run("halt" if halt else "sync", self.t,
                                EXITED if halt else kit.PROMPT)
        m.kill()
        if not (stopped.startswith("QEMU exited") if halt else stopped is None):
            raise Fail("%s did not finish (%s):\n%s" % (end.split("\n")[0], stopped, end))
        fsck_image(img, "after halt" if halt else "after recovery (a mount, then sync)")
        return out

    def crash(self, img, m):
        """Kills m (the crash) and fscks img, orphans allowed; returns fsck's warnings."""
        m.kill()
        return fsck_image(img, "after the crash", orphans_ok=True)


def case_random(run):
    """crashwr run, killed at random moments; one image across rounds and iterations."""
    img = run.random_img()
    if not os.path.exists(img):                    # the first iteration, or after a failure
        shutil.copy(os.path.join(run.tree, "fs.img"), img)
        run.recover(img, "crashwr init", why="on a fresh image")
    notes = []
    for _ in range(run.args.rounds):
        delay = run.rng.uniform(0.5, 6.0)
        m = run.boot(img)
        m.send("crashwr run")
        time.sleep(delay)
        replayed = any("replayed" in w for w in run.crash(img, m))
        out = run.recover(img, "crashwr check")
        gens = sorted(int(x) for x in re.findall(r"generation (\d+) whole", out))
        notes.append("%.1fs%s gen %d..%d" % (delay, " (log replayed)" if replayed else "",
                                            gens[0], gens[-1]))
    return "killed after " + ", ".join(notes) + "; every file whole"


def closed_lines(out):
    """{name: size} of the close lines whose sum is right (lines of different writers may
    interleave on the console and garble each other)."""
    seen = {}
    for m in CLOSED.finditer(out):
        w, i, n, c = (int(m.group(g)) for g in (2, 3, 4, 5))
        if (w * 3 + i * 7 + n) % 97 == c and w < NWRITERS and i < NCLOSE:
            seen[m.group(1)] = n
    return seen


def case_closers(run):
    """Writers at once; the crash right after the target-th close line."""
    epoch = run.rng.randrange(1, 1 << 20)
    target = run.rng.randint(1, NWRITERS * NCLOSE - NWRITERS)
    img, m = run.start("closers", "crashwr close %d %d" % (NWRITERS, epoch))
    deadline = time.monotonic() + run.t
    out = ""
    while len(closed_lines(out)) < target and "crashwr close: " not in out:
        # The next close line starts after the last whole line seen so far.
        why = m.wait_for(CLOSE_NEWS, out.rfind("\n") + 1, max(0, deadline - time.monotonic()))
        out = m.since(0)
        if why:
            raise Fail("crashwr close stopped or hung after %d close lines (%s); last "
                       "output:\n%s" % (len(closed_lines(out)), why, kit.tail(out)))
    run.crash(img, m)                              # right after a close's line
    out = m.since(0)
    closed = closed_lines(out)
    if "crashwr close: FAIL" in out or "cannot write" in out:
        raise Fail("a writer failed before the crash:\n" + kit.tail(out))
    out = run.recover(img, "crashwr closecheck %d %d" % (NWRITERS, epoch))
    have = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in
            re.finditer(r"crashwr: (k\d_\d{4}) (\d+) of (\d+)", out)}
    lost = ["%s (%s of %d bytes)" % (name, have[name][0] if name in have else "missing", size)
            for name, size in sorted(closed.items()) if have.get(name, (0,))[0] != size]
    if lost:
        raise Fail("%d files whose close() returned before the crash are not whole after "
                   "the reboot: %s" % (len(lost), ", ".join(lost[:8])))
    partial = sum(1 for n, (got, want) in have.items() if n not in closed and got != want)
    return ("killed after %d close lines: all %d closed files whole; %d unreported files, "
            "%d of them a chunk prefix" % (target, len(closed), len(have) - len(closed),
                                           partial))


def case_orphan(run):
    """Unlink while open; after the reboot (a mount, then sync) no orphan may be left."""
    img, m = run.start("orphan", "crashwr orphan", r"crashwr orphan: removed while open")
    orphans = [w for w in run.crash(img, m) if "orphan" in w]
    if not orphans:
        raise Fail("after the crash the image holds no orphan inode, so the case proves "
                   "nothing: the unlink and writes were not on disk although a later close() "
                   "had returned")
    run.recover(img, "crashwr orphancheck")
    return "an orphan after the crash (%s); none after the reboot" % orphans[0].split(" (")[0]


def case_idle(run, hogs=False):
    """Finished calls, then every process asleep (hogs: beside 60 CPU-bound processes);
    killed well after the log delay of 0.3 s. A slow host gets some slack, but the hogs
    never the 4 s a committer that waits its turn behind every hog needs."""
    wait = min(run.args.timeout_scale, 2.0) if hogs else 1.0 * run.args.timeout_scale
    name = "hogs" if hogs else "idle"
    img, m = run.start(name, "crashwr " + name, r"crashwr idle: written, sleeping")
    time.sleep(wait)
    run.crash(img, m)
    run.recover(img, "crashwr idlecheck", halt=not hogs,
                why="calls that finished %.1f s before the crash are not on disk after the "
                "reboot%s" % (wait, ", with 60 CPU hogs running" if hogs else ""))
    if hogs:
        return "written under 60 hogs, killed %.1f s later: all there after the reboot" % wait
    return "idle %.1f s, then killed: all there after the reboot; halt powered off" % wait


# Each kind of damage case_fsck plants, and the words fsck must report it with.
DAMAGE = {"duplicate": "two entries named", "orphan": "orphan",
          "marked": "marked in use in the bitmap but used by nothing",
          "free": "used but free in the bitmap", "nlink": "has nlink", "dot": "'.' is not itself"}


def plant(clean, what):
    """A copy of the clean image with one kind of damage (DAMAGE) to the root directory,
    its first file (the entry after "." and ".."), a free inode or the bitmap."""
    img = bytearray(clean)
    bs, dent = fsck.BSIZE, fsck.DIRENT.size
    _, size, _, ninodes, _, _, inodestart, bmapstart = struct.unpack_from("<8I", img, bs)

    def inode(inum):
        """(its offset in the image, its fields: type, major, minor, nlink, size, addrs)."""
        off = (inodestart + inum // fsck.IPB) * bs + inum % fsck.IPB * fsck.DINODE.size
        return off, list(fsck.DINODE.unpack_from(img, off))

    def add(inum, field, n):
        off, fields = inode(inum)
        fields[field] += n
        fsck.DINODE.pack_into(img, off, *fields)

    def flip(block):
        img[bmapstart * bs + block // 8] ^= 1 << block % 8

    root = inode(fsck.ROOTINO)[1]
    rootdata = root[5] * bs                        # the root directory's first block
    first, end = rootdata + 2 * dent, rootdata + root[4]
    finum = fsck.DIRENT.unpack_from(img, first)[0]
    if what == "duplicate":                        # the first file's entry once more
        img[end:end + dent] = img[first:first + dent]
        add(fsck.ROOTINO, 4, dent)
        add(finum, 3, 1)
    elif what == "orphan":                         # a free inode made a file, nlink 0
        add(next(i for i in range(2, ninodes) if inode(i)[1][0] == 0), 0, fsck.T_FILE)
    elif what == "marked":                         # the last block, which nothing uses
        flip(size - 1)
    elif what == "free":                           # the first file's first block
        flip(inode(finum)[1][5])
    elif what == "nlink":
        add(finum, 3, 1)
    elif what == "dot":                            # root's "." names the first file
        fsck.DIRENT.pack_into(img, rootdata, finum, b".")
    return bytes(img)


def case_fsck(run):
    """fsck.py finds each kind of planted damage, and nothing on the clean image."""
    with open(os.path.join(run.tree, "fs.img"), "rb") as f:
        clean = f.read()
    if fsck.check(clean) != ([], []):
        raise Fail("fsck reports problems on a fresh image: %r" % (fsck.check(clean),))
    for what, want in DAMAGE.items():
        errors, _ = fsck.check(plant(clean, what))
        if not any(want in e for e in errors):
            raise Fail("fsck misses planted damage '%s': expected an error with %r, got %r"
                       % (what, want, errors[:3]))
    errors, warnings = fsck.check(plant(clean, "orphan"), orphans_ok=True)
    if errors or not any("orphan" in w for w in warnings):
        raise Fail("fsck with orphans allowed: expected one orphan warning and no error, "
                   "got %r / %r" % (errors, warnings))
    return "clean image clean; finds " + ", ".join(DAMAGE)


CASES = {"random": case_random, "closers": case_closers, "orphan": case_orphan,
         "idle": case_idle, "hogs": lambda run: case_idle(run, hogs=True), "fsck": case_fsck}


def run_case(run, case, it, failures):
    """One iteration of one case: its line, its failure (if any) added to failures."""
    t0 = time.monotonic()
    try:
        note, verdict = CASES[case](run), "OK"
    except (Fail, kit.MachineError) as e:
        failures[case].append((it, str(e)))
        note, verdict = str(e), "FAIL"
        if case == "random" and os.path.exists(run.random_img()):
            os.remove(run.random_img())            # the next rounds start on a fresh image
    finally:
        kit.kill_all()
    say("crashtest: %s %d/%d: %s (%.0fs): %s"
        % (case, it, run.args.iters, verdict, time.monotonic() - t0, note))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=1, help="iterations of every case")
    ap.add_argument("--cases", default=",".join(CASES),
                    help="comma-separated subset of: " + ", ".join(CASES))
    ap.add_argument("--rounds", type=int, default=2, help="random kills per iteration")
    ap.add_argument("--cpus", type=int, default=kit.setting("CPUS"), help="harts (env. CPUS)")
    ap.add_argument("--mem", type=int, default=kit.setting("MEM"), help="MiB of RAM (env. MEM)")
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
        kit.copy_sources(os.path.dirname(TOOLS), tree)
        why, out = kit.build(tree, ["MEM=%d" % args.mem, "EXTRA_PROGS=tools/crashwr.c"])
        if why:
            say("crashtest: FAIL: %s:\n%s" % (why, kit.tail(out)))
            return 1
        for it in range(1, args.iters + 1):
            for c in cases:
                if c != "fsck" or it == 1:         # fsck: no QEMU, nothing random: once
                    run_case(run, c, it, failures)
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
