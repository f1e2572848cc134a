#!/usr/bin/env python3
"""`make bench`: what copy-on-write fork buys, measured; `make bench-paths` (--paths): what
the fast paths (group commit, bulk pipes, the ASID trap path) buy. Owns the benchmark driver only.

Builds the kernel three times (KERNELS): COW (COW=1, a fault resolves a batch of pages), COW
with one page per fault (COWBATCH=0) and eager (COW=0), each in its own copy of the tree under
bench-out/build-NAME/ (so objects of different settings never mix), all with MEM MiB of RAM
(256 by default, so the eager fork of a 64 MiB process fits). Boots all three headless at once
(with the QEMU command line of `make qemu`, from tools/xv6kit.py, each on a copy of its fs.img)
and runs `forkbench` on them in turn, the order rotating every round, several rounds, so that
a change in host load hits all alike; then, on each, `sysbench` when the image has it, and
times `cowtest` and `usertests -q` from typing the command to the next shell prompt. Then
prints one side-by-side table with COW/eager and COW/one-page ratios, writes
bench-out/bench.csv and draws bench-out/forkbench.svg with gnuplot (installing the Debian
package gnuplot-nox when it is missing, saying so).

This is a benchmark, not a test: it reports timings and asserts none. The exit status is
non-zero only when something could not be measured at all (a build failed, a kernel did not
boot, a program did not finish, no plot could be drawn). Python 3 standard library only.

The CSV has one row per measurement line, prefixed by the kernel (cow, onepage or eager):
  KERNEL,forkbench,SIZE_MIB,fork_us,forkwrite_us,pages,reuse_us,touch_us,mapped_pages,reps,
      exec_us,random_us,random_written,random_allocated
  KERNEL,wall,PROGRAM,SECONDS,ok|failed
  KERNEL,sysbench,...          (sysbench's own lines, unchanged)
-1 in a forkbench field means that fork failed (the eager kernel ran out of memory).

--paths builds three COW kernels instead (see PATH_KERNELS): the default, LOGCOMMIT=sync (the
log commits every operation on its own) and TRAPFLUSH=full (the trap path flushes the whole
TLB both ways), boots them at once, runs `sysbench` on each in rotating order for several
rounds, prints the medians and the slow/fast ratios taken within each round, and writes
bench-out/paths.csv: KERNEL,ROUND,NAME,VALUE with NAME one of sysbench's numbers.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
# name, make settings. The table and the plot take them in this order.
KERNELS = [("cow", ["COW=1"]), ("onepage", ["COW=1", "COWBATCH=0"]), ("eager", ["COW=0"])]
BOOT_TIMEOUT = 120
# Commands and their timeouts in seconds (generous: the eager kernel and a busy host are slow).
FORKBENCH_TIMEOUT = 900
SYSBENCH_TIMEOUT = 900
WALL = [("cowtest", 900), ("usertests -q", 2400)]
FORKBENCH_FIELDS = ["fork_us", "forkwrite_us", "pages", "reuse_us", "touch_us",
                    "mapped_pages", "reps", "exec_us", "random_us", "random_written",
                    "random_allocated"]
OLDEST_FORKBENCH = 7    # fields up to "reps": every forkbench line has at least these
COUNT_FIELDS = {"pages", "mapped_pages", "reps", "random_written", "random_allocated"}


sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import xv6kit as kit  # noqa: E402
from xv6kit import say  # noqa: E402


# ---- Build copies and booted kernels --------------------------------------------------------
def build(name, settings, mem, tree=None):
    """make kernel/kernel fs.img SETTINGS in bench-out/build-NAME, a copy of this tree's
    sources (unchanged files keep their times, so make rebuilds only what changed since the
    last `make bench`), or in tree when given (used as it is); returns the directory, or
    None. settings: make variables, e.g. ["COW=0"]."""
    dest = tree or os.path.join(OUT, "build-" + name)
    if tree is None:
        kit.copy_sources(ROOT, dest)
    log = os.path.join(OUT, "build-%s.log" % name)
    start = time.monotonic()
    why, _ = kit.build(dest, ["MEM=%d" % mem] + settings, log=log)
    if why:
        say("bench: building the %s kernel: %s; the end of %s:" % (name, why, log))
        with open(log, errors="replace") as f:
            for line in f.read().splitlines()[-15:]:
                say("    " + line)
        return None
    say("bench: built the %s kernel (%s MEM=%d) in %s (%.0fs)"
        % (name, " ".join(settings), mem, os.path.relpath(dest, ROOT), time.monotonic() - start))
    return dest


def build_all(kernels, mem, trees=None):
    """build() for each (name, settings) in kernels, added to trees; None if one failed."""
    trees = dict(trees or {})
    for name, settings in kernels:
        trees[name] = build(name, settings, mem)
        if trees[name] is None:
            return None
    return trees


def in_rounds(names, trees, opts, qemuextra, rounds, problems, step, after=None):
    """Boots the kernel built in trees[name] for each name at once, each on its own copy of
    its fs.img with its console in bench-out/console-NAME.log (one that does not boot is a
    line in problems). Every round calls step(name, machine, round) on each in turn, the
    order rotating, so that a change in how busy the host is hits all alike (idle ones wait
    in wfi); machine is None for a kernel that is not up, and step returns False when it
    left the console in an unknown state (the machine is then closed). Last, after(name,
    machine) on each still up. Every machine and log is closed on return."""
    machines, logs = {}, []
    try:
        for name in names:
            say("bench: booting the %s kernel (CPUS=%d, MEM=%d)" % (name, opts.cpus, opts.mem))
            log = open(os.path.join(OUT, "console-%s.log" % name), "w")
            logs.append(log)
            m, why = kit.Machine.boot(trees[name], os.path.join(OUT, "fs-%s.img" % name),
                                      BOOT_TIMEOUT, cpus=opts.cpus, mem=opts.mem,
                                      extra=qemuextra.split(),
                                      echo=lambda s, f=log: (f.write(s), f.flush()))
            if why:
                m.close()
                problems.append("%s kernel did not boot: %s" % (name, why))
            else:
                machines[name] = m
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                if step(name, machines.get(name), r) is False and name in machines:
                    machines.pop(name).close()
        for name in names:
            if after and name in machines:
                after(name, machines[name])
    finally:
        for m in machines.values():
            m.close()
        for log in logs:
            log.close()


def parse_forkbench(out):
    """{size_mib: {field: number}} from forkbench's machine-readable lines. A line with fewer
    fields (a forkbench of an older tree, for --against) gives the fields it has, in order."""
    rows = {}
    for line in out.splitlines():
        f = line.strip().split(",")
        if f[0] != "forkbench" or not 2 + OLDEST_FORKBENCH <= len(f) <= 2 + len(FORKBENCH_FIELDS):
            continue
        try:
            rows[int(f[1])] = dict(zip(FORKBENCH_FIELDS, (float(x) for x in f[2:])))
        except ValueError:
            continue
    return rows


def new_result(name):
    return {"name": name, "rounds": [], "forkbench": {}, "forkbench_lines": [],
            "sysbench": [], "wall": {}, "problems": []}


def run_forkbench(res, m, args):
    """One forkbench run on machine m; its rows go into res["rounds"]. False if it failed."""
    cmd = ("forkbench " + args).strip()
    out, secs, why = m.run(cmd, FORKBENCH_TIMEOUT)
    say("bench: %s: %s (%.1fs)%s" % (res["name"], cmd, secs, "; " + why if why else ""))
    if why or "forkbench: done" not in out:
        res["problems"].append("%s: forkbench did not finish (%s)"
                               % (res["name"], why or "no 'done'"))
        return False
    res["rounds"].append(parse_forkbench(out))
    return True


def combine_rounds(res):
    """Per size and field, the median over the rounds; and the matching CSV lines."""
    sizes = sorted(set().union(*res["rounds"])) if res["rounds"] else []
    for size in sizes:
        rows = [r[size] for r in res["rounds"] if size in r]
        row = {}
        for field in FORKBENCH_FIELDS:
            vals = sorted(r[field] for r in rows)
            # A failed fork (-1) in any round marks the field failed.
            row[field] = -1.0 if vals[0] < 0 else vals[(len(vals) - 1) // 2]
        res["forkbench"][size] = row
        res["forkbench_lines"].append("forkbench,%d,%s" % (size, ",".join(
            ("%d" if f in COUNT_FIELDS else "%.1f") % row[f]
            for f in FORKBENCH_FIELDS)))


def run_rest(res, m, tree, extras):
    """sysbench (when the image has it) and the wall-clock programs on machine m."""
    # fsroot/ holds what mkfs put in fs.img (make may delete user/_NAME afterwards).
    if extras and os.path.exists(os.path.join(tree, "fsroot", "_sysbench")):
        out, secs, why = m.run("sysbench", SYSBENCH_TIMEOUT)
        res["sysbench"] = [l.strip() for l in out.splitlines() if l.startswith("sysbench,")]
        say("bench: %s: sysbench (%.1fs)%s" % (res["name"], secs, "; " + why if why else ""))
        if why:
            res["problems"].append("%s: sysbench: %s" % (res["name"], why))
            return
    for command, timeout in WALL:
        out, secs, why = m.run(command, timeout)
        ok = why is None and not re.search(r"FAILED|SOME TESTS FAILED", out)
        res["wall"][command] = (secs, "ok" if ok else "failed")
        say("bench: %s: %s: %.1fs, %s%s" % (res["name"], command, secs, "ok" if ok else "failed",
                                            "; " + why if why else ""))
        if why:
            res["problems"].append("%s: %s: %s" % (res["name"], command, why))
            return      # the console is in an unknown state now


# ---- Reporting ---------------------------------------------------------------------------------
def fmt(v, unit):
    if v is None or v < 0:
        return "failed"
    if unit == "pages":
        return "%d" % v
    if unit == "s":
        return "%.1f" % v
    return "%.1f" % v


def ratio(a, b):
    if a is None or b is None or a < 0 or b <= 0:
        return "-"
    return "%.3g" % (a / b)


ROW = "%-36s %12s %12s %12s %9s %9s"
METRICS = [("fork_us", "fork+exit+wait, us"), ("forkwrite_us", "fork+child writes all, us"),
           ("reuse_us", "parent writes after fork, us"),
           ("touch_us", "parent writes, no fork, us"), ("exec_us", "fork+exec+wait, us"),
           ("random_us", "fork+child writes 10%, us"),
           ("random_written", "  pages the child writes"),
           ("random_allocated", "  pages the child allocates"),
           ("pages", "pages allocated by fork")]


def table(cow, one, eager):
    """The side-by-side table, as lines: values of the three kernels, then COW/eager and
    COW/one-page ratios."""
    lines = [ROW % ("", "COW", "one page", "eager", "COW/eager", "COW/1page"),
             ROW % ("-" * 36, "-" * 12, "-" * 12, "-" * 12, "-" * 9, "-" * 9)]
    sizes = sorted(set(cow["forkbench"]) | set(one["forkbench"]) | set(eager["forkbench"]))
    for key, label in METRICS:
        unit = "pages" if key in COUNT_FIELDS else "us"
        for s in sizes:
            a, o, b = (r["forkbench"].get(s, {}).get(key) for r in (cow, one, eager))
            lines.append(ROW % ("%s %4d MiB" % (label, s), fmt(a, unit), fmt(o, unit),
                                fmt(b, unit), ratio(a, b), ratio(a, o)))
    lines.append("derived, per heap size (COW, one page):")
    for s in sizes:
        c, o = cow["forkbench"].get(s, {}), one["forkbench"].get(s, {})
        lines.append("  %4d MiB: reuse/touch %s, %s; random allocated/written %s, %s"
                     % (s, ratio(c.get("reuse_us"), c.get("touch_us")),
                        ratio(o.get("reuse_us"), o.get("touch_us")),
                        ratio(c.get("random_allocated"), c.get("random_written")),
                        ratio(o.get("random_allocated"), o.get("random_written"))))
    for command, _ in WALL:
        got = [r["wall"].get(command, (None, "not run")) for r in (cow, one, eager)]
        cells = ["%s %s" % (fmt(secs, "s"), status) if secs else status for secs, status in got]
        secs = [secs for secs, _ in got]
        lines.append(ROW % ("%s wall clock, s" % command, *cells,
                            ratio(secs[0], secs[2]), ratio(secs[0], secs[1])))
    # sysbench: pair lines whose first field matches; the ratios of the first number in each.
    others = []
    for r in (one, eager):
        byname = {}
        for line in r["sysbench"]:
            f = line.split(",")
            if len(f) > 2:
                byname[f[1]] = f[2:]
        others.append(byname)
    for line in cow["sysbench"]:
        f = line.split(",")
        if len(f) < 3:
            continue
        o, b = (d.get(f[1], []) for d in others)
        lines.append(ROW % ("sysbench " + f[1], " ".join(f[2:]), " ".join(o) or "-",
                            " ".join(b) or "-", first_ratio(f[2], b), first_ratio(f[2], o)))
    return lines


def first_ratio(a, other):
    """The ratio of a to the first field of other (a sysbench line's value), or '-'."""
    try:
        return ratio(float(a), float(other[0]))
    except (ValueError, IndexError):
        return "-"


def write_csv(path, results):
    with open(path, "w") as f:
        f.write("kernel,record,f1,f2,f3,f4,f5,f6,f7,f8\n")
        for res in results:
            for line in res["forkbench_lines"]:
                f.write("%s,%s\n" % (res["name"], line))
            for command, (secs, status) in res["wall"].items():
                f.write("%s,wall,%s,%.2f,%s\n" % (res["name"], command, secs, status))
            for line in res["sysbench"]:
                f.write("%s,%s\n" % (res["name"], line))


def ensure_gnuplot():
    """gnuplot's path, installing gnuplot-nox with apt-get when it is missing; or None."""
    if shutil.which("gnuplot"):
        return shutil.which("gnuplot")
    if not shutil.which("apt-get"):
        say("bench: gnuplot is missing and there is no apt-get: install gnuplot to get the plot")
        return None
    say("bench: installing gnuplot-nox with apt-get")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = kit.clean_env(DEBIAN_FRONTEND="noninteractive")
    for argv in (sudo + ["apt-get", "install", "-y", "-q", "gnuplot-nox"],
                 sudo + ["apt-get", "update", "-q"],
                 sudo + ["apt-get", "install", "-y", "-q", "gnuplot-nox"]):
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=env)
        if shutil.which("gnuplot"):
            return shutil.which("gnuplot")
    say("bench: could not install gnuplot-nox; no plot")
    return None


