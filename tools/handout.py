#!/usr/bin/env python3
"""`make handout [LEVEL=standard|guided]`: the student starter of the COW lab, from this tree.

  tools/handout.py [--out DIR] [--level standard|guided]
  -> DIR/xv6-cow-lab/ and DIR/xv6-cow-lab.tar.gz (DIR: handout/ in this tree by default)

The starter is this tree with C conditionals on STAFF_MACROS resolved (as `unifdef` would:
undefined, except those the level defines in LEVELS), `# >>> solution` ... `# <<< solution`
blocks removed from other text files (`guided`/`standard` blocks kept only in that level;
Markdown may hide a marker in `<!-- -->`) and SOLUTION_FILES left out; docs/cow-design.md
says more. A staff macro or marker left over is an error, and then nothing is written.
"""

import argparse
import gzip
import os
import re
import shutil
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import xv6kit as kit  # noqa: E402

NAME = "xv6-cow-lab"
# Macros the staff tree may test with #ifdef/#ifndef: undefined in the starter unless its
# level defines them. The staff tree never defines NO_PAGE_REFS.
STAFF_MACROS = ("COW_FORK",          # make COW=1: the copy-on-write fork (the solution)
                "LOG_SYNC_COMMIT",   # make LOGCOMMIT=sync: the per-operation commit, to compare
                "TRAP_FULL_FLUSH",   # make TRAPFLUSH=full: the flushing trap path, to compare
                "COW_AROUND",        # make COWBATCH=1: COW fault-around (kernel/cowaround.c)
                "NO_PAGE_REFS")      # kalloc.c without reference counts: a plain free list
# The macros each level's starter defines: the standard starter has no reference counts; the
# guided one keeps them and the helpers that use them.
LEVELS = {"standard": frozenset({"NO_PAGE_REFS"}), "guided": frozenset()}
STAFF_WORD = re.compile(r"\b(%s)\b" % "|".join(STAFF_MACROS))
C_SUFFIXES = (".c", ".h", ".S")
# Left out of the starter: the solution, the staff tools and their tests, the staff pages.
SOLUTION_FILES = {"kernel/cow.c", "kernel/cowaround.c", "tools/handout.py", "tools/bench.py",
                  "tests/test_bench.py", "tools/autograder.py", "tools/tickgap.c",
                  "docs/cow-design.md", "docs/performance.md", "docs/forkbench.svg",
                  "docs/grading.md"}
SOLUTION_DIRS = ("tests/mistakes/",)   # patches with typical mistakes, for the lab proof
# A marker line: `# >>> name` or `# <<< name`, in Markdown maybe inside `<!-- -->`.
MARKER = re.compile(r"\s*(?:<!--\s*)?# (>>>|<<<) (\w*)")
BLOCK_NAMES = ("solution",) + tuple(LEVELS)
DIRECTIVE = re.compile(r"^\s*#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)$")


class HandoutError(Exception):
    pass


def squeeze(lines):
    """The text of lines, where None marks a removed line: the blank lines around a run of
    removals (blank lines inside it go too) shrink to the longer of the two runs."""
    res = []
    after = None        # in a run of removals: the blank lines since its last removal
    for line in lines + ["end"]:    # "end": so that a run at the end of the text ends too
        if line is None:
            after = []
        elif after is not None and line.strip() == "":
            after.append(line)
        else:
            if after is not None:
                before = 0          # the blank lines that end res, which the run follows
                while before < len(res) and res[-1 - before].strip() == "":
                    before += 1
                res += after[:max(0, len(after) - before)]
                after = None
            res.append(line)
    return "".join(res[:-1])


def resolve_c(path, text, defined=frozenset()):
    """The source with each conditional on a staff macro resolved (as defined for those in
    defined); other conditionals are kept, and tracked to find their #else/#endif."""
    out = []
    stack = []      # per open conditional: None if not on a staff macro, else "branch kept"
    for n, line in enumerate(text.splitlines(True), 1):
        where = "%s:%d" % (path, n)
        live = False not in stack
        m = DIRECTIVE.match(line)
        word, rest = m.groups() if m else (None, line)
        staff = STAFF_WORD.search(rest)
        macro = (rest.split() or [None])[0]
        if word in ("ifdef", "ifndef") and macro in STAFF_MACROS:
            stack.append((macro in defined) == (word == "ifdef"))
            out.append(None)
            continue
        if staff and not word and live:
            raise HandoutError("%s: %s outside #ifdef/#ifndef/#else/#endif"
                               % (where, staff.group(1)))
        if staff and word and not rest.lstrip().startswith(("//", "/*")):
            raise HandoutError("%s: only #ifdef/#ifndef are supported for %s"
                               % (where, staff.group(1)))
        if word in ("else", "elif", "endif"):
            if not stack:
                raise HandoutError("%s: #%s without #if" % (where, word))
            if stack[-1] is not None:       # a staff conditional: its directives go
                if word == "elif":
                    raise HandoutError("%s: #elif in a staff-macro conditional" % where)
                if word == "else":
                    stack[-1] = not stack[-1]
                else:
                    stack.pop()
                out.append(None)
                continue
            if word == "endif":
                stack.pop()
        elif word:
            stack.append(None)
        out.append(line if live else None)
    if stack:
        raise HandoutError("%s: %d conditional(s) not closed" % (path, len(stack)))
    return squeeze(out)


