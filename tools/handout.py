#!/usr/bin/env python3
"""`make handout`: writes the student starter tree of the COW lab from this (the solution) tree.

  tools/handout.py [--out DIR] [--level standard|guided]
  -> DIR/xv6-cow-lab/ and DIR/xv6-cow-lab.tar.gz (the tree, top directory xv6-cow-lab/);
     DIR defaults to handout/ next to the Makefile, the level to standard

The two levels (docs/cow-design.md, "The handout"): the standard starter has no reference
counts and an eager fork, and the lab text alone leads the student to the fault and copyout
paths; the guided starter also has what LEVELS below defines for it (the counts and their
helpers), and the text blocks marked for it.

How the solution is marked (docs/cow-design.md, "The handout", says the same for staff):
  - C, headers, assembly: the solution is the code under `#ifdef COW_FORK` (or in the
    `#else` of `#ifndef COW_FORK`); the starter's own code, where it needs any, is the
    other branch. The starter is the tree with COW_FORK undefined and the conditionals
    resolved, as `unifdef -UCOW_FORK` would do; `make COW=0` builds that same kernel.
    The staff's measuring switches (STAFF_MACROS below) are resolved the same way, so
    their code and comments never reach the starter.
    A macro in LEVELS[level] is resolved as defined instead: its code is the level's.
  - Every other text file (Makefile, README, Python, shell): the lines from a line
    starting with `# >>> solution` through a line starting with `# <<< solution` go.
    Blocks marked `# >>> guided` ... `# <<< guided` (or `standard`) stay, without their
    marker lines, only in that level's starter. Markdown pages put the marker lines inside
    HTML comments, `<!-- # >>> solution -->`, so that they do not show when rendered.
  - Files in SOLUTION_FILES are left out: the solution, the staff tools and the staff pages.
Where a removal joins two runs of blank lines, only the longer run stays. The result is
checked as it is made: no staff macro and no marker may survive, or nothing is written and
the exit status is 1. (make check scans the written tree again, independently.)
Python 3 standard library only; the input tree is never modified.
"""

import argparse
import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
NAME = "xv6-cow-lab"
# Macros the staff tree may test with #ifdef/#ifndef; the starter resolves them as undefined,
# except the ones its level defines (LEVELS). The staff tree never defines NO_PAGE_REFS.
STAFF_MACROS = ("COW_FORK",          # make COW=1: the copy-on-write fork (the solution)
                "LOG_SYNC_COMMIT",   # make LOGCOMMIT=sync: the per-operation commit, to compare
                "TRAP_FULL_FLUSH",   # make TRAPFLUSH=full: the flushing trap path, to compare
                "COW_AROUND",        # make COWBATCH=1: COW fault-around (kernel/cowaround.c)
                "NO_PAGE_REFS")      # kalloc.c without reference counts: a plain free list
# What each level's starter resolves as defined: the standard starter has no reference
# counts; the guided one keeps them (and the helpers that use them).
LEVELS = {"standard": frozenset({"NO_PAGE_REFS"}), "guided": frozenset()}
STAFF_WORD = re.compile(r"\b(%s)\b" % "|".join(STAFF_MACROS))
C_SUFFIXES = (".c", ".h", ".S")
SOLUTION_FILES = {
    "kernel/cow.c",         # copy-on-write sharing and faults: what the students write
    "kernel/cowaround.c",   # COW fault-around, the staff kernel's speed-up
    "tools/handout.py",     # this program
    "tools/bench.py",       # COW against eager fork: needs both kernels, i.e. the solution
    "tests/test_bench.py",  # ... and its host-side tests
    "tools/autograder.py",  # the Gradescope bundle: staff only
    "tools/tickgap.c",      # measures the timer tick's cost for performance.md
    "docs/cow-design.md",   # the design of the solution and of this program
    "docs/performance.md",  # the benchmarks (make bench) and their numbers
    "docs/forkbench.svg",   # ... and their plot
    "docs/grading.md",      # grading many submissions
    "tests/labproof.py",    # make check's proof that the lab can be done and graded
}
SOLUTION_DIRS = ("tests/mistakes/",)   # patches with typical mistakes, for labproof.py
# Marker lines; built from parts so that this file's own lines are not markers. In Markdown
# they may sit inside an HTML comment: the line starts with COMMENT, then the marker.
BEGIN = "# " + ">>> "
END = "# " + "<<< "
BLOCK_NAMES = ("solution",) + tuple(LEVELS)
COMMENT = "<!--"
DIRECTIVE = re.compile(r"^\s*#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)$")
# Build outputs, skipped when the tree is not a git checkout.
BUILD_OUTPUT = re.compile(r".*\.(o|d|asm|sym|pyc)$|^fs\.img$|^\.gdbinit$|^\.build-cow$"
                          r"|^\.extra-progs$")
