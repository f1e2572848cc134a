"""Small helpers shared by the host-side tools and tests (make check, crashtest, ...).
grade-cow.py keeps its own copies of say() and clean_env() on purpose: course staff copy it
alone into other trees. The tools share its QEMU driver through grader()."""

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def say(line):
    """Prints one line at once, so interleaved tools' output stays in order."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def clean_env(**extra):
    """Our environment without make's jobserver plumbing (it means nothing to a new make
    started in another tree), plus extra."""
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(var, None)
    env.update(extra)
    return env


def grader():
    """This tree's grade-cow.py as the module grade_cow. It holds what every tool that boots
    the kernel shares: the QEMU command line (qemu_argv, setting), the driver (Machine,
    MachineError, PROMPT, kill_all) and what counts as a build output (BUILD_OUTPUTS,
    source_files, copy_sources)."""
    mod = sys.modules.get("grade_cow")
    if mod is None:
        spec = importlib.util.spec_from_file_location("grade_cow",
                                                      os.path.join(ROOT, "grade-cow.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["grade_cow"] = mod
        spec.loader.exec_module(mod)
    return mod
