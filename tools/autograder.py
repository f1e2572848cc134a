#!/usr/bin/env python3
"""The COW lab on Gradescope (course staff only: make handout leaves this file out).

  tools/autograder.py --make ZIP [--flags='GRADER OPTIONS']     (make autograder)
      writes the bundle: setup.sh and run_autograder at the top, as Gradescope's autograder
      specification asks, and next to them grade-cow.py, tools/hostutil.py and the protected
      files from a fresh `make handout` (exactly what students got), plus this program.
      Gradescope unpacks it into /autograder/source.
  tools/autograder.py --run [GRADER OPTIONS]                    (what run_autograder runs)
      grades $AUTOGRADER_ROOT/submission (default root /autograder): the tree in it at any
      depth, or the one tar archive in it (what make handin writes), with grade-cow.py and
      the protected files next to this program; writes results/results.json in every case.

GRADER OPTIONS are grade-cow.py's (--only, --timeout-scale, --time-budget, --visibility,
...); --run defaults --time-budget to BUDGET. Every wait of the grader is cut to what is
left of the budget, so a hanging submission fails what did not finish and still gets its
results.json; should grading itself still run GRACE seconds after the budget, a watchdog
writes a failing results.json, ends every QEMU and exits. Python 3 standard library only.
"""

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile

TOOLS = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, TOOLS)
from hostutil import grader  # noqa: E402

BUDGET = 540        # seconds per submission: Gradescope's default limit is 10 minutes
GRACE = 30          # seconds after the budget before the watchdog takes over

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu): the
# packages that building the kernel and booting it in QEMU need.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends make gcc libc6-dev perl python3 \\
    gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf qemu-system-misc opensbi
qemu-system-riscv64 --version
riscv64-unknown-elf-gcc --version
"""

RUN_AUTOGRADER = """#!/bin/sh
# Gradescope runs this for every submission, from /autograder (AUTOGRADER_ROOT: a stand-in
# root, as make check uses). It grades /autograder/submission and writes
# /autograder/results/results.json in every case; arguments go on to grade-cow.py.
root=${AUTOGRADER_ROOT:-/autograder}
exec python3 "$root/source/tools/autograder.py" --run %s "$@"
"""


# ---- --make --------------------------------------------------------------------------------
def make_bundle(out, flags):
    """Writes the bundle to out; flags: grade-cow.py options run_autograder always gives.
    Returns the exit status."""
    g = grader()
    work = tempfile.mkdtemp(prefix="autograder-")
    try:
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "handout.py"), "--out", work],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        starter = g.find_root(work)
        if r.returncode or starter is None:
            print("autograder: make handout failed, so nothing was written:\n"
                  + r.stdout.decode("utf-8", "replace"))
            return 1
        files = [(rel, os.path.join(starter, rel)) for rel in
                 ["grade-cow.py", "tools/hostutil.py"] + [rel for rel, _ in g.PROTECTED]]
        files.append(("tools/autograder.py", os.path.realpath(__file__)))
        tmp = out + ".tmp"
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            def add(name, data, mode):
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
            add("setup.sh", SETUP_SH, 0o755)
            add("run_autograder", RUN_AUTOGRADER % " ".join(shlex.quote(f) for f in flags),
                0o755)
            for rel, path in files:
                with open(path, "rb") as f:
                    add(rel, f.read(), 0o755 if rel.endswith(".py") else 0o644)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("autograder: wrote %s (setup.sh, run_autograder, grade-cow.py and %d protected files "
          "from make handout; run_autograder gives grade-cow.py: %s): upload it as the "
          "assignment's autograder" % (g.shown(out), len(g.PROTECTED), " ".join(flags) or "-"))
    return 0


def stand_in_root(root, submission, source=None):
    """Lays out a stand-in for /autograder at root, as Gradescope does before a run:
    submission (a tree, or a file such as make handin's tarball) in submission/, and the
    unpacked bundle source (a directory, if given) in source/ with run_autograder copied to
    the top. Returns root."""
    if source:
        shutil.copytree(source, os.path.join(root, "source"))
        shutil.copy(os.path.join(source, "run_autograder"), root)
    sub = os.path.join(root, "submission")
    if os.path.isdir(submission):
        shutil.copytree(submission, sub)
    else:
        os.makedirs(sub)
        shutil.copy(submission, sub)
    return root


# ---- --run ---------------------------------------------------------------------------------
def find_submission(directory):
    """What to grade in Gradescope's submission directory: the tree in it (at any depth),
    else the one tar archive in it. Raises grade_cow.Fail."""
    g = grader()
    if not os.path.isdir(directory):
        raise g.Fail("no submission directory %s" % directory)
    if g.find_root(directory):
        return directory
    archives = sorted(os.path.join(d, n) for d, _, names in os.walk(directory) for n in names
                      if tarfile.is_tarfile(os.path.join(d, n)))
    if len(archives) == 1:
        return archives[0]
    raise g.Fail("the submission has %s: upload the .tar.gz that `make handin` writes, or "
                 "the tree itself" % ("no tree (a Makefile next to kernel/) and no .tar.gz"
                                      if not archives else "%d archives" % len(archives)))


def run(argv):
    """Grades the one submission and writes results.json, whatever happens."""
    g = grader()
    opts = g.parse_args(argv)
    if opts.time_budget is None:
        opts.time_budget = BUDGET
    root = os.environ.get("AUTOGRADER_ROOT", "/autograder")
    results = os.path.join(root, "results", "results.json")
    os.makedirs(os.path.dirname(results), exist_ok=True)
    written = threading.Lock()          # held by whoever writes results.json: once only
    started = time.monotonic()

    def finish(report):
        report.elapsed = time.monotonic() - started
        g.write_json(results, [report], opts.visibility)
        print("autograder: wrote %s (score %d/%d)" % (results, report.score, report.max_score))

    def failed(reason):
        report = g.Report("submission", live=True)
        report.fail_all(g.selected_tests(opts.only), reason)
        return report

    def watchdog():
        if written.acquire(blocking=False):
            finish(failed("grading did not finish within its time budget (%ds); ask course "
                          "staff to look at it" % opts.time_budget))
            g.kill_all()
            os._exit(1)

    signal.signal(signal.SIGTERM, g.on_signal)
    timer = threading.Timer(opts.time_budget + GRACE, watchdog)
    timer.daemon = True
    timer.start()
    try:
        problem = g.qemu_version_problem(opts.qemu) or g.pristine_problem(opts.pristine)
        if problem:
            report = failed("the autograder cannot grade here: " + problem)
        else:
            try:
                spec = find_submission(os.path.join(root, "submission"))
                report = g.grade_submission(opts, spec, "submission", live=True)
            except g.Fail as e:
                report = failed(str(e))
        if written.acquire(blocking=False):
            finish(report)
    finally:
        timer.cancel()
        g.kill_all()
    return 0


def main(argv):
    if argv[:1] == ["--run"]:
        return run(argv[1:])
    p = argparse.ArgumentParser(description="Write the COW lab's Gradescope autograder.zip "
                                "(--run, in the bundle: grade one submission).")
    p.add_argument("--make", metavar="ZIP", required=True, help="write the bundle to ZIP")
    p.add_argument("--flags", default="", metavar="'OPTIONS'",
                   help="grade-cow.py options run_autograder gives it (write --flags='...')")
    opts = p.parse_args(argv)
    return make_bundle(os.path.abspath(opts.make), shlex.split(opts.flags))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