SKIP_DIRS = {".git", "handout", "bench-out", "fsroot", "__pycache__"}


class HandoutError(Exception):
    pass


class Lines:
    """Output lines with the places where lines were removed remembered, so that a removal
    between two runs of blank lines leaves one run: the longer of the two."""

    def __init__(self):
        self.out = []           # kept lines, and None where a removal happened

    def keep(self, line):
        self.out.append(line)

    def drop(self):
        if not self.out or self.out[-1] is not None:
            self.out.append(None)

    def text(self):
        res, i, lines = [], 0, self.out
        blank = lambda l: l is not None and l.strip() == ""
        while i < len(lines):
            if lines[i] is not None:
                res.append(lines[i])
                i += 1
                continue
            before = 0
            while before < len(res) and res[-1 - before].strip() == "":
                before += 1
            j = i           # skip removals and the blank lines between them ...
            while j < len(lines) and (lines[j] is None or blank(lines[j])):
                j += 1
            k = j           # ... and keep the blank lines after the last removal
            while k > i and lines[k - 1] is not None:
                k -= 1
            after = lines[k:j]
            res.extend(after[:max(0, max(before, len(after)) - before)])
            i = j
        return "".join(res)


def resolve_c(path, text, defined=frozenset()):
    """The source with every conditional on a staff macro resolved: as defined for the
    macros in defined, as undefined for the others. Other conditionals are kept as they are
    (and tracked, to find the matching #else/#endif)."""
    out = Lines()
    stack = []      # per open conditional: [ours, this branch kept]
    for n, line in enumerate(text.splitlines(True), 1):
        where = "%s:%d" % (path, n)
        live = all(kept for ours, kept in stack if ours)
        m = DIRECTIVE.match(line)
        if not m:
            if live and STAFF_WORD.search(line):
                raise HandoutError("%s: %s outside #ifdef/#ifndef/#else/#endif"
                                   % (where, STAFF_WORD.search(line).group(1)))
            out.keep(line) if live else out.drop()
            continue
        word, rest = m.group(1), m.group(2)
        if word in ("ifdef", "ifndef") and rest.split()[:1] and rest.split()[0] in STAFF_MACROS:
            on = rest.split()[0] in defined
            stack.append([True, on if word == "ifdef" else not on])
            out.drop()
            continue
        if STAFF_WORD.search(rest) and not rest.lstrip().startswith(("//", "/*")):
            raise HandoutError("%s: only #ifdef/#ifndef are supported for %s"
                               % (where, STAFF_WORD.search(rest).group(1)))
        if word in ("if", "ifdef", "ifndef"):
            stack.append([False, True])
        elif not stack:
            raise HandoutError("%s: #%s without #if" % (where, word))
        elif stack[-1][0]:
            if word == "elif":
                raise HandoutError("%s: #elif in a staff-macro conditional" % where)
            if word == "else":
                stack[-1][1] = not stack[-1][1]
            else:
                stack.pop()
            out.drop()
            continue
        elif word == "endif":
            stack.pop()
        out.keep(line) if live else out.drop()
    if stack:
        raise HandoutError("%s: %d conditional(s) not closed" % (path, len(stack)))
    return out.text()


def marker(line, prefix):
    """The block name of a marker line starting with prefix (BEGIN or END), else None."""
    s = line.lstrip()
    if s.startswith(COMMENT):
        s = s[len(COMMENT):].lstrip()
    if not s.startswith(prefix):
        return None
    name = re.match(r"\w*", s[len(prefix):]).group(0)
    if name not in BLOCK_NAMES:
        raise HandoutError("unknown block %r (known: %s)" % (name, " ".join(BLOCK_NAMES)))
    return name


def strip_markers(path, text, level):
    """The file without its marker lines, without its solution blocks and without the
    blocks of the other level."""
    out = Lines()
    block, start = None, 0
    for n, line in enumerate(text.splitlines(True), 1):
        try:
            begin, end = marker(line, BEGIN), marker(line, END)
        except HandoutError as e:
            raise HandoutError("%s:%d: %s" % (path, n, e))
        if begin:
            if block:
                raise HandoutError("%s:%d: %s block inside the %s block from line %d"
                                   % (path, n, begin, block, start))
            block, start = begin, n
            out.drop()
        elif end:
            if end != block:
                raise HandoutError("%s:%d: end of a %s block that never began" % (path, n, end))
            block = None
            out.drop()
        elif block and block != level:
            out.drop()
        else:
            out.keep(line)
    if block:
        raise HandoutError("%s:%d: %s block never ends" % (path, start, block))
    return out.text()


