"""make check's proof that the lab can be done from the handout and that its grading catches
the usual mistakes (staff only: not in the handout).

For each level, the starter with the staff's own copy-on-write kernel in it
(tools/handout.py's make_tree with solution=True) must score 100. Each file in
tests/mistakes/ is a patch to that solution with one typical mistake; its first lines say
what the mistake is ("Mistake:") and which tests must fail ("Fails:"; "a|b" means one of
them). A mistake must score below 100, and for each entry a test must fail with its own
verdict line (or the panic that cut it short) in the grader's output, so a student sees
why; or, for a mistake that keeps the tests from reporting at all, with the text its
"Shows:" line gives."""

import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

TESTS = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import handout  # noqa: E402
import xv6kit as kit  # noqa: E402

LEVELS = ["standard", "guided"]
MISTAKES = os.path.join(TESTS, "mistakes")


def verdict_line(test):
    """What a failing test's own output must hold: the test program's verdict, or for
    no-panic the kernel's panic line. A panic line also explains any test it cut short."""
    if test.startswith("cowtest-"):
        return "%s: FAILED" % test[len("cowtest-"):]
    if test.startswith("usertests-"):
        return "test %s: FAILED" % test[len("usertests-"):]
    return "panic" if test == "no-panic" else "FAILED"


def grade(tree):
    """Builds and grades tree with its own grader: (score or None, {test: (ok, output)},
    the grader's last lines)."""
    result = os.path.join(tree, "labproof.json")
    argv = [sys.executable, os.path.join(tree, "grade-cow.py"), "--cpus", "3",
            "--json", result] + shlex.split(os.environ.get("GRADEFLAGS", ""))
    r = subprocess.run(argv, cwd=tree, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=kit.clean_env())
    said = r.stdout.decode("utf-8", "replace").splitlines()
    try:
        with open(result) as f:
            report = json.load(f)
    except (OSError, ValueError):
        return None, {}, said[-10:]
    tests = {t["name"]: (t["status"] == "passed", t["output"]) for t in report["tests"]}
    return report["score"], tests, said[-10:]


def mistake_problems(score, tests, fails, shows=None):
    """What is wrong with a mistake's grade. shows: text a failing test's output must hold
    instead of its verdict line, for a mistake that stops the tests from reporting at all."""
    problems = []
    if score is None or score >= 100:
        problems.append("scored %s, expected less than 100" % score)
    for want in fails:      # "a|b": one of them, failing with its own line, is enough
        names = want.split("|")
        failing = [n for n in names if not tests.get(n, (True, ""))[0]]
        shown = [n for n in failing if (shows in tests[n][1] if shows else
                                        verdict_line(n) in tests[n][1] or
                                        "panic" in tests[n][1])]
        if not failing:
            problems.append("%s passed, expected it to fail" % " and ".join(names))
        elif not shown:
            problems.append("%s failed without %s in the output"
                            % (" and ".join(failing), repr(shows) if shows else
                               ", ".join(repr(verdict_line(n)) for n in failing)))
    return problems


def parse_mistake(path):
    with open(path) as f:
        text = f.read()
    what = re.search(r"^Mistake: (.*)$", text, re.M)
    fails = re.search(r"^Fails: (.*)$", text, re.M)
    shows = re.search(r"^Shows: (.*)$", text, re.M)
    return ((what.group(1) if what else "?"), (fails.group(1).split() if fails else []),
            shows.group(1) if shows else None)


def lab_proof_check():
    """(passed, failed): one check per level's solution and one per mistake."""
    kit.say("==== lab proof: the starter plus our kernel scores 100; each mistake less ====")
    passed = failed = 0

    def verdict(name, problems, lines=()):
        nonlocal passed, failed
        kit.say("lab proof %s: %s" % (name, "FAIL" if problems else "OK"))
        for p in list(problems) + (list(lines) if problems else []):
            kit.say("    " + p)
        passed, failed = passed + (not problems), failed + bool(problems)

    work = tempfile.mkdtemp(prefix="check-labproof-")
    try:
        for level in LEVELS:
            tree = os.path.join(work, level)
            os.mkdir(tree)
            handout.make_tree(ROOT, tree, level, solution=True)
            score, tests, lines = grade(tree)
            bad = sorted(n for n, (ok, _) in tests.items() if not ok)
            verdict("%s solution" % level,
                    [] if score == 100 else ["scored %s, expected 100; failed: %s"
                                             % (score, " ".join(bad))], lines)
        for path in sorted(glob.glob(os.path.join(MISTAKES, "*.patch"))):
            name = os.path.basename(path)[:-len(".patch")]
            what, fails, shows = parse_mistake(path)
            tree = os.path.join(work, name)
            os.mkdir(tree)
            handout.make_tree(ROOT, tree, "standard", solution=True)
            with open(path, "rb") as f:
                r = subprocess.run(["patch", "-s", "-p1"], cwd=tree, stdin=f,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode:
                verdict(name, ["the patch does not apply to the solution"],
                        r.stdout.decode("utf-8", "replace").splitlines()[-5:])
                continue
            score, tests, lines = grade(tree)
            bad = sorted(n for n, (ok, _) in tests.items() if not ok)
            kit.say("lab proof %s (%s): %s/100, failed: %s" % (name, what, score, " ".join(bad)))
            verdict(name, mistake_problems(score, tests, fails, shows), lines)
            subprocess.call(["rm", "-rf", tree])
    finally:
        subprocess.call(["rm", "-rf", work])
    return passed, failed


if __name__ == "__main__":
    p, f = lab_proof_check()
    kit.say("%d passed, %d failed" % (p, f))
    sys.exit(1 if f else 0)
