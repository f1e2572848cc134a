#!/usr/bin/env python3
"""`make check`: host-side tests, the grader at 3 and 1 harts, and a scripted gdb session.
Ends with exactly one line "N passed, N failed" (totals over everything run); exit 1 on any
failure. Every QEMU started here, directly or by the grader, is gone when it returns.

Environment: GRADEFLAGS adds options to the grader (e.g. "--timeout-scale 2")."""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

TESTS = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(TESTS)
GDB_TIMEOUT = 300       # building (if needed) plus booting to main under gdb


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def clean_env(**extra):
    """Our environment minus make's jobserver plumbing, which means nothing to new makes."""
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(var, None)
    env.update(extra)
    return env


def host_tests():
    """Runs tests/test_*.py; returns (passed, failed)."""
    say("==== host-side tests ====")
    suite = unittest.defaultTestLoader.discover(TESTS, pattern="test_*.py", top_level_dir=TESTS)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=1).run(suite)
    sys.stdout.flush()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    return result.testsRun - failed - len(result.skipped), failed


def grader(cpus):
    """Runs ./grade-cow.py on this tree at cpus harts; returns (passed, failed)."""
    say("==== grade-cow.py --cpus %d ====" % cpus)
    fd, out = tempfile.mkstemp(prefix="check-grade-", suffix=".json")
    os.close(fd)
    try:
        argv = [sys.executable, os.path.join(ROOT, "grade-cow.py"),
                "--cpus", str(cpus), "--json", out]
        argv += shlex.split(os.environ.get("GRADEFLAGS", ""))
        code = subprocess.call(argv, cwd=ROOT, stdin=subprocess.DEVNULL, env=clean_env())
        try:
            with open(out) as f:
                tests = json.load(f)["tests"]
        except (OSError, ValueError, KeyError):
            say("grader at CPUS=%d produced no results (exit %d)" % (cpus, code))
            return 0, 1
        passed = sum(1 for t in tests if t["status"] == "passed")
        return passed, len(tests) - passed
    finally:
        os.unlink(out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gdbinit_ready(port):
    try:
        with open(os.path.join(ROOT, ".gdbinit")) as f:
            return ":%d" % port in f.read()
    except OSError:
        return False


def gdb_session(port, deadline):
    """Attaches gdb-multiarch to the halted kernel, breaks at main, continues.
    Returns (hit, output) once gdb connected, or (None, output) if it could not yet."""
    cmds = ["gdb-multiarch", "-q", "-batch", "-nx", "-x", ".gdbinit",
            "-ex", "break main", "-ex", "continue", "-ex", "bt 1"]
    try:
        r = subprocess.run(cmds, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=max(5, deadline - time.monotonic()))
        out = r.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return False, (e.stdout or b"").decode("utf-8", "replace") + "\n(gdb timed out)"
    if re.search(r"Connection refused|Connection timed out|not being run", out) and \
            "Breakpoint 1," not in out:
        return None, out
    return bool(re.search(r"Breakpoint 1, (?:0x[0-9a-f]+ in )?main \(", out)), out


def gdb_check():
    """`make qemu-gdb` plus a scripted gdb: must stop at the breakpoint in main.
    Returns (passed, failed)."""
    say("==== gdb check: make qemu-gdb, gdb-multiarch -batch, break main ====")
    port = free_port()
    home = tempfile.mkdtemp(prefix="check-gdb-home-")
    log = open(os.path.join(home, "qemu.log"), "w+")
    # A private HOME: the safe-path line qemu-gdb adds for gdb lands there, not in ours.
    qemu = subprocess.Popen(["make", "-s", "qemu-gdb", "GDBPORT=%d" % port], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True,
                            env=clean_env(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".c")))
    deadline = time.monotonic() + GDB_TIMEOUT
    hit, out = None, ""
    try:
        while hit is None and time.monotonic() < deadline:
            if qemu.poll() is not None:
                out = "make qemu-gdb exited with status %d" % qemu.returncode
                break
            if not gdbinit_ready(port):
                time.sleep(0.5)
                continue
            hit, out = gdb_session(port, deadline)
            if hit is None:
                time.sleep(1)
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(qemu.pid, sig)
                qemu.wait(timeout=5)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.seek(0)
        qemu_log = log.read()
        log.close()
        subprocess.call(["rm", "-rf", home])
    if hit:
        say("gdb check: OK (stopped at the breakpoint in main)")
        return 1, 0
    say("gdb check: FAIL")
    for line in (out.rstrip().splitlines()[-20:] + ["-- make qemu-gdb said:"]
                 + qemu_log.rstrip().splitlines()[-10:]):
        say("    " + line)
    return 0, 1


def main():
    total_passed = total_failed = 0
    for part in (host_tests, lambda: grader(3), lambda: grader(1), gdb_check):
        try:
            passed, failed = part()
        except Exception as e:          # a broken part is one failure, not a crashed check
            say("check part crashed: %r" % e)
            passed, failed = 0, 1
        total_passed += passed
        total_failed += failed
    say("%d passed, %d failed" % (total_passed, total_failed))
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
