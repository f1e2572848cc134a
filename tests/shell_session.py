"""make check's shell session: boots the kernel headless and uses the shell as a person would.
Owns the list of typed lines and what each must print; run-checks.py calls run().

Each step types one line (or keys such as ^U, ^D, ^P) and checks the console output it
produced; every step is one test in make check's "N passed, N failed". The programs in
tests/compat/ and tests/shell/ are built into fs.img with EXTRA_PROGS first."""

import glob
import os
import re
import shutil
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import xv6kit as kit  # noqa: E402


def extra_progs():
    return sorted(glob.glob(os.path.join(TESTS, "compat", "*.c"))
                  + glob.glob(os.path.join(TESTS, "shell", "*.c")))


def wc_counts(data):
    """What user/wc prints for these bytes: lines, words, bytes."""
    words = len(re.findall(rb"[^ \t\n\r\v]+", data))
    return "%d %d %d" % (data.count(b"\n"), words, len(data))


def body(out):
    """A step's output without the echo of the typed line and the next prompt."""
    text = out.split("\n", 1)[1] if "\n" in out else ""
    return re.sub(r"\$ \Z", "", text)


def expect_body(want):
    def check(out, ctx):
        got = body(out)
        if got != want:
            return "printed %r, expected %r" % (got[-300:], want)
    return check


def expect_re(*patterns):
    def check(out, ctx):
        for p in patterns:
            if not re.search(p, body(out), re.M):
                return "no line matching %r in %r" % (p, body(out)[-300:])
    return check


def check_fault(kind, cause):
    """The program's own line names its pid and the address; the kernel's line must match."""
    def check(out, ctx):
        m = re.search(r"fault: pid (\d+) %s at 0x([0-9a-f]+)" % kind, out)
        if not m:
            return "fault did not start: %r" % out[-300:]
        pid, va = m.group(1), int(m.group(2), 16)
        k = re.search(r"usertrap: pid %s \(fault\) killed: ([a-z ]+) at va 0x([0-9a-f]+), "
                      r"pc 0x([0-9a-f]+)\n" % pid, out)
        if not k:
            return "no kill line 'usertrap: pid %s (fault) killed: CAUSE at va ADDR, pc PC' " \
                   "in %r" % (pid, out[-300:])
        if k.group(1) != cause or int(k.group(2), 16) != va or int(k.group(3), 16) == 0:
            return "kill line says %r; expected cause %r at va %#x and a pc" % (
                k.group(0).strip(), cause, va)
        if "fault: survived" in out or len(re.findall(r"usertrap:", out)) != 1:
            return "not exactly one kill line, or the process went on: %r" % out[-300:]
    return check


def check_boot(out, ctx):
    missing = [h for h in range(ctx["cpus"]) if "hart %d starting" % h not in out]
    if missing:
        return "harts %s never said they started" % missing
    if "init: starting sh" not in out:
        return "init did not start sh"
    # The boot hart makes init only once every hart has said it started, so no hart's
    # line can land inside the shell's prompt.
    late = [h for h in range(ctx["cpus"])
            if out.index("hart %d starting" % h) > out.index("init: starting sh")]
    if late:
        return "harts %s said they started after init ran" % late


def check_ls(out, ctx):
    size = len(ctx["readme"])
    return expect_re(r"^\.\s+1 1 \d+$", r"^README\s+2 \d+ %d$" % size, r"^cat\s+2 \d+ \d+$",
                     r"^xv6compat\s+2 \d+ \d+$", r"^console\s+3 \d+ 0$")(out, ctx)


def check_cat(out, ctx):
    got, want = body(out), ctx["readme"].decode("utf-8", "replace")
    if got != want:
        return "cat README printed %d characters, not README's %d" % (len(got), len(want))


def check_pipeline(out, ctx):
    lines = [l + b"\n" for l in ctx["readme"].split(b"\n") if b"copy-on-write" in l]
    return expect_body(wc_counts(b"".join(lines)) + " \n")(out, ctx)