# The plot's lines: gnuplot's "using ..." and the title of each (columns as forkbench.dat).
PLOT_LINES = [
    ("1:2 with linespoints lw 2 pt 7 lc rgb '#1f77b4'", "COW: fork + exit + wait"),
    ("1:3 with linespoints lw 2 pt 5 lc rgb '#d62728'", "eager: fork + exit + wait"),
    ("1:4 with linespoints lw 1 dt 2 pt 6 lc rgb '#1f77b4'",
     "COW: fork + child writes every page"),
    ("1:5 with linespoints lw 1 dt 3 pt 8 lc rgb '#2ca02c'",
     "COW, one page per fault: fork + child writes every page"),
    ("1:6 with linespoints lw 1 dt 2 pt 4 lc rgb '#d62728'",
     "eager: fork + child writes every page")]


def plot(cow, one, eager, svg):
    """Fork latency against process size, COW (batched and one page per fault) vs eager,
    log-log, as an SVG. True if drawn."""
    gnuplot = ensure_gnuplot()
    if not gnuplot:
        return False
    dat = os.path.join(OUT, "forkbench.dat")
    sizes = sorted(set(cow["forkbench"]) & set(one["forkbench"]) & set(eager["forkbench"]))
    with open(dat, "w") as f:
        f.write("# mapped_mib cow_fork_us eager_fork_us cow_forkwrite_us onepage_forkwrite_us "
                "eager_forkwrite_us heap_mib\n")
        for s in sizes:
            c, o, e = cow["forkbench"][s], one["forkbench"][s], eager["forkbench"][s]
            vals = [c["fork_us"], e["fork_us"], c["forkwrite_us"], o["forkwrite_us"],
                    e["forkwrite_us"]]
            f.write("%.4f %s %d\n" % (c["mapped_pages"] * 4096 / 2**20,
                                      " ".join("%.1f" % v if v > 0 else "?" for v in vals), s))
    script = """
set terminal svg size 820,520 dynamic enhanced font 'sans,13' background rgb 'white'
set output '%(svg)s'
set datafile missing '?'
set title 'fork latency vs process size: copy-on-write vs eager copy (QEMU, %(cpus)s)'
set logscale xy
set xlabel 'process size, MiB of mapped (touched) pages (log)'
set ylabel 'time, microseconds (log)'
set format y '10^{%%L}'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key top left box opaque
plot %(plot)s, \\
  '%(dat)s' using 1:2:(sprintf('%%d MiB heap', $7)) with labels offset 0,-1.2 font ',9' notitle
""" % {"svg": svg, "dat": dat, "cpus": cow.get("cpus_label", ""), "plot": ", \\\n  ".join(
        "'%s' using %s title '%s'" % (dat, how, title) for how, title in PLOT_LINES)}
    r = subprocess.run([gnuplot], input=script.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0 or not os.path.exists(svg):
        say("bench: gnuplot failed: " + r.stdout.decode("utf-8", "replace").strip()[-500:])
        return False
    return True


# ---- --paths: the fast paths against the classic ones, side by side --------------------
# Three COW kernels that differ in one switch each: the default, one whose log commits every
# operation on its own (LOGCOMMIT=sync: log.c only) and one whose trap path flushes the whole
# TLB on every entry and return (TRAPFLUSH=full: trap.c only). All three are booted at once
# and `sysbench` runs on each in turn, the order rotating every round, so a change in host
# load hits all alike; the ratios are taken within a round and the median over rounds kept.
PATH_KERNELS = [("fast", ["COW=1", "LOGCOMMIT=group", "TRAPFLUSH=asid"]),
                ("synccommit", ["COW=1", "LOGCOMMIT=sync", "TRAPFLUSH=asid"]),
                ("fullflush", ["COW=1", "LOGCOMMIT=group", "TRAPFLUSH=full"])]
# (label, sysbench name, slow kernel, fast kernel): the ratio slow/fast, per round.
PATH_RATIOS = [("file write 200 x 1 KiB, time", "filewrite_us", "synccommit", "fast"),
               ("file write, disk requests", "filewrite_diskreqs", "synccommit", "fast"),
               ("file read back, time", "fileread_us", "synccommit", "fast"),
               ("file read back, disk requests", "fileread_diskreqs", "synccommit", "fast"),
               ("system call, same trap path", "syscall_ns", "synccommit", "fast"),
               ("system call, full flush vs ASID", "syscall_ns", "fullflush", "fast"),
               ("fork+exec+exit, full flush vs ASID", "exec_us", "fullflush", "fast")]
# Times that include waiting for the disk (exec reads the program from it): under -icount
# the idle harts' clock jumps to the next timer event, so these say nothing there.
DISK_TIMES = {"filewrite_us", "fileread_us", "exec_us"}
PATH_ROWS = [("syscall_ns", "system call (getpid), ns"), ("memcpy_us", "memcpy 16 MiB, us"),
             ("pipe_us", "pipe 16 MiB, us"), ("pipe_vs_memcpy_pct", "pipe/memcpy throughput, %"),
             ("filewrite_us", "file write 200 KiB, us"),
             ("filewrite_diskreqs", "  its disk requests"),
             ("fileread_us", "file read back, us"), ("fileread_diskreqs", "  its disk requests"),
             ("exec_us", "fork+exec+exit, us")]


def parse_sysbench(out):
    """{name: number} from sysbench's `sysbench,NAME,VALUE,UNIT` lines."""
    vals = {}
    for line in out.splitlines():
        f = line.strip().split(",")
        if len(f) == 4 and f[0] == "sysbench":
            try:
                vals[f[1]] = float(f[2])
            except ValueError:
                pass
    return vals


def median(xs):
    xs = sorted(xs)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def paths_main(opts, qemuextra, clock):
    """The --paths run. Returns the exit status: 0 if every round was measured on all three."""
    rounds = opts.rounds or 5
    trees = build_all(PATH_KERNELS, opts.mem)
    if trees is None:
        return 1
    names = [name for name, _ in PATH_KERNELS]
    runs = {name: [] for name in names}         # per kernel, one {name: value} per round
    problems = []
    csv_path = os.path.join(OUT, "paths.csv")

    def step(name, m, r):
        if m is None:
            runs[name].append({})
            return None
        out, secs, why = m.run("sysbench", SYSBENCH_TIMEOUT)
        vals = parse_sysbench(out)
        say("bench: round %d, %s: sysbench (%.1fs)%s" % (r + 1, name, secs,
                                                        "; " + why if why else ""))
        if why or "sysbench: FAIL" in out or "filewrite_us" not in vals:
            problems.append("%s, round %d: sysbench %s" % (name, r + 1, why or "failed"))
            vals = {}
        runs[name].append(vals)
        return not why

    in_rounds(names, trees, opts, qemuextra, rounds, problems, step)

    with open(csv_path, "w") as f:
        f.write("kernel,round,name,value\n")
        for name in names:
            for r, vals in enumerate(runs[name]):
                for key in sorted(vals):
                    f.write("%s,%d,%s,%g\n" % (name, r + 1, key, vals[key]))

    say("")
    say("Fast paths vs the classic ones, CPUS=%d, MEM=%d, %d rounds in one run; time CSR = %s"
        % (opts.cpus, opts.mem, rounds, clock))
    say("kernels: fast = the default build; synccommit = make LOGCOMMIT=sync (end_op commits "
        "every operation); fullflush = make TRAPFLUSH=full (whole-TLB flush on trap entry "
        "and exit)")
    if opts.icount:
        say("(-icount: times that include waiting for the disk mean nothing: n/a; see paths.csv)")
    say("medians over the rounds:")
    say("%-30s %12s %12s %12s" % ("", "fast", "synccommit", "fullflush"))
    for key, label in PATH_ROWS:
        cells = []
        for name in names:
            v = median([vals[key] for vals in runs[name] if key in vals])
            cells.append("-" if v is None else "n/a" if opts.icount and key in DISK_TIMES
                         else "%.0f" % v)
        say("%-30s %12s %12s %12s" % (label, *cells))
    say("ratios slow/fast, taken within each round (median, then min..max over rounds):")
    for label, key, slow, fast in PATH_RATIOS:
        rs = [a[key] / b[key] for a, b in zip(runs[slow], runs[fast])
              if key in a and key in b and b[key] > 0]
        if opts.icount and key in DISK_TIMES:
            say("%-38s %6s" % (label, "n/a"))
        elif rs:
            say("%-38s %6.2fx   (%.2f..%.2f, %d rounds)"
                % (label, median(rs), min(rs), max(rs), len(rs)))
        else:
            say("%-38s %6s" % (label, "-"))
    pct = {name: [vals["pipe_vs_memcpy_pct"] for vals in runs[name]
                  if "pipe_vs_memcpy_pct" in vals] for name in names}
    say("pipe/memcpy throughput, every run (target >= 25%%): %s"
        % "; ".join("%s %s" % (name, " ".join("%d%%" % v for v in pct[name]) or "-")
                    for name in names))
    say("")
    say("bench: wrote %s" % os.path.relpath(csv_path, ROOT))
    for line in problems:
        say("bench: could not measure: " + line)
    return 1 if problems else 0


# ---- --against REV: this tree against an earlier commit, side by side -------------------
# The base kernel is built from REV as git has it (git archive, its own default settings);
# this tree gives two: one page per fault (COWBATCH=0, the base's COW algorithm if REV has
# no batch) and the default. All three are booted at once; every round runs forkbench and
# then sysbench on each, the order rotating, and each ratio to the base is taken within a
# round, so a change in the host's load hits all alike.
AGAINST_KERNELS = [("onepage", ["COW=1", "COWBATCH=0"]), ("cow", ["COW=1"])]
AGAINST_FORKBENCH = [("fork_us", "fork+exit+wait, us"),
                     ("forkwrite_us", "fork+child writes all, us"),
                     ("reuse_us", "parent writes after fork, us"),
                     ("touch_us", "parent writes, no fork, us")]


def export_rev(rev):
    """(bench-out/src-COMMIT, COMMIT): the tree at git revision rev, extracted once with git
    archive; or (None, why)."""
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", rev + "^{commit}"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if r.returncode != 0:
        return None, "git knows no commit %r here" % rev
    commit = r.stdout.strip()
    dest = os.path.join(OUT, "src-" + commit)
    if os.path.exists(os.path.join(dest, "Makefile")):
        return dest, commit
    tmp = dest + ".part"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    archive = subprocess.Popen(["git", "-C", ROOT, "archive", commit], stdout=subprocess.PIPE)
    untar = subprocess.run(["tar", "-x", "-C", tmp], stdin=archive.stdout)
    archive.stdout.close()
    if archive.wait() != 0 or untar.returncode != 0:
        return None, "could not extract %s with git archive | tar" % commit
    os.rename(tmp, dest)
    return dest, commit


def spread(xs):
    """'median (min..max)' of ratios, or '-'."""
    if not xs:
        return "-"
    return "%.3f (%.2f..%.2f)" % (median(xs), min(xs), max(xs))


def against_main(opts, qemuextra, clock):
    """The --against run. Returns the exit status: 0 if every round was measured on all."""
    rounds = opts.rounds or 3
    src, commit = export_rev(opts.against)
    if src is None:
        say("bench: " + commit)
        return 1
    base = build("base", [], opts.mem, tree=src)
    trees = base and build_all(AGAINST_KERNELS, opts.mem, {"base": base})
    if not trees:
        return 1
    names = ["base"] + [name for name, _ in AGAINST_KERNELS]
    runs = {name: [] for name in names}      # per kernel, per round: (forkbench rows, sysbench)
    problems = []

    def step(name, m, r):
        if m is None:
            runs[name].append(({}, {}))
            return None
        res = new_result(name)
        run_forkbench(res, m, opts.forkbench_args)
        out, secs, why = m.run("sysbench", SYSBENCH_TIMEOUT)
        say("bench: round %d, %s: sysbench (%.1fs)%s"
            % (r + 1, name, secs, "; " + why if why else ""))
        problems.extend(res["problems"])
        if why:
            problems.append("%s, round %d: sysbench %s" % (name, r + 1, why))
        runs[name].append((res["rounds"][0] if res["rounds"] else {},
                           {} if why else parse_sysbench(out)))
        return not why

    in_rounds(names, trees, opts, qemuextra, rounds, problems, step)

    csv_path = os.path.join(OUT, "against.csv")
    with open(csv_path, "w") as f:
        f.write("kernel,round,program,name,value\n")
        for name in names:
            for r, (fb, sb) in enumerate(runs[name]):
                for size in sorted(fb):
                    for key in sorted(fb[size]):
                        f.write("%s,%d,forkbench,%s_%dMiB,%g\n" % (name, r + 1, key, size,
                                                                  fb[size][key]))
                for key in sorted(sb):
                    f.write("%s,%d,sysbench,%s,%g\n" % (name, r + 1, key, sb[key]))

    # Every number as (label, {kernel: [value per round]}).
    rows = []
    sizes = sorted(set().union(*(fb for fb, _ in runs["base"])))
    for key, label in AGAINST_FORKBENCH:
        for size in sizes:
            rows.append(("%s %4d MiB" % (label, size),
                         {n: [fb.get(size, {}).get(key) for fb, _ in runs[n]] for n in names}))
    base_sys = [k for _, sb in runs["base"][:1] for k in sb]
    for key in base_sys:
        rows.append(("sysbench " + key, {n: [sb.get(key) for _, sb in runs[n]] for n in names}))

    say("")
    say("This tree against %s (base), CPUS=%d, MEM=%d, %d rounds in one run; time CSR = %s"
        % (commit, opts.cpus, opts.mem, rounds, clock))
    say("kernels: base = %s's default build; onepage = make COWBATCH=0; cow = the default "
        "build. Ratios to the base, taken within each round: median (min..max)" % commit)
    if opts.icount:
        say("(-icount: times that include waiting for the disk mean nothing: n/a; see "
            "against.csv)")
    say("%-40s %10s %10s %10s  %-20s %-20s"
        % ("", "base", "onepage", "cow", "onepage/base", "cow/base"))
    for label, vals in rows:
        if opts.icount and label.split()[-1] in DISK_TIMES:
            say("%-40s %10s %10s %10s  %-20s %-20s" % (label, *["n/a"] * 5))
            continue
        meds = [median([v for v in vals[n] if v is not None]) for n in names]
        ratios = []
        for n in names[1:]:
            ratios.append(spread([a / b for a, b in zip(vals[n], vals["base"])
                                  if a is not None and b is not None and a >= 0 and b > 0]))
        say("%-40s %10s %10s %10s  %-20s %-20s"
            % (label, *("-" if v is None else "%.1f" % v for v in meds), *ratios))
    say("")
    say("bench: wrote %s" % os.path.relpath(csv_path, ROOT))
    for line in problems:
        say("bench: could not measure: " + line)
    return 1 if problems else 0


def main(argv):
    p = argparse.ArgumentParser(description="COW vs eager fork benchmarks (make bench)")
    p.add_argument("--mem", type=int, default=256, help="MiB of RAM for both kernels (256)")
    p.add_argument("--cpus", type=int, default=3, help="harts QEMU emulates (3)")
    p.add_argument("--forkbench-args", default="",
                   help="arguments for forkbench, e.g. '-q' or '0 1 4' (default: its full run)")
    p.add_argument("--only-forkbench", action="store_true",
                   help="skip sysbench, cowtest and usertests (quicker)")
    p.add_argument("--rounds", type=int, default=None,
                   help="forkbench runs per kernel, alternating between the two (3); the "
                   "table shows the median of the runs' medians. With --paths: sysbench "
                   "runs per kernel (5)")
    p.add_argument("--paths", action="store_true",
                   help="instead of COW vs eager: the fast paths against the classic "
                   "ones (make bench-paths). Three COW kernels, the default, LOGCOMMIT=sync "
                   "and TRAPFLUSH=full, booted at once, sysbench on each in rotating order "
                   "every round; prints medians and per-round ratios, writes "
                   "bench-out/paths.csv")
    p.add_argument("--against", metavar="REV",
                   help="instead of COW vs eager: this tree's kernels (the default and "
                   "COWBATCH=0) against the one git commit REV builds, booted at once; "
                   "forkbench and sysbench on each in rotating order every round (3); prints "
                   "medians and per-round ratios, writes bench-out/against.csv")
    p.add_argument("--icount", action="store_true",
                   help="run QEMU with -icount shift=0,sleep=off: the time CSR then counts "
                   "guest instructions (1 us = 1000 instructions), so the numbers do not "
                   "depend on how busy the host is; what the emulator spends outside guest "
                   "instructions (e.g. its TLB flushes) is not counted")
    opts = p.parse_args(argv)
    if (opts.rounds is not None and opts.rounds < 1) or opts.cpus < 1 or opts.mem < 64:
        p.error("--rounds and --cpus must be positive, --mem at least 64")
    if opts.only_forkbench:
        WALL.clear()
    os.makedirs(OUT, exist_ok=True)

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)

    qemuextra = "-icount shift=0,sleep=off" if opts.icount else ""
    clock = "instruction count (-icount: 1 us = 1000 guest instructions)" if opts.icount \
        else "wall clock of the emulated machine"
    if opts.paths:
        return paths_main(opts, qemuextra, clock)
    if opts.against:
        return against_main(opts, qemuextra, clock)
    opts.rounds = opts.rounds or 3
    trees = build_all(KERNELS, opts.mem)
    if trees is None:
        return 1
    results = [new_result(name) for name, _ in KERNELS]
    byname = {res["name"]: res for res in results}

    def step(name, m, r):
        if m:
            run_forkbench(byname[name], m, opts.forkbench_args)

    def after(name, m):
        run_rest(byname[name], m, trees[name], not opts.only_forkbench)

    in_rounds(list(byname), trees, opts, qemuextra, opts.rounds, results[0]["problems"], step,
              after)
    for res in results:
        combine_rounds(res)
    for res in results:
        res["cpus_label"] = "CPUS=%d, MEM=%d%s" % (opts.cpus, opts.mem,
                                                  ", -icount" if opts.icount else "")
    cow, one, eager = results

    say("")
    say("COW fork vs eager fork, MEM=%d MiB, CPUS=%d, measured in one run; time CSR = %s"
        % (opts.mem, opts.cpus, clock))
    say("(times are medians; COW = the default kernel, a fault resolves a batch of pages; "
        "one page = make COWBATCH=0; eager = make COW=0; a ratio < 1 means COW is faster)")
    for line in table(cow, one, eager):
        say(line)
    csv_path = os.path.join(OUT, "bench.csv")
    write_csv(csv_path, results)
    svg = os.path.join(OUT, "forkbench.svg")
    drawn = all(r["forkbench"] for r in results) and plot(cow, one, eager, svg)
    say("")
    say("bench: wrote %s%s" % (os.path.relpath(csv_path, ROOT),
                              " and " + os.path.relpath(svg, ROOT) if drawn else " (no plot)"))
    problems = [line for r in results for line in r["problems"]]
    for line in problems:
        say("bench: could not measure: " + line)
    return 1 if problems or not drawn else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