def strip_markers(path, text, level):
    """The file without marker lines, solution blocks and the other level's blocks."""
    out = []
    block, start = None, 0
    for n, line in enumerate(text.splitlines(True), 1):
        m = MARKER.match(line)
        if m and m.group(2) not in BLOCK_NAMES:
            raise HandoutError("%s:%d: unknown block %r (known: %s)"
                               % (path, n, m.group(2), " ".join(BLOCK_NAMES)))
        if m and m.group(1) == ">>>":
            if block:
                raise HandoutError("%s:%d: %s block inside the %s block from line %d"
                                   % (path, n, m.group(2), block, start))
            block, start = m.group(2), n
        elif m:
            if m.group(2) != block:
                raise HandoutError("%s:%d: end of a %s block that never began"
                                   % (path, n, m.group(2)))
            block = None
        out.append(None if m or (block and block != level) else line)
    if block:
        raise HandoutError("%s:%d: %s block never ends" % (path, start, block))
    return squeeze(out)


def starter_text(rel, text, level, defined):
    if rel.endswith(C_SUFFIXES):
        if re.search("# (>>>|<<<) ", text):
            raise HandoutError("%s: C sources mark the solution with #ifdef COW_FORK, not # >>> "
                               % rel)
        return resolve_c(rel, text, defined)
    text = strip_markers(rel, text, level)
    m = STAFF_WORD.search(text)
    if m:
        line = text[:m.start()].count("\n") + 1
        raise HandoutError("%s:%d: %s outside a solution block" % (rel, line, m.group(1)))
    return text


def make_tree(root, dest, level, solution=False):
    """Writes the level's starter into dest; returns the relative paths written. With
    solution, the staff's kernel instead (COW_FORK defined, nothing else; kernel/cow.c kept
    and in the Makefile's OBJS): make check grades that as a finished lab."""
    defined = frozenset({"COW_FORK"}) if solution else LEVELS[level]
    written = []
    for rel in kit.source_files(root):
        if (rel in SOLUTION_FILES or rel.startswith(SOLUTION_DIRS)) and \
                not (solution and rel == "kernel/cow.c"):
            continue
        src = os.path.join(root, rel)
        with open(src, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass                # binary: copied as it is
        else:
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
    """A reproducible .tar.gz of tree (same input, same bytes): the directories, then the
    files, sorted; no owners, no times, modes 0755 or 0644."""
    def normalized(info):
        info.mode = 0o755 if info.isdir() or info.mode & 0o100 else 0o644
        info.uid = info.gid = info.mtime = 0
        info.uname = info.gname = ""
        return info
    dirs = {""}
    for rel in files:
        while rel:
            rel = os.path.dirname(rel)
            dirs.add(rel)
    with open(path, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(dirs) + files:
            tar.add(os.path.join(tree, rel), os.path.join(NAME, rel).rstrip("/"),
                    recursive=False, filter=normalized)


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
    # Built next to the result, then moved in place: a failed run leaves the previous
    # handout alone, never a half-written one.
    work = tempfile.mkdtemp(prefix=".handout-", dir=out)
    final_tree = os.path.join(out, NAME)
    try:
        tree = os.path.join(work, NAME)
        try:
            files = make_tree(ROOT, tree, opts.level)
        except HandoutError as e:
            print("handout: %s; nothing written" % e, file=sys.stderr)
            return 1
        make_tarball(tree, files, tree + ".tar.gz")
        shutil.rmtree(final_tree, ignore_errors=True)
        os.rename(tree, final_tree)
        os.replace(tree + ".tar.gz", final_tree + ".tar.gz")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    left_out = sorted(SOLUTION_FILES & set(kit.source_files(ROOT))) + list(SOLUTION_DIRS)
    print("handout: %s/ (%s level, %d files; left out: %s) and %s.tar.gz"
          % (kit.shown(final_tree), opts.level, len(files), " ".join(left_out),
             kit.shown(final_tree)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