# A command line of about 400 characters, typed in one write like a paste: more than the
# console's 128-byte input buffer, so it only arrives whole if console input is lossless.
LONG_WORDS = ["arg%02d-%s" % (i, "qwertyuiopasdfghjklzxcvbnm"[i % 20:i % 20 + 6])
              for i in range(30)]
LONG_LINE = "echo " + " ".join(LONG_WORDS)


def check_long_line(out, ctx):
    """Both the console's echo of the typed line and echo's output must be complete."""
    typed = out.split("\n", 1)[0]
    if not typed.endswith(LONG_LINE):
        return "the console echoed %d of the %d typed characters: %r" % (
            len(typed), len(LONG_LINE), typed[-300:])
    return expect_body(" ".join(LONG_WORDS) + "\n")(out, ctx)


def check_lines(out, ctx):
    """4 processes printed 150 lines each at once: every line must have arrived whole."""
    found = re.findall(r"^lines: (\d) (\d+) abcdefghijklmnopqrstuvwxyz0123456789 (\d+)$",
                       out, re.M)
    whole = sum(1 for w, i, s in found if int(w) * 1000 + int(i) == int(s))
    if whole != 600 or "lines: done\n" not in out:
        return "%d of the 600 lines arrived whole, expected all" % whole


def check_ctrl_c_prompt(out, ctx):
    """^C threw the typed words away, the shell prompted again and ran only the next line.
    (The console echoes typed keys at once, the shell's prompt comes through a buffer: the
    two may come in either order.)"""
    if "echo junk^C\n" not in out or out.count("$ ") != 2 or "failed" in out or \
            not re.search(r"(^|\n|\$ )after ctrl-c\n\$ \Z", out):
        return "expected 'echo junk^C', a new prompt, then only 'after ctrl-c' run; saw %r" % (
            out[-300:])


def expect_recall(want):
    """Up and down put an earlier line after the prompt (its echo and the Enter may come in
    either order); the line run is the one whose output is want."""
    def check(out, ctx):
        if "failed" in out or not re.search(r"%s\n\$ \Z" % re.escape(want), out):
            return "expected the recalled line's output %r, saw %r" % (want, out[-300:])
    return check


def check_ctrl_c_job(out, ctx):
    """^C ended the spinning job (a parent and its two children) within 1 s."""
    took = ctx["after"]["ctrl-c-job"]
    if "^C\n" not in out or took > 1.0 * ctx["scale"]:
        return "the prompt came back %.2f s after ^C (expected within 1 s), output %r" % (
            took, out[-300:])


def check_ctrl_c_gone(out, ctx):
    """^P: no process of the ^C'd job is left; the background job (asleep) still is."""
    jobs = re.findall(r"^\d+ (\S+)\s+job\s", out, re.M)
    if jobs != ["sleep"]:
        return "^P lists job processes in states %s, expected only the background one " \
               "asleep: %r" % (jobs, out[-400:])


