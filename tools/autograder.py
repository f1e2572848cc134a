#!/usr/bin/env python3
"""Grading submissions of the COW lab (course staff only: make handout leaves this file out).

  tools/autograder.py [OPTIONS] SUB...   grade trees, git URLs, .tar.gz files (docs/grading.md)
  tools/autograder.py --make ZIP [--flags='OPTIONS']   the Gradescope bundle (make autograder)
  tools/autograder.py --run [OPTIONS]   grades $AUTOGRADER_ROOT/submission (run_autograder)

Each submission is unpacked into its own directory, gets the pristine tree's protected files
and is graded there by the pristine grade-cow.py --tree, with a time budget; only its kernel
is built from it. As root, it builds and boots as a user id no account has, and every
process of that user is killed before any result is read.
"""

import argparse
import concurrent.futures
import csv
import ctypes
import fcntl
import json
import os
import pwd
import queue
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile

TOOLS = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(TOOLS)
GRADER = os.path.join(ROOT, "grade-cow.py")     # main() takes the pristine tree's
sys.path.insert(0, TOOLS)
import xv6kit as kit  # noqa: E402

BUDGET = 540        # seconds per submission on Gradescope: its default limit is 10 minutes
BATCH_BUDGET = 900  # seconds per submission in a batch, times --timeout-scale
GRACE = 30          # seconds after the budget before a submission's grading is ended
CLONE_TIMEOUT = 300
UNPACKED_MAX = 64 << 20     # bytes an unpacked submission may hold
BUILD_UID = 64000           # the first user id tried for the submissions' builds and QEMUs
USER_LOCKS = "/run/grade-cow-users"     # a lock per user id in use by a grader (root only)
PR_SET_NO_NEW_PRIVS = 38                # prctl(2)

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
# /autograder/results/results.json in every case; arguments go on to tools/autograder.py.
root=${AUTOGRADER_ROOT:-/autograder}
exec python3 "$root/source/tools/autograder.py" --run %s "$@"
"""


class Fail(Exception):
    """A submission that cannot be graded, and why."""


# ---- The grader: its tests and protected files, and one run of it --------------------------
_listing = {}


def listing():
    """grade-cow.py's tests ({"name", "points"} each) and protected files, from --list."""
    if not _listing:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "list.json")
            subprocess.run([sys.executable, GRADER, "--list", "--json", path],
                           stdout=subprocess.DEVNULL, check=True)
            with open(path) as f:
                _listing.update(json.load(f))
    return _listing


def selected(only):
    return [t for t in listing()["tests"] if not only or t["name"] in only]


def failed_result(opts, name, reason):
    """The results of a submission no test could run on."""
    tests = [{"name": t["name"], "points": t["points"], "score": 0, "status": "failed",
              "output": reason} for t in selected(opts.only)]
    return {"tree": name, "score": 0, "max_score": sum(t["points"] for t in tests),
            "note": reason, "tests": tests, "changed": []}


def run_grader(opts, tree, name, workdir, uid, tell):
    """grade-cow.py --tree tree in its own process, ended GRACE seconds after the budget,
    and then every process of uid. Returns its results; its report goes to tell."""
    out = os.path.join(workdir, "results.json")
    argv = [sys.executable, GRADER, "--tree", tree, "--fs-from", opts.fs_from, "--json", out,
            "--name", name, "--jobs", str(opts.jobs), "--cpus", str(opts.cpus),
            "--mem", str(opts.mem), "--timeout-scale", str(opts.timeout_scale),
            "--time-budget", str(opts.time_budget)]
    argv += ["--qemu", opts.qemu] if opts.qemu else []
    argv += ["--user", str(uid)] if uid is not None else []
    argv += ["-v"] if opts.verbose else []
    argv += [a for n in opts.only or [] for a in ("--only", n)]
    live = tell is kit.say      # then the report is printed as it comes
    proc = kit.spawn(argv, stdin=subprocess.DEVNULL, stdout=None if live else subprocess.PIPE)
    why = None
    try:
        text = proc.communicate(timeout=opts.time_budget + GRACE)[0]
        if text:
            tell(text.decode("utf-8", "replace").rstrip("\n"))
    except subprocess.TimeoutExpired:
        why = "grading did not finish within its time budget (%.0fs)" % opts.time_budget
    finally:
        kit.end_group(proc)
        if uid is not None and not kit.end_user(uid):
            why = "processes of user %d outlived the grading" % uid
    try:
        if not why:
            with open(out) as f:
                return json.load(f)
    except (OSError, ValueError):
        pass
    why = why or "grader error: grade-cow.py exited %s without results" % proc.returncode
    tell(why)
    return failed_result(opts, name, why)


