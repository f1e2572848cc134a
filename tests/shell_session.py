"""make check's shell session: boots the kernel headless and uses the shell as a person would,
one check per step (a typed line or keys such as ^U, ^D, ^P and what they must print).
run-checks.py calls run(); tests/compat/ and tests/shell/ are built in with EXTRA_PROGS."""

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


def body(out):
    """A step's output without the echo of the typed line and the next prompt."""
    return re.sub(r"\$ \Z", "", out.split("\n", 1)[1] if "\n" in out else "")


def expect_body(want):
    def check(out, ctx):
        if body(out) != want:
            return "printed %r, expected %r" % (body(out)[-300:], want[-300:])
    return check


def expect_re(*patterns):
    def check(out, ctx):
        for p in patterns:
            if not re.search(p, body(out), re.M):
                return "no line matching %r in %r" % (p, body(out)[-300:])
    return check


def expect_recall(want):
    """Up and down put an earlier line after the prompt (its echo and the Enter may come in
    either order); the line run is the one whose output is want."""
    def check(out, ctx):
        if "failed" in out or not re.search(r"%s\n\$ \Z" % re.escape(want), out):
            return "expected the recalled line's output %r, saw %r" % (want, out[-300:])
    return check


def check_fault(kind, cause):
    """The program's own line names its pid and the address; the kernel's line must match."""
    def check(out, ctx):
        m = re.search(r"fault: pid (\d+) %s at 0x([0-9a-f]+)" % kind, out)
        if not m:
            return "fault did not start: %r" % out[-300:]
        k = re.search(r"usertrap: pid %s \(fault\) killed: ([a-z ]+) at va 0x([0-9a-f]+), "
                      r"pc 0x([0-9a-f]+)\n" % m.group(1), out)
        if not k:
            return "no kill line 'usertrap: pid %s (fault) killed: CAUSE at va ADDR, pc PC' " \
                   "in %r" % (m.group(1), out[-300:])
        if k.group(1) != cause or int(k.group(2), 16) != int(m.group(2), 16) or \
                int(k.group(3), 16) == 0:
            return "kill line says %r; expected cause %r at va 0x%s and a pc" % (
                k.group(0).strip(), cause, m.group(2))
        if "fault: survived" in out or out.count("usertrap:") != 1:
            return "not exactly one kill line, or the process went on: %r" % out[-300:]
    return check


def check_boot(out, ctx):
    """Every hart started, before init ran sh (so no hart's line lands in a prompt)."""
    started = [out.find("hart %d starting" % h) for h in range(ctx["cpus"])]
    if -1 in started:
        return "harts %s never said they started" % [h for h, i in enumerate(started) if i < 0]
    if "init: starting sh" not in out:
        return "init did not start sh"
    late = [h for h, i in enumerate(started) if i > out.index("init: starting sh")]
    if late:
        return "harts %s said they started after init ran" % late


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
    """^C threw the typed words away, the shell prompted again and ran only the next line
    (the prompt may land anywhere in the echo of the keys typed ahead, see echoed())."""
    if "echo junk^C\n" not in out or out.count("$") != 2 or "failed" in out or \
            not SPECIAL_END["ctrl-c-prompt"].search(out):
        return "expected 'echo junk^C', a new prompt, then only 'after ctrl-c' run; saw %r" % (
            out[-300:])


def check_ctrl_c_job(out, ctx):
    """^C ended the spinning job (a parent and its two children) within 1 s."""
    if "^C\n" not in out or ctx["after"] > 1.0 * ctx["scale"]:
        return "the prompt came back %.2f s after ^C (expected within 1 s), output %r" % (
            ctx["after"], out[-300:])


def check_ctrl_c_gone(out, ctx):
    """^P: no process of the ^C'd job is left; the background job (asleep) still is."""
    jobs = re.findall(r"^\d+ (\S+)\s+job\s", out, re.M)
    if jobs != ["sleep"]:
        return "^P lists job processes in states %s, expected only the background one " \
               "asleep: %r" % (jobs, out[-400:])


def check_nested_exit(out, ctx):
    """^D ended the shell started from the first one, which prompts again: the ^C before did
    not end it."""
    if "init: starting sh" in out:
        return "^D ended the first shell, so the nested one was gone: %r" % out[-300:]


def steps(readme):
    """(name, keys typed, timeout in seconds, check(output, ctx) -> None or why it failed).
    Keys without a final ^D or ^P get a newline."""
    piped = b"".join(l + b"\n" for l in readme.split(b"\n") if b"copy-on-write" in l)
    return [
        ("echo", "echo hello from the shell", 10, expect_body("hello from the shell\n")),
        ("ls", "ls", 10, expect_re(r"^\.\s+1 1 \d+$", r"^README\s+2 \d+ %d$" % len(readme),
                                   r"^cat\s+2 \d+ \d+$", r"^xv6compat\s+2 \d+ \d+$",
                                   r"^console\s+3 \d+ 0$")),
        ("cat", "cat README", 30, expect_body(readme.decode("utf-8", "replace"))),
        ("pipeline", "cat README | grep copy-on-write | wc", 30, expect_body("%d %d %d \n" % (
            piped.count(b"\n"), len(piped.split()), len(piped)))),
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
        ("ctrl-p", "\x10", 10, None),           # its end (SPECIAL_END) is the check
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
        ("nested-sh", "sh", 10, expect_body("")),
        ("nested-ctrl-c", "echo junk\x03echo after ctrl-c", 10, check_ctrl_c_prompt),
        ("nested-exit", "\x04", 10, check_nested_exit),
    ]