def steps(ctx):
    """(name, keys typed, timeout in seconds, check(output, ctx) -> None or why it failed).
    Keys without a final control character get a newline."""
    return [
        ("echo", "echo hello from the shell", 10, expect_body("hello from the shell\n")),
        ("ls", "ls", 10, check_ls),
        ("cat", "cat README", 30, check_cat),
        ("pipeline", "cat README | grep copy-on-write | wc", 30, check_pipeline),
        ("redirect-out-in", "echo to a file > sh.out ; cat < sh.out", 10,
         expect_body("to a file\n")),
        ("redirect-append", "echo more >> sh.out ; cat sh.out", 10,
         expect_body("to a file\nmore\n")),
        ("redirect-truncate", "echo new > sh.out ; wc < sh.out", 10, expect_body("1 1 4 \n")),
        ("mkdir-ln-rm", "mkdir shd ; echo linked > shd/a ; ln shd/a shl ; rm shd/a ; cat shl ; "
         "rm shl ; cat shl ; rm shd ; ls shd", 20,
         expect_body("linked\ncat: cannot open shl\nls: cannot open shd\n")),
        ("cd", "mkdir d2 ; cd d2 ; echo here > f ; cat /d2/f ; cd / ; cat d2/f ; cd nowhere", 20,
         expect_body("here\nhere\ncannot cd nowhere\n")),
        ("parentheses", "(echo a ; echo b) | wc ; (echo c ; echo dd) > sub.out ; cat sub.out",
         10, expect_body("2 2 4 \nc\ndd\n")),
        ("background", "echo in the background > bg.out &", 10, expect_body("")),
        ("background-done", "cat bg.out", 10, expect_body("in the background\n")),
        ("syntax-error", "echo a | | wc", 10, expect_body("sh: syntax error: missing command\n")),
        ("syntax-error-paren", "(echo a", 10, expect_re(r"^sh: syntax error")),
        ("backspace", "echo abX\x7fc", 10, expect_body("abc\n")),
        ("ctrl-u", "echo junk\x15echo clean", 10, expect_body("clean\n")),
        ("long-line", LONG_LINE, 20, check_long_line),
        ("ctrl-d-eof", "cat\nline one\n\x04", 10, expect_body("line one\nline one\n")),
        ("ctrl-p", "\x10", 10, None),           # checked specially: no prompt follows
        ("sh-restart", "\x04", 10, None),       # ^D at the prompt: sh exits, init restarts it
        ("forktest", "forktest", 120, expect_body("fork test\nfork test OK\n")),
        ("stressfs", "stressfs", 300, expect_re(r"^stressfs ok$")),
        ("fault-store", "fault store", 20, check_fault("store", "store page fault")),
        ("fault-load", "fault load", 20, check_fault("load", "load page fault")),
        ("alive-after-faults", "echo still here", 10, expect_body("still here\n")),
        ("xv6compat", "xv6compat", 60, expect_body(
            "xv6compat: -7 7 beef 0x0000000000001000 str c -8 8 abcdef %\nxv6compat: ok\n")),
        ("printf-lines", "lines", 60, check_lines),
        ("history-1", "echo first line", 10, expect_body("first line\n")),
        ("history-2", "echo second line", 10, expect_body("second line\n")),
        ("history-up", "\x1b[A", 10, expect_recall("second line")),
        ("history-up-up", "\x1b[A\x1b[A", 10, expect_recall("first line")),
        ("history-down", "\x1b[A\x1b[A\x1b[A\x1b[B", 10, expect_recall("second line")),
        ("ctrl-c-prompt", "echo junk\x03echo after ctrl-c", 10, check_ctrl_c_prompt),
        ("bg-nap", "job nap 500 &", 10, expect_body("")),
        ("ctrl-c-job", "job spin 3", 20, check_ctrl_c_job),
        ("ctrl-c-gone", "\x10echo listed", 10, check_ctrl_c_gone),
    ]


PANIC = re.compile(r"panic: ")


# Steps whose end is not a fresh prompt: what to wait for instead.
SPECIAL_END = {
    "ctrl-p": re.compile(r"\n1 sleep\s+init\s+\d+ pages, \d+ shared\b.*\n(.*\n)*?"
                         r"\d+ (sleep|run)\s+sh\s+\d+ pages, \d+ shared\b.*\n"),
    "sh-restart": re.compile(r"init: starting sh\n\$ \Z"),
    "ctrl-c-prompt": re.compile(r"after ctrl-c\n.*after ctrl-c\n\$ \Z", re.S),   # echo, output
}
# Steps that type more once the output matches a pattern: (pattern, keys). The seconds from
# those keys to the step's end go in ctx["after"][name].
KEYS_AFTER = {"ctrl-c-job": (re.compile(r"job: 3 spinning\n"), "\x03")}
PROMPT_END = re.compile(r"(?:^|\n)\$ \Z")
# The background job may still be running when the shell prompts again, and the processes ^C
# ended may still be on their way out (init reaps the orphans): look a few times.
RETRIES = {"background-done": 10, "ctrl-c-gone": 4}