# ---- Fetching a submission ----------------------------------------------------------------
def find_root(top):
    """The least deep directory under top that holds a Makefile and a kernel/ directory."""
    best = None
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        if "Makefile" in filenames and os.path.isdir(os.path.join(dirpath, "kernel")):
            if best is None or dirpath.count(os.sep) < best.count(os.sep):
                best = dirpath
    return best


def safe_extract(tar, dest):
    """Extracts only regular files and directories that stay inside dest, at most
    UNPACKED_MAX bytes in all."""
    dest = os.path.realpath(dest)
    members = []
    for m in tar.getmembers():
        target = os.path.realpath(os.path.join(dest, m.name))
        if (target == dest or target.startswith(dest + os.sep)) and (m.isfile() or m.isdir()):
            m.mode = (m.mode | 0o600) & 0o755
            members.append(m)
    size = sum(m.size for m in members)
    if size > UNPACKED_MAX:
        raise Fail("the archive unpacks to %d MiB, more than the %d MiB a submission may hold"
                   % (size >> 20, UNPACKED_MAX >> 20))
    safer = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}   # not every 3.x has it
    tar.extractall(dest, members=members, **safer)


def fetch(spec, dest, timeout_scale):
    """Puts a copy of submission spec (a git URL, a tree, a tar archive or a directory with
    one in it) in dest/src without build outputs; returns the tree to build, or raises Fail."""
    top = os.path.join(dest, "src")
    if re.match(r"^[\w+.-]+://|^git@", spec) or (spec.endswith(".git") and not os.path.isdir(spec)):
        try:
            r = subprocess.run(["git", "clone", "--quiet", "--depth", "1", spec, top],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=CLONE_TIMEOUT * timeout_scale)
        except subprocess.TimeoutExpired:
            raise Fail("git clone timed out")
        if r.returncode:
            raise Fail("git clone failed: " + kit.tail(r.stdout.decode("utf-8", "replace"), 3))
    elif os.path.isdir(spec) and find_root(spec):
        kit.copy_sources(spec, top)
    elif os.path.isdir(spec):
        archives = sorted(os.path.join(d, n) for d, _, names in os.walk(spec) for n in names
                          if tarfile.is_tarfile(os.path.join(d, n)))
        if len(archives) != 1:
            found = "%d archives" % len(archives) if archives else \
                "no tree (a Makefile next to kernel/) and no .tar.gz"
            raise Fail("the submission has %s: upload the .tar.gz that `make handin` writes, "
                       "or the tree itself" % found)
        return fetch(archives[0], dest, timeout_scale)
    elif os.path.isfile(spec) and tarfile.is_tarfile(spec):
        os.mkdir(top)
        try:
            with tarfile.open(spec) as tar:
                safe_extract(tar, top)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise Fail("cannot unpack %s: %s" % (spec, e))
    elif os.path.exists(spec):
        raise Fail("not a directory, git repository or tar archive: %s" % spec)
    else:
        raise Fail("no such submission: %s" % spec)
    root = find_root(top)
    if root is None:
        raise Fail("no Makefile next to a kernel/ directory in the submission")
    kit.remove_build_outputs(root)
    return root


def read(path):
    """The bytes of the file path, or None if it is not a file."""
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def protect(tree, pristine):
    """Puts the pristine copies of the protected files over the submission's. Returns those
    the submission had changed, "(missing)" after those it did not have."""
    changed = []
    for rel in listing()["protected"]:
        want, dst = read(os.path.join(pristine, rel)), os.path.join(tree, rel)
        if not os.path.islink(dst) and read(dst) == want:
            continue
        changed.append(rel if os.path.lexists(dst) else rel + " (missing)")
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        elif os.path.lexists(dst):
            os.unlink(dst)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(want)
    return changed


