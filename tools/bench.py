#!/usr/bin/env python3
"""The benchmark driver (staff; docs/performance.md). Builds three kernels, each in its own
copy under bench-out/build-NAME/, boots them at once and runs the benchmarks on each in turn,
the order rotating every round so that a change in host load hits all alike. Prints medians
and ratios taken within a round; writes bench-out/MODE.csv (KERNEL,ROUND,NAME,VALUE; -1:
failed) and for make bench bench-out/forkbench.svg. Modes: make bench (COW, one page per
fault, eager fork), --paths (make bench-paths), --against REV (this tree against commit REV).
A benchmark, not a test: it asserts no timing; the exit status is non-zero only when
something could not be measured."""

import argparse
import os
import re
import shutil
import subprocess
import sys
from statistics import median

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import xv6kit as kit  # noqa: E402
from xv6kit import say  # noqa: E402

# Each mode: its kernels (name, make settings; the table's columns), the ratios a/b it shows,
# its rounds and its title. --against also boots "base": the commit's default build.
MODES = {
    "bench": ([("cow", ["COW=1"]), ("onepage", ["COW=1", "COWBATCH=0"]), ("eager", ["COW=0"])],
              [("cow", "eager"), ("cow", "onepage")], 3, "COW fork vs eager fork"),
    "paths": ([("fast", ["COW=1", "LOGCOMMIT=group", "TRAPFLUSH=asid"]),
               ("synccommit", ["COW=1", "LOGCOMMIT=sync", "TRAPFLUSH=asid"]),
               ("fullflush", ["COW=1", "LOGCOMMIT=group", "TRAPFLUSH=full"])],
              [("synccommit", "fast"), ("fullflush", "fast")], 5,
              "Fast paths against the classic ones"),
    "against": ([("onepage", ["COW=1", "COWBATCH=0"]), ("cow", ["COW=1"])],
                [("onepage", "base"), ("cow", "base")], 3, "This tree against %s (base)"),
}

BOOT_TIMEOUT = 120
TIMEOUTS = {"forkbench": 900, "sysbench": 900, "cowtest": 900, "usertests": 2400}
# forkbench's fields in its line's order; a line of an older tree may stop after "reps".
FORKBENCH_FIELDS = ["fork_us", "forkwrite_us", "pages", "reuse_us", "touch_us",
                    "mapped_pages", "reps", "exec_us", "random_us", "random_written",
                    "random_allocated"]
OLDEST_FORKBENCH = 7
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
    """make kernel/kernel fs.img SETTINGS in tree, else in bench-out/build-NAME, a copy of
    this tree's sources (make rebuilds only what changed). Returns the directory, or None."""
    dest = tree or os.path.join(OUT, "build-" + name)
    if tree is None:
        kit.copy_sources(ROOT, dest)
    log = os.path.join(OUT, "build-%s.log" % name)
    why, _ = kit.build(dest, ["MEM=%d" % mem] + settings, log=log)
    if why:
        with open(log, errors="replace") as f:
            say("bench: building the %s kernel: %s; the end of %s:\n%s"
                % (name, why, log, kit.tail(f.read(), 15)))
        return None
    say("bench: built the %s kernel (%s MEM=%d) in %s"
        % (name, " ".join(settings), mem, os.path.relpath(dest, ROOT)))
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
    if not os.path.exists(os.path.join(dest, "Makefile")):
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        if subprocess.run("git -C '%s' archive %s | tar -x -C '%s'" % (ROOT, commit, dest),
                          shell=True).returncode != 0:
            return None, "could not extract %s with git archive | tar" % commit
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


def run_program(m, cmd, vals, tag):
    """Runs cmd on machine m and puts its numbers into vals (-1 for the time of a program
    that printed FAILED). Returns None, or why it did not finish (the console is then in an
    unknown state)."""
    prog = cmd.split()[0]
    out, secs, why = m.run(cmd, TIMEOUTS[prog])
    if prog == "forkbench":
        why = why or ("forkbench: done" not in out and "no 'forkbench: done'") or None
        for size, row in parse_forkbench(out).items():
            vals.update(("%s_%dMiB" % (f, size), v) for f, v in row.items())
    elif prog == "sysbench":
        why = why or ("sysbench: FAIL" in out and "sysbench failed") or None
        for f in (line.strip().split(",") for line in out.splitlines()):
            if len(f) == 4 and f[0] == "sysbench" and re.fullmatch(r"-?\d+", f[2]):
                vals[f[1]] = float(f[2])
    else:
        vals["%s, s" % cmd] = -1 if why or "FAILED" in out else round(secs, 2)
    say("bench: %s: %s (%.1fs)%s" % (tag, cmd, secs, "; " + why if why else ""))
    return why


def measure(kernels, opts, rounds, each_round, once=()):
    """Boots the kernels ({name: built tree}) at once, consoles in bench-out/console-NAME.log,
    and runs the commands each_round on each in turn every round, the order rotating (idle
    machines wait in wfi); then the commands once on each, their numbers added to its last
    round. Returns ({name: [{key: number} per round]}, problems). Closes every machine."""
    names = list(kernels)
    runs, machines, logs, problems = {n: [] for n in names}, {}, [], []

    def run_all(name, cmds, vals, tag):
        for cmd in cmds:
            why = name in machines and run_program(machines[name], cmd, vals, tag)
            if why:
                problems.append("%s: %s: %s" % (tag, cmd, why))
                machines.pop(name).close()
    try:
        for name in names:
            say("bench: booting the %s kernel (CPUS=%d, MEM=%d)" % (name, opts.cpus, opts.mem))
            log = open(os.path.join(OUT, "console-%s.log" % name), "w", buffering=1)
            logs.append(log)
            machines[name], why = kit.Machine.boot(
                kernels[name], os.path.join(OUT, "fs-%s.img" % name), BOOT_TIMEOUT,
                cpus=opts.cpus, mem=opts.mem, echo=log.write,
                extra=["-icount", "shift=0,sleep=off"] if opts.icount else [])
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
    return runs, problems


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


