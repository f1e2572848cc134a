#!/usr/bin/env python3
"""`make handout`: writes the student starter tree of the COW lab from this (the solution) tree.

  tools/handout.py [--out DIR]        default DIR: handout/ next to the Makefile
  -> DIR/xv6-cow-lab/ and DIR/xv6-cow-lab.tar.gz (the tree, top directory xv6-cow-lab/)

How the solution is marked (docs/cow-design.md, "The handout", says the same for staff):
  - C, headers, assembly: the solution is the code under `#ifdef COW_FORK` (or in the
    `#else` of `#ifndef COW_FORK`); the starter's own code, where it needs any, is the
    other branch. The starter is the tree with COW_FORK undefined and the conditionals
    resolved, as `unifdef -UCOW_FORK` would do; `make COW=0` builds that same kernel.
    The staff's measuring switches (STAFF_MACROS below) are resolved the same way, so
    their code and comments never reach the starter.
  - Every other text file (Makefile, README, Python, shell): the lines from a line
    starting with `# >>> solution` through a line starting with `# <<< solution` go.
    Markdown pages put the same two lines inside HTML comments, `<!-- # >>> solution -->`,
    so that they do not show when the page is rendered.
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
# Macros the staff tree may test with #ifdef/#ifndef; all are undefined in the starter.
STAFF_MACROS = ("COW_FORK",          # make COW=1: the copy-on-write fork (the solution)
                "LOG_SYNC_COMMIT",   # make LOGCOMMIT=sync: the per-operation commit, to compare
                "TRAP_FULL_FLUSH",   # make TRAPFLUSH=full: the flushing trap path, to compare
                "COW_ONE_PAGE")      # make COWBATCH=0: a COW fault resolves one page, to compare
STAFF_WORD = re.compile(r"\b(%s)\b" % "|".join(STAFF_MACROS))
C_SUFFIXES = (".c", ".h", ".S")
SOLUTION_FILES = {
    "kernel/cow.c",         # copy-on-write sharing and faults: what the students write
    "tools/handout.py",     # this program
    "tools/bench.py",       # COW against eager fork: needs both kernels, i.e. the solution
    "tests/test_bench.py",  # ... and its host-side tests
    "tools/autograder.py",  # the Gradescope bundle: staff only
    "tools/tickgap.c",      # measures the timer tick's cost for performance.md
    "docs/cow-design.md",   # the design of the solution and of this program
    "docs/performance.md",  # the benchmarks (make bench) and their numbers
    "docs/forkbench.svg",   # ... and their plot
    "docs/grading.md",      # grading many submissions
}
# Marker lines; built from parts so that this file's own lines are not markers. In Markdown
# they may sit inside an HTML comment: the line starts with COMMENT, then the marker.
BEGIN = "# " + ">>> solution"
END = "# " + "<<< solution"
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


def resolve_c(path, text):
    """The source with every conditional on a staff macro resolved as if it were undefined.
    Other conditionals are kept as they are (and tracked, to find the matching #else/#endif)."""
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
            stack.append([True, word == "ifndef"])
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


def strip_markers(path, text):
    """The file without its `# >>> solution` ... `# <<< solution` blocks."""
    out = Lines()
    start = None
    for n, line in enumerate(text.splitlines(True), 1):
        s = line.lstrip()
        if s.startswith(COMMENT):
            s = s[len(COMMENT):].lstrip()
        if s.startswith(BEGIN):
            if start:
                raise HandoutError("%s:%d: solution block inside the one from line %d"
                                   % (path, n, start))
            start = n
            out.drop()
        elif s.startswith(END):
            if not start:
                raise HandoutError("%s:%d: end of a solution block that never began" % (path, n))
            start = None
            out.drop()
        elif start:
            out.drop()
        else:
            out.keep(line)
    if start:
        raise HandoutError("%s:%d: solution block never ends" % (path, start))
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


def starter_text(rel, text):
    if rel.endswith(C_SUFFIXES):
        if BEGIN in text or END in text:
            raise HandoutError("%s: C sources mark the solution with #ifdef COW_FORK, not %s"
                               % (rel, BEGIN))
        return resolve_c(rel, text)
    text = strip_markers(rel, text)
    m = STAFF_WORD.search(text)
    if m:
        line = text[:m.start()].count("\n") + 1
        raise HandoutError("%s:%d: %s outside a solution block" % (rel, line, m.group(1)))
    return text


def make_tree(root, dest):
    """Writes the starter into dest (a new directory). Returns the relative paths written."""
    written = []
    for rel in source_files(root):
        if rel in SOLUTION_FILES:
            continue
        src = os.path.join(root, rel)
        with open(src, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None         # binary: copied as it is
        if text is not None:
            data = starter_text(rel, text).encode("utf-8")
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
            files = make_tree(ROOT, tree)
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
    left_out = sorted(SOLUTION_FILES & set(source_files(ROOT)))
    shown = os.path.relpath(final_tree)
    if shown.startswith(os.pardir):
        shown = final_tree
    print("handout: %s/ (%d files; left out: %s) and %s.tar.gz"
          % (shown, len(files), " ".join(left_out) or "nothing", shown))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