def used_and_ignored(tree, pristine):
    """The submission's files that differ from the pristine tree's (or are new): those the
    grade uses (its Makefile and kernel/, to build the kernel) and those it ignores."""
    diff = [rel for rel in kit.source_files(tree)
            if read(os.path.join(tree, rel)) != read(os.path.join(pristine, rel))]
    used = [rel for rel in diff if rel == "Makefile" or rel.startswith("kernel/")]
    return used, [rel for rel in diff if rel not in used]


def listed(files, most=12):
    more = " and %d more" % (len(files) - most) if len(files) > most else ""
    return " ".join(files[:most]) + more or "-"


def changed_line(changed):
    return ("protected files this submission changed (graded with the grader's copies "
            "instead): " + " ".join(changed))


def own(top, uid):
    """Gives the tree top to uid alone: the build may write only there, and no other
    submission's may read it."""
    for d, dirs, files in os.walk(top):
        for x in [d] + [os.path.join(d, n) for n in dirs + files]:
            os.lchown(x, uid, uid)
    os.chmod(top, 0o700)


def grade_submission(opts, spec, name, live):
    """Fetches, protects and grades one submission, as a user id of opts.users if there are
    any. Returns (results as grade-cow.py's --json with changed, used, ignored and elapsed,
    the text report: "" when live, i.e. printed as it came)."""
    started = time.monotonic()
    report = []
    tell = kit.say if live else (lambda text: report.append(text + "\n"))
    tell("==== %s ====" % name)
    uid = opts.users.get()
    dest = tempfile.mkdtemp(prefix="grade-cow-sub-")
    os.chmod(dest, 0o711)       # the build reaches its tree (src/) and lists nothing here
    changed = []
    try:
        try:
            tree = fetch(spec, dest, opts.timeout_scale)
            changed = protect(tree, opts.pristine)
            if uid is not None:
                own(os.path.join(dest, "src"), uid)
        except (Fail, OSError, subprocess.SubprocessError) as e:
            res = failed_result(opts, name, str(e))
            tell(str(e))
        else:
            used, ignored = used_and_ignored(tree, opts.pristine)
            tell("built from the submission (its kernel): %s\nignored (the user programs, "
                 "mkfs and fs.img are the course's): %s" % (listed(used), listed(ignored)))
            if changed:
                tell(changed_line(changed))
            res = run_grader(opts, tree, name, dest, uid, tell)
            res.update(used=used, ignored=ignored)
        if changed and all(t["output"].startswith("build") for t in res["tests"]):
            res["note"] += " with the grader's copies of the protected files (this " \
                "submission changed %s)" % " ".join(changed)
            tell(res["note"])
    finally:
        if uid is not None:
            kit.end_user(uid)
        opts.users.put(uid)
        if opts.keep:
            tell("kept %s" % dest)
        else:
            shutil.rmtree(dest, ignore_errors=True)
    res.update(changed=changed, elapsed=time.monotonic() - started)
    return res, "".join(report)


# ---- Output formats --------------------------------------------------------------------------
def gradescope(res, visibility):
    """res in Gradescope's results.json format: the score, one entry per test, a summary for
    the student, and for staff in extra_data the files the submission changed."""
    summary = ["Score: %d/%d" % (res["score"], res["max_score"])]
    summary += [changed_line(res["changed"])] if res["changed"] else []
    summary += [res["note"]] if res["note"] else []
    return {
        "score": res["score"],
        "execution_time": round(res["elapsed"]),
        "output": "\n".join(summary),
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "extra_data": {"submission": res["tree"], "max_score": res["max_score"],
                       "suspect": res.get("suspect", ""),
                       "protected_changed": res["changed"], "kernel_files": res.get("used"),
                       "ignored_files": res.get("ignored")},
        "tests": [{"name": t["name"], "score": t["score"], "max_score": t["points"],
                   "status": t["status"], "output": t["output"], "visibility": visibility}
                  for t in res["tests"]],
    }


