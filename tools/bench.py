#!/usr/bin/env python3
"""The benchmark driver: `make bench` (what copy-on-write fork buys), `make bench-paths`
(--paths: what the fast paths buy) and --against REV (this tree against a git commit).

Each mode builds three kernels, each in its own copy of the tree under bench-out/build-NAME/
(so objects of different settings never mix), boots them headless at once (the QEMU command
line of `make qemu`, from tools/xv6kit.py) and runs the benchmark programs on each in turn,
the order rotating every round, so that a change in host load hits all alike. A ratio is
taken within a round; the table shows its median and min..max over the rounds.
  default  cow (COW=1), onepage (COWBATCH=0: one page per fault) and eager (COW=0), MEM 256
           so the eager fork of 64 MiB fits. forkbench every round (3); then once on each,
           sysbench and the wall-clock time of cowtest and `usertests -q` from typing the
           command to the next prompt. Writes bench-out/bench.csv and draws
           bench-out/forkbench.svg with gnuplot (installing gnuplot-nox when it is missing).
  --paths  fast (the default build), synccommit (LOGCOMMIT=sync) and fullflush
           (TRAPFLUSH=full); sysbench every round (5); writes bench-out/paths.csv.
  --against REV  base (REV's default build, from git archive into bench-out/src-COMMIT/),
           onepage and cow of this tree; forkbench and sysbench every round (3); writes
           bench-out/against.csv.
paths.csv and against.csv: KERNEL,ROUND,NAME,VALUE with every number (forkbench's as
FIELD_SIZEMiB). bench.csv has one row per measurement line, prefixed by the kernel:
  KERNEL,forkbench,SIZE_MIB,fork_us,forkwrite_us,pages,reuse_us,touch_us,mapped_pages,reps,
      exec_us,random_us,random_written,random_allocated      (medians over the rounds)
  KERNEL,wall,PROGRAM,SECONDS,ok|failed
  KERNEL,sysbench,...          (sysbench's own lines, unchanged)
-1 in a forkbench field means that fork failed (the eager kernel ran out of memory).

A benchmark, not a test: it reports timings and asserts none. The exit status is non-zero
only when something could not be measured (a build, a boot, a program or the plot failed)."""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from statistics import median

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import xv6kit as kit  # noqa: E402
from xv6kit import say  # noqa: E402

# Each mode's kernels (name, make settings; the table's columns) and ratios (a, b): a/b.
COW_KERNELS = [("cow", ["COW=1"]), ("onepage", ["COW=1", "COWBATCH=0"]), ("eager", ["COW=0"])]
COW_RATIOS = [("cow", "eager"), ("cow", "onepage")]
PATH_KERNELS = [("fast", ["COW=1", "LOGCOMMIT=group", "TRAPFLUSH=asid"]),
                ("synccommit", ["COW=1", "LOGCOMMIT=sync", "TRAPFLUSH=asid"]),
                ("fullflush", ["COW=1", "LOGCOMMIT=group", "TRAPFLUSH=full"])]
PATH_RATIOS = [("synccommit", "fast"), ("fullflush", "fast")]
AGAINST_KERNELS = [("onepage", ["COW=1", "COWBATCH=0"]), ("cow", ["COW=1"])]
AGAINST_RATIOS = [("onepage", "base"), ("cow", "base")]

BOOT_TIMEOUT = 120
# Seconds a program may take (generous: the eager kernel and a busy host are slow).
TIMEOUTS = {"forkbench": 900, "sysbench": 900, "cowtest": 900, "usertests": 2400}
WALL = ["cowtest", "usertests -q"]
FORKBENCH_FIELDS = ["fork_us", "forkwrite_us", "pages", "reuse_us", "touch_us",
                    "mapped_pages", "reps", "exec_us", "random_us", "random_written",
                    "random_allocated"]