def plot(runs, svg, how):
    """Each kernel's fork+exit+wait and fork+child-writes-all against process size (mapped
    pages), log-log, drawn by gnuplot into svg. Returns None, or why not."""
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed (apt-get install gnuplot-nox)"
    meds = {n: medians(r) for n, r in runs.items()}
    cols = [(n, f) for n in runs for f in ("fork_us", "forkwrite_us")]
    dat = os.path.join(OUT, "forkbench.dat")
    with open(dat, "w") as f:
        for size in sorted({int(m.group(2)) for m in map(FORKBENCH_KEY.match, meds["cow"]) if m}):
            cells = [meds[n].get("%s_%dMiB" % (field, size), -1) for n, field in cols]
            f.write("%.4f %s\n" % (meds["cow"]["mapped_pages_%dMiB" % size] * 4096 / 2**20,
                                   " ".join("%.1f" % v if v > 0 else "?" for v in cells)))
    lines = ", ".join("'%s' using 1:%d with linespoints title '%s: %s'"
                      % (dat, i + 2, n, FORKBENCH_LABELS[fld]) for i, (n, fld) in enumerate(cols))
    script = ("set terminal svg size 820,520 background rgb 'white'\nset output '%s'\n"
              "set datafile missing '?'\nset logscale xy\nset key top left\n"
              "set title 'fork latency against process size (QEMU, %s)'\n"
              "set xlabel 'MiB of mapped pages'\nset ylabel 'microseconds'\nplot %s\n"
              % (svg, how, lines))
    r = subprocess.run(["gnuplot"], input=script, text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    return "gnuplot failed: " + r.stdout.strip()[-500:] if r.returncode else None


def main(argv):
    p = argparse.ArgumentParser(description="The benchmarks (make bench, make bench-paths)")
    p.add_argument("--mem", type=int, default=256, help="MiB of RAM for every kernel (256)")
    p.add_argument("--cpus", type=int, default=3, help="harts QEMU emulates (3)")
    p.add_argument("--forkbench-args", default="", help="e.g. '-q' or '0 1 4' (default: none)")
    p.add_argument("--only-forkbench", action="store_true", help="no sysbench, cowtest, usertests")
    p.add_argument("--rounds", type=int, help="rounds of the rotation (3; with --paths 5)")
    p.add_argument("--paths", action="store_true", help="the fast paths against the classic ones")
    p.add_argument("--against", metavar="REV", help="this tree's kernels against commit REV's")
    p.add_argument("--icount", action="store_true", help="QEMU with -icount shift=0,sleep=off: "
                   "the time CSR counts guest instructions (1 us = 1000), whatever the host load")
    opts = p.parse_args(argv)
    if (opts.rounds is not None and opts.rounds < 1) or opts.cpus < 1 or opts.mem < 64:
        p.error("--rounds and --cpus must be positive, --mem at least 64")
    os.makedirs(OUT, exist_ok=True)
    kit.exit_on_signals()

    mode = "paths" if opts.paths else "against" if opts.against else "bench"
    kernels, ratios, rounds, title = MODES[mode]
    rounds = opts.rounds or rounds
    forkbench = [("forkbench " + opts.forkbench_args).strip()]
    sysbench = [] if opts.only_forkbench else ["sysbench"]
    each = {"bench": forkbench, "paths": ["sysbench"], "against": forkbench + sysbench}[mode]
    once = sysbench + ["cowtest", "usertests -q"] if mode == "bench" and sysbench else []
    trees = {}
    if opts.against:
        src, commit = export_rev(opts.against)
        trees["base"] = src and build("base", [], opts.mem, tree=src)
        if not trees["base"]:
            say("bench: " + (commit if not src else "could not build " + commit))
            return 1
        title = title % commit
    for name, settings in kernels:
        trees[name] = build(name, settings, opts.mem)
        if not trees[name]:
            return 1
    runs, problems = measure(trees, opts, rounds, each, once)

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
    wrote = [os.path.join(OUT, mode + ".csv")]
    with open(wrote[0], "w") as f:
        f.write("kernel,round,name,value\n")
        for name, per_round in runs.items():
            for r, vals in enumerate(per_round):
                f.writelines("%s,%d,%s,%.10g\n" % (name, r + 1, k, vals[k]) for k in sorted(vals))
    if mode == "bench":
        wrote.append(os.path.join(OUT, "forkbench.svg"))
        why = plot(runs, wrote[-1], "CPUS=%d, MEM=%d%s"
                   % (opts.cpus, opts.mem, ", -icount" if opts.icount else ""))
        if why:
            problems.append("no plot: " + why)
            wrote.pop()
    say("\nbench: wrote " + " and ".join(os.path.relpath(w, ROOT) for w in wrote))
    for line in problems:
        say("bench: could not measure: " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        kit.kill_all()
        sys.exit(130)