def write_json(path, results, visibility):
    """Writes the results to path at once (a new file renamed over path, even a directory)."""
    data = gradescope(results[0], visibility) if len(results) == 1 else \
        {"submissions": {r["tree"]: gradescope(r, visibility) for r in results}}
    fd, tmp = tempfile.mkstemp(prefix=".results-", dir=os.path.dirname(os.path.abspath(path)))
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    os.replace(tmp, path)


def write_csv(path, results, tests):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["submission", "score", "max_score"] + [t["name"] for t in tests]
                   + ["protected_changed", "ignored_files", "note"])
        for res in results:
            scores = {t["name"]: t["score"] for t in res["tests"]}
            w.writerow([res["tree"], res["score"], res["max_score"]]
                       + [scores.get(t["name"], 0) for t in tests]
                       + [" ".join(res["changed"]), " ".join(res.get("ignored", [])),
                          res["note"]])


def summary_table(results):
    def changed(r):
        text = " ".join(r["changed"]) or "-"
        return text if len(text) <= 48 else "%d files (see the CSV)" % len(r["changed"])
    width = max([len("submission")] + [len(r["tree"]) for r in results])
    cwidth = max([len("protected files changed")] + [len(changed(r)) for r in results])
    lines = ["%-*s  %7s  %-*s  %s" % (width, "submission", "score", cwidth,
                                      "protected files changed", "note"),
             "%s  %s  %s  %s" % ("-" * width, "-" * 7, "-" * cwidth, "-" * 30)]
    for r in results:
        lines.append("%-*s  %3d/%-3d  %-*s  %s" % (
            width, r["tree"], r["score"], r["max_score"], cwidth, changed(r),
            r["note"][:100] if r["note"] else "full score"))
    return "\n".join(lines) + "\n"


def unique_names(specs):
    """A name per submission for reports, CSV rows and JSON keys: the file or directory name
    without .tar.gz/.tgz/.tar/.git, with as many parent directories as tell equal ones apart."""
    names = [re.sub(r"\.(tar\.gz|tgz|tar|git)$", "", os.path.basename(s.rstrip("/")) or s)
             for s in specs]
    parents = [os.path.dirname(os.path.abspath(s.rstrip("/"))) for s in specs]
    for _ in range(8):
        dup = {n for n in names if names.count(n) > 1}
        for i, n in enumerate(names):
            if n in dup and parents[i] not in ("/", ""):
                names[i] = os.path.basename(parents[i]) + "/" + n
                parents[i] = os.path.dirname(parents[i])
    seen = {}
    for i, n in enumerate(names):           # still equal (the same path twice): number them
        seen[n] = seen.get(n, 0) + 1
        if names.count(n) > 1:
            names[i] = "%s#%d" % (n, seen[n])
    return names


def grade_batch(opts):
    """Grades opts.submissions, opts.jobs at a time; returns their results in order."""
    lock = threading.Lock()

    def one(spec, name):
        res, report = grade_submission(opts, spec, name, live=opts.jobs == 1)
        with lock:
            print(report, end="", flush=True)
        return res

    with concurrent.futures.ThreadPoolExecutor(max_workers=opts.jobs) as pool:
        results = list(pool.map(one, opts.submissions, unique_names(opts.submissions)))
    sys.stdout.write("\n" + summary_table(results))
    return results


# ---- --make: the Gradescope bundle ------------------------------------------------------------
def handout(work):
    """make handout's starter tree, written under work: its path, or Fail."""
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "handout.py"), "--out", work],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    starter = find_root(work)
    if r.returncode or starter is None:
        raise Fail("make handout failed:\n" + r.stdout.decode("utf-8", "replace"))
    return starter