OLDEST_FORKBENCH = 7    # fields up to "reps": every forkbench line has at least these
COUNT_FIELDS = {"pages", "mapped_pages", "reps", "random_written", "random_allocated"}
# The forkbench fields the table shows, in its order.
FORKBENCH_LABELS = {"fork_us": "fork+exit+wait, us", "forkwrite_us": "fork+child writes all, us",
                    "reuse_us": "parent writes after fork, us",
                    "touch_us": "parent writes, no fork, us", "exec_us": "fork+exec+wait, us",
                    "random_us": "fork+child writes 10%, us",
                    "random_written": "  pages the child writes",
                    "random_allocated": "  pages the child allocates",
                    "pages": "pages allocated by fork"}
FORKBENCH_KEY = re.compile(r"(\w+?)_(\d+)MiB$")
# sysbench times that include waiting for the disk: under -icount the idle harts' clock
# jumps to the next timer event, so these say nothing there.
DISK_TIMES = {"filewrite_us", "fileread_us", "exec_us"}


def build(name, settings, mem, tree=None):
    """make kernel/kernel fs.img SETTINGS in bench-out/build-NAME, a copy of this tree's
    sources (unchanged files keep their times, so make rebuilds only what changed), or in
    tree when given (used as it is). Returns the directory, or None."""
    dest = tree or os.path.join(OUT, "build-" + name)
    if tree is None:
        kit.copy_sources(ROOT, dest)
    log = os.path.join(OUT, "build-%s.log" % name)
    start = time.monotonic()
    why, _ = kit.build(dest, ["MEM=%d" % mem] + settings, log=log)
    if why:
        with open(log, errors="replace") as f:
            say("bench: building the %s kernel: %s; the end of %s:\n%s"
                % (name, why, log, kit.tail(f.read(), 15)))
        return None
    say("bench: built the %s kernel (%s MEM=%d) in %s (%.0fs)"
        % (name, " ".join(settings), mem, os.path.relpath(dest, ROOT), time.monotonic() - start))
    return dest


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


def parse_sysbench(out):
    """{name: number} from sysbench's `sysbench,NAME,VALUE,UNIT` lines."""
    vals = {}
    for f in (line.strip().split(",") for line in out.splitlines()):
        if len(f) == 4 and f[0] == "sysbench":
            try:
                vals[f[1]] = float(f[2])
            except ValueError:
                pass
    return vals


# ---- Measuring ------------------------------------------------------------------------------
def run_program(m, cmd, vals, records, tag):
    """Runs cmd on machine m; its numbers go into vals, its bench.csv lines into records.
    Returns None, or why it did not finish (the console is then in an unknown state)."""
    prog = cmd.split()[0]
    out, secs, why = m.run(cmd, TIMEOUTS[prog])
    if prog == "forkbench":
        why = why or ("forkbench: done" not in out and "no 'forkbench: done'") or None
        for size, row in parse_forkbench(out).items():
            vals.update(("%s_%dMiB" % (f, size), v) for f, v in row.items())
    elif prog == "sysbench":
        why = why or ("sysbench: FAIL" in out and "sysbench failed") or None
        vals.update(parse_sysbench(out))
        records += [l.strip() for l in out.splitlines() if l.startswith("sysbench,")]
    else:
        ok = why is None and "FAILED" not in out
        vals["%s, s" % cmd] = secs
        records.append("wall,%s,%.2f,%s" % (cmd, secs, "ok" if ok else "failed"))
    say("bench: %s: %s (%.1fs)%s" % (tag, cmd, secs, "; " + why if why else ""))
    return why