def source_files(root):
    """Paths (relative, sorted) of the tree's source files: git's view when it is a checkout
    (tracked and untracked files that are not ignored), else a walk without build outputs."""
    try:
        r = subprocess.run(["git", "-C", root, "ls-files", "-z", "-co", "--exclude-standard"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        names = [p for p in r.stdout.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for d, dirs, files in os.walk(root):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
            rel = os.path.relpath(d, root)
            for f in files:
                p = os.path.normpath(os.path.join(rel, f))
                if BUILD_OUTPUT.match(f) or p in ("kernel/kernel", "mkfs/mkfs") or \
                        (rel == "user" and f.startswith("_")):
                    continue
                names.append(p)
    return sorted(p for p in set(names) if os.path.isfile(os.path.join(root, p)))


def starter_text(rel, text, level, defined):
    if rel.endswith(C_SUFFIXES):
        if BEGIN in text or END in text:
            raise HandoutError("%s: C sources mark the solution with #ifdef COW_FORK, not %s"
                               % (rel, BEGIN))
        return resolve_c(rel, text, defined)
    text = strip_markers(rel, text, level)
    m = STAFF_WORD.search(text)
    if m:
        line = text[:m.start()].count("\n") + 1
        raise HandoutError("%s:%d: %s outside a solution block" % (rel, line, m.group(1)))
    return text


def make_tree(root, dest, level, solution=False):
    """Writes the level's starter into dest (a new directory). With solution, the starter
    with the staff's own copy-on-write kernel instead: COW_FORK resolved as defined (and
    nothing else), kernel/cow.c in the tree and in the Makefile's OBJS; make check grades
    that as a finished lab. Returns the relative paths written."""
    defined = frozenset({"COW_FORK"}) if solution else LEVELS[level]
    written = []
    for rel in source_files(root):
        if (rel in SOLUTION_FILES or rel.startswith(SOLUTION_DIRS)) and \
                not (solution and rel == "kernel/cow.c"):
            continue
        src = os.path.join(root, rel)
        with open(src, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None         # binary: copied as it is
        if text is not None:
            text = starter_text(rel, text, level, defined)
            if solution and rel == "Makefile":
                text = re.sub(r"(?m)^(OBJS = \\\n(?:.*\\\n)*.*\n)", r"\1OBJS += $K/cow.o\n",
                              text, count=1)
            data = text.encode("utf-8")
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as f:
            f.write(data)
        os.chmod(out, os.stat(src).st_mode & 0o777)
        written.append(rel)
    return written


def make_tarball(tree, files, path):
    """A reproducible .tar.gz of tree (same input, same bytes): sorted, no owners, fixed times."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for rel in files:
            d = os.path.dirname(rel)
            while d:
                dirs.add(d)
                d = os.path.dirname(d)
        for rel in [""] + sorted(dirs):
            info = tarfile.TarInfo(os.path.join(NAME, rel).rstrip("/"))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for rel in files:
            full = os.path.join(tree, rel)
            info = tarfile.TarInfo(os.path.join(NAME, rel))
            info.size = os.path.getsize(full)
            info.mode = 0o755 if os.stat(full).st_mode & 0o100 else 0o644
            info.mtime = 0
            with open(full, "rb") as f:
                tar.addfile(info, f)
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
            gz.write(buf.getvalue())


def main(argv):
    ap = argparse.ArgumentParser(description="Write the COW lab's student starter tree.")
    ap.add_argument("--out", default=os.path.join(ROOT, "handout"),
                    help="output directory (default: handout/ in this tree)")
    ap.add_argument("--level", choices=sorted(LEVELS), default="standard",
                    help="standard (no reference counts; the default) or guided")
    opts = ap.parse_args(argv)
    out = os.path.abspath(opts.out)
    if out == ROOT or ROOT.startswith(out + os.sep):
        print("handout: --out must not be this tree or hold it", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)
    # Build everything next to the result, then move it in place: a failed run leaves the
    # previous handout alone and never a half-written one.
    work = tempfile.mkdtemp(prefix=".handout-", dir=out)
    try:
        tree = os.path.join(work, NAME)
        os.mkdir(tree)
        try:
            files = make_tree(ROOT, tree, opts.level)
        except HandoutError as e:
            print("handout: %s; nothing written" % e, file=sys.stderr)
            return 1
        tarball = os.path.join(work, NAME + ".tar.gz")
        make_tarball(tree, files, tarball)
        final_tree = os.path.join(out, NAME)
        shutil.rmtree(final_tree, ignore_errors=True)
        os.rename(tree, final_tree)
        os.replace(tarball, os.path.join(out, NAME + ".tar.gz"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    left_out = sorted(SOLUTION_FILES & set(source_files(ROOT))) + list(SOLUTION_DIRS)
    shown = os.path.relpath(final_tree)
    if shown.startswith(os.pardir):
        shown = final_tree
    print("handout: %s/ (%s level, %d files; left out: %s) and %s.tar.gz"
          % (shown, opts.level, len(files), " ".join(left_out) or "nothing", shown))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