def make_bundle(out, flags):
    """Writes the bundle to out; flags: the options run_autograder always gives."""
    work = tempfile.mkdtemp(prefix="autograder-")
    try:
        starter = handout(work)
        files = [(rel, os.path.join(starter, rel)) for rel in kit.source_files(starter)]
        files.append(("tools/autograder.py", os.path.realpath(__file__)))
        with zipfile.ZipFile(out + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
            def add(name, data, mode):
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
            add("setup.sh", SETUP_SH, 0o755)
            add("run_autograder", RUN_AUTOGRADER % " ".join(map(shlex.quote, flags)), 0o755)
            for rel, path in files:
                with open(path, "rb") as f:
                    add(rel, f.read(), 0o755 if rel.endswith(".py") else 0o644)
        os.replace(out + ".tmp", out)
    except Fail as e:
        print("autograder: %s\nnothing was written" % e)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("autograder: wrote %s (setup.sh, run_autograder and the starter tree from make "
          "handout, %d files, with this program; run_autograder gives: %s): upload it as the "
          "assignment's autograder" % (kit.shown(out), len(files), " ".join(flags) or "-"))
    return 0


def stand_in_root(root, submission, source=None):
    """Lays out a stand-in for /autograder at root, as Gradescope does: submission (a tree
    or a file) in submission/, and the unpacked bundle source (if given) in source/ with
    run_autograder copied to the top. Returns root."""
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


# ---- --run: one submission on Gradescope --------------------------------------------------------
def setup_problem(opts):
    """Why this machine, the pristine tree or --only cannot grade, or None."""
    names = {t["name"] for t in listing()["tests"]}
    unknown = [n for n in opts.only or [] if n not in names]
    if unknown:
        return "unknown test %s; tests are: %s" % (", ".join(unknown), " ".join(sorted(names)))
    problem = kit.qemu_version_problem(opts.qemu or kit.setting("QEMU"))
    needs = ["Makefile", "grade-cow.py"] + listing()["protected"] + listing()["own"]
    missing = [rel for rel in needs if not os.path.isfile(os.path.join(opts.pristine, rel))]
    if missing and not problem:
        return ("the pristine tree %s lacks %s; give --pristine DIR, the tree from the "
                "handout the submissions started from" % (opts.pristine, " ".join(missing)))
    return problem


def run_gradescope(opts):
    """Grades the one submission and writes results.json, whatever happens: first a score
    of 0 saying the grading did not finish, replaced by the grade as the last step."""
    root = os.environ.get("AUTOGRADER_ROOT", "/autograder")
    results = os.path.join(root, "results", "results.json")
    os.makedirs(os.path.dirname(results), exist_ok=True)
    if os.geteuid() == 0:       # the grader's alone: the build users may not write here
        os.chown(os.path.dirname(results), 0, 0)
        os.chmod(os.path.dirname(results), 0o755)
    started = time.monotonic()

    def stopped(why):
        return {"tree": "submission", "score": 0, "max_score": 100, "note": why, "tests": [],
                "changed": [], "elapsed": time.monotonic() - started}
    write_json(results, [stopped("the autograder stopped before it had a grade")],
               opts.visibility)
    try:
        problem = setup_problem(opts)
        if problem:
            raise Fail("the autograder cannot grade here: " + problem)
        res, _ = grade_submission(opts, os.path.join(root, "submission"), "submission",
                                  live=True)
    except Fail as e:
        res = failed_result(opts, "submission", str(e))
    except Exception as e:      # the grader's own error: a grade of 0 that says so
        res = stopped("the autograder failed: %r" % e)
    res["elapsed"] = time.monotonic() - started
    write_json(results, [res], opts.visibility)
    print("autograder: wrote %s (score %d/%d)" % (results, res["score"], res["max_score"]))
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description="Grade submissions of the COW lab; write the "
                                "Gradescope bundle (--make) or run it (--run).")
    p.add_argument("submissions", nargs="*", metavar="SUBMISSION",
                   help="directory, git URL or .tar.gz to grade")
    p.add_argument("--make", metavar="ZIP", help="write the Gradescope bundle to ZIP")
    p.add_argument("--flags", default="", metavar="'OPTIONS'",
                   help="with --make: options run_autograder gives (write --flags='...')")
    p.add_argument("--run", action="store_true", help="grade $AUTOGRADER_ROOT/submission")
    p.add_argument("--jobs", "-j", type=int, default=1, help="grade N submissions at once")
    p.add_argument("--cpus", type=int, default=kit.setting("CPUS"), help="harts QEMU emulates")
    p.add_argument("--mem", type=int, default=kit.setting("MEM"), help="MiB of RAM")
    p.add_argument("--timeout-scale", type=float, default=1.0, help="every timeout times X")
    p.add_argument("--time-budget", type=float, metavar="S", help="at most S seconds per "
                   "submission, never scaled (default: %d, with --run %d)"
                   % (BATCH_BUDGET, BUDGET))
    p.add_argument("--only", action="append", metavar="NAME", help="run only this test")
    p.add_argument("-v", "--verbose", action="store_true", help="echo the consoles")
    p.add_argument("--json", metavar="FILE", help="write Gradescope results JSON")
    p.add_argument("--csv", metavar="FILE", help="write one row per submission")
    p.add_argument("--qemu", help="QEMU binary (default: QEMU, else %s)" % kit.QEMU_DEFAULT)
    p.add_argument("--pristine", metavar="DIR", help="the tree the students started from "
                   "(default: a fresh make handout, or this tree where there is none)")
    p.add_argument("--keep", action="store_true", help="keep submissions' build directories")
    p.add_argument("--visibility", default="visible",
                   choices=["visible", "hidden", "after_due_date", "after_published"],
                   help="Gradescope visibility of the results (default visible)")
    opts = p.parse_args(argv)
    if opts.jobs < 1 or opts.timeout_scale <= 0 or (opts.time_budget or 1) <= 0:
        p.error("--jobs, --timeout-scale and --time-budget must be positive")
    if not (opts.make or opts.run or opts.submissions):
        p.error("name submissions to grade, or give --make ZIP or --run")
    if opts.time_budget is None:
        opts.time_budget = BUDGET if opts.run else BATCH_BUDGET * opts.timeout_scale
    return opts