def measure(kernels, opts, rounds, each_round, once=()):
    """Boots the kernels ({name: built tree}) at once, each on its own copy of its fs.img
    with its console in bench-out/console-NAME.log, and runs the commands each_round on
    each in turn every round, the order rotating (idle machines wait in wfi); then the
    commands once on each, their numbers added to its last round. Returns ({name: [{key:
    number} per round]}, {name: bench.csv lines}, problems). Closes every machine."""
    names = list(kernels)
    runs, records = {n: [] for n in names}, {n: [] for n in names}
    machines, logs, problems = {}, [], []

    def run_all(name, cmds, vals, tag):
        for cmd in cmds:
            why = name in machines and run_program(machines[name], cmd, vals, records[name], tag)
            if why:
                problems.append("%s: %s: %s" % (tag, cmd, why))
                machines.pop(name).close()
    try:
        for name in names:
            say("bench: booting the %s kernel (CPUS=%d, MEM=%d)" % (name, opts.cpus, opts.mem))
            log = open(os.path.join(OUT, "console-%s.log" % name), "w")
            logs.append(log)
            m, why = kit.Machine.boot(kernels[name], os.path.join(OUT, "fs-%s.img" % name),
                                      BOOT_TIMEOUT, cpus=opts.cpus, mem=opts.mem,
                                      extra=["-icount", "shift=0,sleep=off"] if opts.icount
                                      else [], echo=lambda s, f=log: (f.write(s), f.flush()))
            machines[name] = m
            if why:
                problems.append("%s kernel did not boot: %s" % (name, why))
                machines.pop(name).close()
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                runs[name].append({})
                run_all(name, each_round, runs[name][-1], "%s, round %d" % (name, r + 1))
        for name in names:
            run_all(name, once, runs[name][-1], name)
    finally:
        for m in machines.values():
            m.close()
        for log in logs:
            log.close()
    return runs, records, problems


# ---- Reporting ------------------------------------------------------------------------------
def medians(rounds):
    """{key: median over the rounds}; a failed fork (-1) in any round marks the key failed."""
    vals = {}
    for r in rounds:
        for k, v in r.items():
            vals.setdefault(k, []).append(v)
    return {k: -1.0 if min(xs) < 0 else median(xs) for k, xs in vals.items()}


def row_keys(runs):
    """The keys the table shows, in order: forkbench's by field then size, then the rest
    as the programs printed them."""
    keys = list(dict.fromkeys(k for rounds in runs.values() for r in rounds for k in r))
    fork = [(list(FORKBENCH_LABELS).index(m.group(1)), int(m.group(2)), k)
            for k, m in ((k, FORKBENCH_KEY.match(k)) for k in keys)
            if m and m.group(1) in FORKBENCH_LABELS]
    return [k for _, _, k in sorted(fork)] + [k for k in keys if not FORKBENCH_KEY.match(k)]


def label(key):
    m = FORKBENCH_KEY.match(key)
    if m:
        return "%s %4s MiB" % (FORKBENCH_LABELS[m.group(1)], m.group(2))
    return key if key.endswith(", s") else "sysbench " + key


def spread(a, b):
    """'median (min..max)' of the ratios a/b taken within each round, or '-'."""
    xs = [x / y for x, y in zip(a, b) if x is not None and y is not None and x >= 0 and y > 0]
    return "%.3f (%.2f..%.2f)" % (median(xs), min(xs), max(xs)) if xs else "-"


def table(runs, ratios, icount):
    """The side-by-side table: each kernel's median, then each ratio."""
    names = list(runs)
    row = "%-40s" + " %10s" * len(names) + "  %-20s" * len(ratios)
    lines = [(row % ("", *names, *("%s/%s" % r for r in ratios))).rstrip()]
    meds = {n: medians(runs[n]) for n in names}
    for key in row_keys(runs):
        if icount and key in DISK_TIMES:
            lines.append((row % (label(key), *["n/a"] * (len(names) + len(ratios)))).rstrip())
            continue
        cells = [meds[n].get(key) for n in names]
        cells = ["-" if v is None else "failed" if v < 0 else "%.10g" % v for v in cells]
        per_round = {n: [r.get(key) for r in runs[n]] for n in names}
        lines.append((row % (label(key), *cells, *(spread(per_round[a], per_round[b])
                                                   for a, b in ratios))).rstrip())
    return lines


def write_rounds_csv(path, runs):
    with open(path, "w") as f:
        f.write("kernel,round,name,value\n")
        for name, rounds in runs.items():
            for r, vals in enumerate(rounds):
                for key in sorted(vals):
                    f.write("%s,%d,%s,%.10g\n" % (name, r + 1, key, vals[key]))


