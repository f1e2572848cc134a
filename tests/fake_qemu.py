#!/usr/bin/env python3
# A stand-in for qemu-system-riscv64 in the grader's host tests: prints canned console output.
# The "kernel" file's first line names the behaviour: good, or a key of CHANGES. The disk is
# the fake mkfs's (tests/test_grader.py): each file after a line "file NAME", a program's first
# line "program WHAT", gradeexec's second its token; a cowtest with a line TAMPERED is one
# edited to print "ok" whatever the kernel does.
import os
import signal
import sys
import time

COWTEST = ["simple", "three", "file", "forkfork", "isolation", "textwrite",
           "manyshare", "oom", "reuse", "onewrite", "nocopy", "race"]
BANNER = "OpenSBI v1.1 (fake)\n" + "".join("Platform line %d\n" % i for i in range(30))
GOOD = {"boot": "!init: starting sh\n!$ ",
        "cowtest": "cowtest: starting\n" + "".join("%s: ok\n" % n for n in COWTEST)
                   + "leak: ok\nALL COW TESTS PASSED\n",
        "cowcheck": "cowcheck: touched 8192 pages; fork allocated 37 pages; 8192 mappings "
                    "shared\ncowcheck: done\n",
        "cowstat": "cowfaults 17\ncowcopies 5\ncowreuses 12\n",
        "usertests -q": "usertests starting\ntest copyin: OK\ntest copyout: OK\n"
                        "test memfree: OK\ntest freepages: OK\nALL TESTS PASSED\n"}
# mode -> {text in the good output: what the mode prints instead}. A line "!..." is the
# kernel's ({0}: the token, {1} and {2}: its two halves), "!HANG" stops the guest; the others
# are the test's, after the token as gradeexec prints them and again when the test has ended
# (".line": only then).
FORGED = "".join("!%s: ok\n" % n for n in COWTEST) + "!ALL COW TESTS PASSED\ncowtest: starting"
SOME_FAILED = {"ALL COW TESTS PASSED": "SOME COW TESTS FAILED"}
BADCOW = dict(SOME_FAILED, **{"three: ok\n": "three: child saw 2\nthree: FAILED (count 3)\n"})
USERTESTS_REST = "test copyout: OK\ntest memfree: OK\ntest freepages: OK\nALL TESTS PASSED\n"
CHANGES = {
    "bootpanic": {GOOD["boot"]: "!hart 1 starting\n!panic: main: no disk\n!HANG\n"},
    "noprompt": {GOOD["boot"]: "!HANG\n"},
    "badcow": BADCOW,
    "forge": dict(BADCOW, **{"cowtest: starting": FORGED}),
    "bothsay": {"three: ok\n": "three: FAILED (count 3)\nthree: ok\n", "cowtest: starting": FORGED},
    "interleave": {"simple: ok\n": "!{0} simple:usertrap: pid 8 killed\n! ok\n.simple: ok\n",
                   "three: ok\n": "!{1}usertrap: pid 9 killed\n!{2} three: ok\n.three: ok\n"},
    "leak": dict(SOME_FAILED, **{
        "leak: ok": "leak: FAILED (expected free pages unchanged, saw 3)",
        "test freepages: OK\nALL TESTS PASSED": "freepages: 100 free before the run, 97 "
        "after\ntest freepages: FAILED\nSOME TESTS FAILED"}),
    "eager": {"allocated 37": "allocated 8231"},
    "noread": {GOOD["cowtest"]: "gradeexec: read of the test's output returned -1\n"},
    "stubborn": {GOOD["cowcheck"]: "cowcheck: touched 8192 pages\n!HANG\n"},
    "panic": {USERTESTS_REST: "!panic: kerneltrap\n!HANG\n"},
    "copyfail": {USERTESTS_REST: "copyout: expected -1 from read into text, saw 512\ntest "
                 "copyout: FAILED\n!usertrap: pid 9 (usertests) killed: load page fault at "
                 "va 0x0, pc 0x10\ntest pipebadread: OK\nSOME TESTS FAILED\n"},
}


def out(s):
    os.write(1, s.encode())


def run(mode, command, token):
    """Prints command's output in mode as gradeexec and the kernel would."""
    text = GOOD[command]
    for old, new in CHANGES.get(mode, {}).items():
        text = text.replace(old, new)
    lines = text.splitlines(True)
    for line in lines:
        if line == "!HANG\n":     # the guest stops here for good
            while True:
                time.sleep(60)
        if line[0] == "!":
            out(line[1:].format(token, token[:5], token[5:]))
        elif line[0] != ".":
            out("%s %s" % (token, line))
    out("".join("%s.%s" % (token, l.lstrip(".")) for l in lines if l[0] != "!"))


def main(argv):
    if "--version" in argv:
        out("QEMU emulator version %s (fake)\n" % os.environ.get("FAKE_QEMU_VERSION", "7.2.0"))
        return
    if os.environ.get("FAKE_QEMU_PIDDIR"):
        open(os.path.join(os.environ["FAKE_QEMU_PIDDIR"], str(os.getpid())), "w").close()
    with open(argv[argv.index("-kernel") + 1]) as f:
        mode = f.readline().strip()     # the rest: strings the kernel holds
    drive = [a for a in argv if a.startswith("file=")][0].split(",")[0][5:]
    with open(drive, errors="replace") as f:
        files = [part.split("\n") for part in f.read().split("\nfile ")[1:]]
    names = {f[0]: f[1][len("program "):] for f in files}     # name in fs.img -> program
    token = next((f[2] for f in files if names[f[0]] == "gradeexec"), "-")
    tampered = any(names[f[0]] == "cowtest" and "TAMPERED" in f for f in files)
    with open(drive, "a") as f:
        f.write("written by the guest\n")
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out(BANNER + "\nxv6-cow kernel is booting on hart 0\n\n")
    while mode == "garbage":
        os.write(1, bytes(range(256)) * 256)
    run(mode, "boot", token)
    for raw in sys.stdin.buffer:
        words = raw.decode().split()
        out(" ".join(words) + "\n")
        if names.get(words[0]) == "gradeexec" and len(words) > 1 and words[1] in names:
            command = " ".join([names[words[1]]] + words[2:])
            run("good" if tampered and command == "cowtest" else mode, command, token)
        else:
            out("exec %s failed\n" % words[0])
        out("$ ")


if __name__ == "__main__":
    main(sys.argv[1:])