_held = []      # the locks of our user ids: released when this process ends


def build_users(n):
    """A queue of n user ids that no account has and no other grader here holds (a lock in
    USER_LOCKS each), for the submissions' builds and QEMUs; n times None when not root."""
    # No process started from here gains rights by running a set-user-id program (su, or
    # sudo with your credentials cached): the kernel's no_new_privs, kept by every child and
    # every exec. Root's own switch to the build users is not affected.
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit("autograder: prctl(PR_SET_NO_NEW_PRIVS) failed: %s"
                 % os.strerror(ctypes.get_errno()))
    users = queue.Queue()
    if os.geteuid():
        kit.say("autograder: not root, so each submission is built and run as this user, "
                "with its rights (not sudo's): grade in a fresh container or VM per submission")
        for _ in range(n):
            users.put(None)
        return users
    os.makedirs(USER_LOCKS, mode=0o700, exist_ok=True)
    uid = BUILD_UID - 1
    while users.qsize() < n:
        uid += 1
        try:
            pwd.getpwuid(uid)
            continue                # an account's
        except KeyError:
            pass
        lock = open(os.path.join(USER_LOCKS, str(uid)), "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:             # another grader's
            lock.close()
            continue
        _held.append(lock)
        kit.end_user(uid)           # what a grader that was killed may have left
        users.put(uid)
    return users


def main(argv):
    opts = parse_args(argv)
    if opts.make:
        return make_bundle(os.path.abspath(opts.make), shlex.split(opts.flags))
    kit.exit_on_signals()
    work = tempfile.mkdtemp(prefix="grade-cow-pristine-")
    opts.fs_from = os.path.join(work, "tree")   # where fs.img is built, once for all
    opts.users = build_users(opts.jobs)
    try:
        if opts.pristine is None and os.path.isfile(os.path.join(TOOLS, "handout.py")):
            opts.pristine = handout(os.path.join(work, "handout"))
        opts.pristine = os.path.abspath(opts.pristine or ROOT)
        global GRADER       # this tree's until the pristine one has its own (or says so)
        if os.path.isfile(os.path.join(opts.pristine, "grade-cow.py")):
            GRADER = os.path.join(opts.pristine, "grade-cow.py")
        kit.copy_sources(opts.pristine, opts.fs_from)
        if opts.run:
            return run_gradescope(opts)
        problem = setup_problem(opts)
        if problem:
            print("autograder: " + problem)
            return 2
        results = grade_batch(opts)
    except Fail as e:
        print("autograder: %s" % e)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        kit.kill_all()
        shutil.rmtree(work, ignore_errors=True)
    if opts.json:
        write_json(opts.json, results, opts.visibility)
    if opts.csv:
        write_csv(opts.csv, results, selected(opts.only))
    return 0 if all(r["score"] == r["max_score"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