def write_bench_csv(path, runs, records):
    with open(path, "w") as f:
        f.write("kernel,record,f1,f2,f3,f4,f5,f6,f7,f8\n")
        for name, rounds in runs.items():
            med = medians(rounds)
            sizes = sorted({int(m.group(2)) for m in map(FORKBENCH_KEY.match, med) if m})
            for s in sizes:
                f.write("%s,forkbench,%d,%s\n" % (name, s, ",".join(
                    ("%d" if fld in COUNT_FIELDS else "%.1f") % med.get("%s_%dMiB" % (fld, s), -1)
                    for fld in FORKBENCH_FIELDS)))
            for line in records[name]:
                f.write("%s,%s\n" % (name, line))


def ensure_gnuplot():
    """gnuplot's path, installing gnuplot-nox with apt-get when it is missing; or None."""
    if shutil.which("gnuplot") or not shutil.which("apt-get"):
        return shutil.which("gnuplot")
    say("bench: installing gnuplot-nox with apt-get")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    for argv in (["update", "-q"], ["install", "-y", "-q", "gnuplot-nox"]):
        subprocess.run(sudo + ["apt-get"] + argv, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=kit.clean_env(DEBIAN_FRONTEND="noninteractive"))
    return shutil.which("gnuplot")


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
PLOT = """
set terminal svg size 820,520 dynamic enhanced font 'sans,13' background rgb 'white'
set output '%(svg)s'
set datafile missing '?'
set title 'fork latency vs process size: copy-on-write vs eager copy (QEMU, %(how)s)'
set logscale xy
set xlabel 'process size, MiB of mapped (touched) pages (log)'
set ylabel 'time, microseconds (log)'
set format y '10^{%%L}'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key top left box opaque
plot %(plot)s, \\
  '%(dat)s' using 1:2:(sprintf('%%d MiB heap', $7)) with labels offset 0,-1.2 font ',9' notitle
"""