def echoed(keys):
    """A pattern for the echo of keys typed ahead: the console echoes each key as it comes,
    while the shell's prompt goes out a byte at a time, so its "$" and " " may land anywhere
    in the echo."""
    return r"\$? ?".join(map(re.escape, keys))


# Steps whose end is not a fresh prompt: what to wait for instead.
SPECIAL_END = {
    "ctrl-p": re.compile(r"\n1 sleep\s+init\s+\d+ pages, \d+ shared\b.*\n(.*\n)*?"
                         r"\d+ (sleep|run)\s+sh\s+\d+ pages, \d+ shared\b.*\n"),
    "sh-restart": re.compile(r"init: starting sh\n\$ \Z"),
    # The echo of the typed line, then the command's output and the prompt.
    "ctrl-c-prompt": re.compile(echoed("echo after ctrl-c\n") + r".*after ctrl-c\n\$ \Z", re.S),
    # The background echo may not have written its line's end yet: cat's output then has
    # none, and the check fails and types again.
    "background-done": re.compile(r"\$ \Z"),
}
SPECIAL_END["nested-ctrl-c"] = SPECIAL_END["ctrl-c-prompt"]
PROMPT_END = re.compile(r"(?:^|\n)\$ \Z")
# Steps that type more once the output matches a pattern: (pattern, keys); the seconds from
# those keys to the step's end are ctx["after"].
KEYS_AFTER = {"ctrl-c-job": (re.compile(r"job: 3 spinning\n"), "\x03")}
# The background job may still be running when the shell prompts again, and the processes ^C
# ended may still be on their way out (init reaps the orphans): look a few times.
RETRIES = {"background-done": 10, "ctrl-c-gone": 4}


def run_step(con, name, keys, timeout, check, ctx):
    """Types one step's keys (again, up to RETRIES times, until its check passes): None if it
    passed, else why not."""
    for attempt in range(RETRIES.get(name, 1)):
        time.sleep(0.5 if attempt else 0)
        mark = con.mark()
        if not con.type(keys):
            return "QEMU stopped reading input"
        why = None
        if name in KEYS_AFTER:
            pattern, more = KEYS_AFTER[name]
            why = con.wait_for(pattern, mark, timeout * ctx["scale"])
            start = time.monotonic()
            why = why or (None if con.type(more) else "QEMU stopped reading input")
        why = why or con.wait_for(SPECIAL_END.get(name, PROMPT_END), mark,
                                  timeout * ctx["scale"], ctx["readme"])
        ctx["after"] = time.monotonic() - start if name in KEYS_AFTER else None
        out = con.since(mark)
        if why:
            return "%r: %s; output %r" % (keys, why, out[-300:])
        result = check(out, ctx) if check else None
        if result is None:
            return None
    return result


def run(cpus, scale, say, old_platform=False):
    """Boots at cpus harts and runs every step: (passed, failed). old_platform: boot as an
    older QEMU would (no Sstc, so the timer comes through the SBI; QEMU's own firmware)."""
    with open(os.path.join(ROOT, "README"), "rb") as f:
        readme = f.read()
    ctx = {"cpus": cpus, "scale": scale, "readme": readme.decode("utf-8", "replace")}
    names = ["boot"] + [s[0] for s in steps(readme)] + ["no-panic"]
    results = []

    def report(name, why):
        results.append(why)
        say("shell %s: %s" % (name, "OK" if why is None else "FAIL"))
        for line in (why or "").splitlines():
            say("    " + line)

    progs = sorted(glob.glob(os.path.join(TESTS, "compat", "*.c"))
                   + glob.glob(os.path.join(TESTS, "shell", "*.c")))
    say("==== shell session at CPUS=%d: build with %s, boot, type ====" % (
        cpus, " ".join(os.path.relpath(p, ROOT) for p in progs)))
    mem = kit.setting("MEM")
    why, log = kit.build(ROOT, ["MEM=%d" % mem, "EXTRA_PROGS=" + " ".join(progs)])
    if why or kit.warnings(log):
        why = why + ":\n" + kit.tail(log, 15) if why else \
            "build has warnings:\n" + "\n".join(kit.warnings(log)[:10])
        for n in names:
            report(n, why if n == "boot" else "not run: the build failed")
        return 0, len(names)
    work = tempfile.mkdtemp(prefix="check-shell-")
    con, why = kit.Machine.boot(ROOT, os.path.join(work, "fs.img"), 60 * scale, cpus=cpus,
                                mem=mem, bios="default" if old_platform else None,
                                extra=["-cpu", "rv64,sstc=off"] if old_platform else [])
    try:
        report("boot", ("no shell prompt: " + why) if why else check_boot(con.since(0), ctx))
        for name, keys, timeout, check in steps(readme):
            keys += "" if keys[-1] in "\x04\x10" else "\n"
            report(name, "not run: QEMU is gone" if con.eof else
                   run_step(con, name, keys, timeout, check, ctx))
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    console = con.since(0).replace(ctx["readme"], "")       # cat README is no panic
    m = re.search(r"panic: ", console)
    report("no-panic", m and "kernel panicked: " + console[m.start():].split("\n")[0])
    failed = len(results) - results.count(None)
    return len(results) - failed, failed


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Run make check's shell session on its own.")
    ap.add_argument("--cpus", type=int, default=3)
    ap.add_argument("--timeout-scale", type=float, default=1.0)
    args = ap.parse_args()
    passed, failed = run(args.cpus, args.timeout_scale, print)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