def run(cpus, scale, say, old_platform=False):
    """Boots at cpus harts and runs every step. Returns (passed, failed).
    old_platform: boot as an older QEMU would (a CPU without Sstc, so the timer must come
    through the SBI TIME extension, and QEMU's bundled firmware instead of the package's)."""
    mem = kit.setting("MEM")
    ctx = {"cpus": cpus, "scale": scale, "after": {}}
    names = ["boot"] + [s[0] for s in steps(ctx)] + ["no-panic"]
    results = {}

    def report(name, why):
        results[name] = why
        say("shell %s: %s" % (name, "OK" if why is None else "FAIL"))
        if why:
            for line in why.splitlines():
                say("    " + line)

    say("==== shell session at CPUS=%d: build with %s, boot, type ====" % (
        cpus, " ".join(os.path.relpath(p, ROOT) for p in extra_progs())))
    why, log = kit.build(ROOT, ["MEM=%d" % mem, "EXTRA_PROGS=" + " ".join(extra_progs())])
    if why or kit.warnings(log):
        why = (why + ":\n" + kit.tail(log, 15) if why else
               "build has warnings:\n" + "\n".join(kit.warnings(log)[:10]))
        for n in names:
            report(n, why if n == "boot" else "not run: the build failed")
        return 0, len(names)
    with open(os.path.join(ROOT, "README"), "rb") as f:
        ctx["readme"] = f.read()
    readme = ctx["readme"].decode("utf-8", "replace")

    work = tempfile.mkdtemp(prefix="check-shell-")
    con, why = kit.Machine.boot(ROOT, os.path.join(work, "fs.img"), 60 * scale, cpus=cpus,
                                mem=mem, bios="default" if old_platform else None,
                                extra=["-cpu", "rv64,sstc=off"] if old_platform else [])
    try:
        report("boot", ("no shell prompt: " + why) if why else check_boot(con.since(0), ctx))
        for name, keys, timeout, check in steps(ctx):
            if con.eof:
                report(name, "not run: QEMU is gone")
                continue
            if keys[-1] not in "\x04\x10":
                keys += "\n"
            for attempt in range(RETRIES.get(name, 1)):
                if attempt:
                    time.sleep(0.5)
                mark = con.mark()
                if not con.type(keys):
                    result = "QEMU stopped reading input"
                    break
                if name in KEYS_AFTER:
                    pattern, more = KEYS_AFTER[name]
                    why = con.wait_for(pattern, mark, timeout * scale)
                    ctx["after"][name] = time.monotonic()
                    if why or not con.type(more):
                        result = "%r: %s; output %r" % (keys, why, con.since(mark)[-300:])
                        break
                why = con.wait_for(SPECIAL_END.get(name, PROMPT_END), mark, timeout * scale,
                                   readme)
                out = con.since(mark)
                if name in ctx["after"]:
                    ctx["after"][name] = time.monotonic() - ctx["after"][name]
                if why:
                    result = "%r: %s; output %r" % (keys, why, out[-300:])
                    break
                result = check(out, ctx) if check else None
                if result is None:
                    break
            report(name, result)
    finally:
        con.close()
        console = con.since(0)
        shutil.rmtree(work, ignore_errors=True)
    m = PANIC.search(console.replace(readme, ""))
    report("no-panic", m and "kernel panicked: " + console[m.start():].split("\n")[0])
    failed = sum(1 for n in names if results.get(n) is not None)
    return len(names) - failed, failed


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Run make check's shell session on its own.")
    ap.add_argument("--cpus", type=int, default=3)
    ap.add_argument("--timeout-scale", type=float, default=1.0)
    args = ap.parse_args()
    passed, failed = run(args.cpus, args.timeout_scale, print)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
