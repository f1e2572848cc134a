"""make check's proof (staff only) that the lab can be done from the handout and that its
grading catches the usual mistakes. Each level's starter with the staff's kernel in it
(handout.py's make_tree, solution=True) must score 100. Each tests/mistakes/*.patch adds one
typical mistake; its first lines name it ("Mistake:") and the tests that must fail ("Fails:";
"a|b": one of them), each with its own verdict line in its output so a student sees why
(or, if the mistake keeps the tests from reporting at all, with the text of "Shows:")."""

import glob
import importlib
import os
import re
import sys
import tempfile

TESTS = os.path.dirname(os.path.realpath(__file__))
sys.path[:0] = [TESTS, os.path.join(os.path.dirname(TESTS), "tools")]
import handout  # noqa: E402
checks = importlib.import_module("run-checks")     # make check's grading and verdicts


def verdict_line(test):
    """What a failing test's own output must hold: the test program's verdict line."""
    if test.startswith("cowtest-"):
        return "%s: FAILED" % test[len("cowtest-"):]
    if test.startswith("usertests-"):
        return "test %s: FAILED" % test[len("usertests-"):]
    return "panic" if test == "no-panic" else "FAILED"


def says_why(output, test, shows):
    """Whether a failing test's output says why: shows if given, else its verdict line or
    the panic that cut it short."""
    return shows in output if shows else verdict_line(test) in output or "panic" in output


def mistake_problems(report, fails, shows=None):
    """What is wrong with a mistake's grade (report: run-checks' grade_tree())."""
    tests = report["by_name"] if report else {}
    problems = [] if report and report["score"] < 100 else [
        "scored %s, expected less than 100" % (report or {}).get("score")]
    for want in fails:
        names = want.split("|")
        failed = [n for n in names if tests.get(n, {}).get("status", "passed") != "passed"]
        expected = repr(shows) if shows else ", ".join(repr(verdict_line(n)) for n in failed)
        if not failed:
            problems.append("%s passed, expected it to fail" % " and ".join(names))
        elif not any(says_why(tests[n]["output"], n, shows) for n in failed):
            problems.append("%s failed without %s in the output" % (" and ".join(failed),
                                                                    expected))
    return problems


def lab_proof_check():
    """(passed, failed): one check per level's solution and one per mistake."""
    checks.say("==== lab proof: the starter plus our kernel scores 100; each mistake less ====")
    cases = [(level + " solution", level, None) for level in handout.LEVELS]
    cases += [(os.path.basename(p)[:-len(".patch")], "standard", p)
              for p in sorted(glob.glob(os.path.join(TESTS, "mistakes", "*.patch")))]
    results = []
    for name, level, patch in cases:
        with tempfile.TemporaryDirectory(prefix="check-labproof-") as tree:
            handout.make_tree(checks.ROOT, tree, level, solution=True)
            code, out = checks.run(["patch", "-s", "-p1", "-i", patch], cwd=tree) if patch \
                else (0, "")
            if code:
                results.append(checks.verdict("lab proof " + name, [
                    "the patch does not apply to the solution"], out.splitlines()[-5:]))
                continue
            report, out = checks.grade_tree(tree)
            bad = " ".join(checks.failing(report)) if report else "?"
            if patch:
                text = checks.read_text(patch)
                what, fails, shows = (re.search(r"^%s: (.*)$" % key, text, re.M)
                                      for key in ("Mistake", "Fails", "Shows"))
                checks.say("lab proof %s (%s): %s/100, failed: %s" % (
                    name, what and what.group(1), report and report["score"], bad))
                problems = mistake_problems(report, fails.group(1).split() if fails else [],
                                            shows and shows.group(1))
            else:
                problems = [] if report and report["score"] == 100 else [
                    "scored %s, expected 100; failed: %s" % (report and report["score"], bad)]
            results.append(checks.verdict("lab proof " + name, problems, out.splitlines()[-10:]))
    return checks.total(results)


if __name__ == "__main__":
    passed, failed = lab_proof_check()
    checks.say("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