def plot(runs, svg, how):
    """Fork latency against process size, COW (batched and one page per fault) vs eager,
    log-log, as an SVG. True if drawn."""
    gnuplot = ensure_gnuplot()
    if not gnuplot:
        say("bench: no gnuplot and it could not be installed: no plot")
        return False
    cow, one, eager = (medians(runs[n]) for n in ("cow", "onepage", "eager"))
    dat = os.path.join(OUT, "forkbench.dat")
    with open(dat, "w") as f:
        f.write("# mapped_mib cow_fork_us eager_fork_us cow_forkwrite_us onepage_forkwrite_us "
                "eager_forkwrite_us heap_mib\n")
        for s in sorted({int(m.group(2)) for m in map(FORKBENCH_KEY.match, cow) if m}):
            vals = [d.get("%s_%dMiB" % (k, s), -1) for d, k in
                    ((cow, "fork_us"), (eager, "fork_us"), (cow, "forkwrite_us"),
                     (one, "forkwrite_us"), (eager, "forkwrite_us"))]
            f.write("%.4f %s %d\n" % (cow["mapped_pages_%dMiB" % s] * 4096 / 2**20,
                                      " ".join("%.1f" % v if v > 0 else "?" for v in vals), s))
    script = PLOT % {"svg": svg, "dat": dat, "how": how, "plot": ", \\\n  ".join(
        "'%s' using %s title '%s'" % (dat, using, title) for using, title in PLOT_LINES)}
    r = subprocess.run([gnuplot], input=script.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0 or not os.path.exists(svg):
        say("bench: gnuplot failed: " + r.stdout.decode("utf-8", "replace").strip()[-500:])
        return False
    return True


def main(argv):
    p = argparse.ArgumentParser(description="The benchmarks (make bench, make bench-paths)")
    p.add_argument("--mem", type=int, default=256, help="MiB of RAM for every kernel (256)")
    p.add_argument("--cpus", type=int, default=3, help="harts QEMU emulates (3)")
    p.add_argument("--forkbench-args", default="",
                   help="arguments for forkbench, e.g. '-q' or '0 1 4' (default: its full run)")
    p.add_argument("--only-forkbench", action="store_true",
                   help="skip sysbench, cowtest and usertests (quicker)")
    p.add_argument("--rounds", type=int, default=None,
                   help="rounds of the rotation (3; with --paths 5)")
    p.add_argument("--paths", action="store_true",
                   help="the fast paths against the classic ones (make bench-paths)")
    p.add_argument("--against", metavar="REV",
                   help="this tree's kernels (the default and COWBATCH=0) against the one "
                   "git commit REV builds")
    p.add_argument("--icount", action="store_true",
                   help="run QEMU with -icount shift=0,sleep=off: the time CSR then counts "
                   "guest instructions (1 us = 1000 instructions), so the numbers do not "
                   "depend on how busy the host is; what the emulator spends outside guest "
                   "instructions (e.g. its TLB flushes) is not counted")
    opts = p.parse_args(argv)
    if (opts.rounds is not None and opts.rounds < 1) or opts.cpus < 1 or opts.mem < 64:
        p.error("--rounds and --cpus must be positive, --mem at least 64")
    os.makedirs(OUT, exist_ok=True)
    kit.exit_on_signals()

    forkbench = ("forkbench " + opts.forkbench_args).strip()
    sysbench = [] if opts.only_forkbench else ["sysbench"]
    trees = {}
    if opts.paths:
        kernels, ratios, each, once, rounds = PATH_KERNELS, PATH_RATIOS, ["sysbench"], [], 5
        title, csv = "Fast paths against the classic ones", "paths.csv"
    elif opts.against:
        src, commit = export_rev(opts.against)
        trees["base"] = src and build("base", [], opts.mem, tree=src)
        if not trees["base"]:
            say("bench: " + commit if not src else "bench: could not build " + commit)
            return 1
        kernels, ratios, each, once, rounds = (AGAINST_KERNELS, AGAINST_RATIOS,
                                               [forkbench] + sysbench, [], 3)
        title, csv = "This tree against %s (base)" % commit, "against.csv"
    else:
        kernels, ratios, each, rounds = COW_KERNELS, COW_RATIOS, [forkbench], 3
        once = [] if opts.only_forkbench else sysbench + WALL
        title, csv = "COW fork vs eager fork", "bench.csv"
    for name, settings in kernels:
        trees[name] = build(name, settings, opts.mem)
        if not trees[name]:
            return 1
    rounds = opts.rounds or rounds
    runs, records, problems = measure(trees, opts, rounds, each, once)

    clock = "instruction count (-icount: 1 us = 1000 guest instructions)" if opts.icount \
        else "wall clock of the emulated machine"
    say("\n%s, CPUS=%d, MEM=%d, %d rounds in one run; time CSR = %s"
        % (title, opts.cpus, opts.mem, rounds, clock))
    say("kernels: " + "; ".join("%s = %s" % (name, " ".join(s) or "its default build")
                                for name, s in [("base", [])] * bool(opts.against) + kernels))
    say("medians over the rounds; ratios taken within each round: median (min..max)"
        + ("; disk times under -icount mean nothing: n/a" if opts.icount else ""))
    for line in table(runs, ratios, opts.icount):
        say(line)
    path = os.path.join(OUT, csv)
    wrote = os.path.relpath(path, ROOT)
    if opts.paths or opts.against:
        write_rounds_csv(path, runs)
    else:
        write_bench_csv(path, runs, records)
        svg = os.path.join(OUT, "forkbench.svg")
        how = "CPUS=%d, MEM=%d%s" % (opts.cpus, opts.mem, ", -icount" if opts.icount else "")
        if all(runs[n] and runs[n][0] for n in runs) and plot(runs, svg, how):
            wrote += " and " + os.path.relpath(svg, ROOT)
        else:
            problems.append("no plot")
    say("\nbench: wrote " + wrote)
    for line in problems:
        say("bench: could not measure: " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        kit.kill_all()
        sys.exit(130)
