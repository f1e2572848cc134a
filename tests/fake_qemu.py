#!/usr/bin/env python3
# A stand-in for qemu-system-riscv64 in the grader's host tests: prints canned console output.
# The "kernel" file it is given names the behaviour (good, panic, hang, eager, ...). The disk
# image is the fake mkfs's (tests/test_grader.py): each file after a line "file NAME", a
# program's first line "program WHAT", gradeexec's second its token. A command is run as
# gradeexec runs it: the test's lines follow the token. A cowtest holding the line TAMPERED
# stands for one edited to print "ok" whatever the kernel does.
import os
import signal
import sys
import time

COWTEST = ["simple", "three", "file", "forkfork", "isolation", "textwrite",
           "manyshare", "oom", "reuse", "onewrite", "nocopy", "race"]
BANNER = "OpenSBI v1.1 (fake)\n" + "".join("Platform line %d\n" % i for i in range(30))


TOKEN = "-"


def out(s):
    sys.stdout.write(s)
    sys.stdout.flush()


AGAIN = []


def test(s):
    """Lines the test prints, after the token as gradeexec prints them (and again when the
    test has ended: respond() returned)."""
    AGAIN.extend(s.splitlines(True))
    out("".join("%s %s" % (TOKEN, l) for l in s.splitlines(True)))


def hang():
    while True:
        time.sleep(60)


def respond(mode, cmd, tampered):
    if cmd == "cowtest":
        if mode == "slowcow":
            time.sleep(0.5)
        if tampered:
            mode = "good"
        if mode in ("forge", "bothsay"):     # the kernel says all is well, without the token
            out("".join("%s: ok\n" % n for n in COWTEST) + "ALL COW TESTS PASSED\n")
        test("cowtest: starting\n")
        for n in COWTEST:
            if mode in ("badcow", "forge") and n == "three":
                test("three: child saw 2\nthree: FAILED (count 3)\n")
            elif mode == "interleave" and n in ("three", "simple"):  # a kernel line broke in
                AGAIN.append("%s: ok\n" % n)
                out(TOKEN[:5] + "usertrap: pid 9 killed\n" + TOKEN[5:] + " three: ok\n"
                    if n == "three" else "%s simple:usertrap: pid 8 killed\n ok\n" % TOKEN)
            elif mode == "bothsay" and n == "three":
                test("three: FAILED (count 3)\nthree: ok\n")
            else:
                test("%s: ok\n" % n)
        test("leak: %s\n" % ("FAILED (expected free pages unchanged, saw 3)"
                             if mode == "leak" else "ok"))
        test("ALL COW TESTS PASSED\n" if mode not in ("badcow", "leak", "forge")
             else "SOME COW TESTS FAILED\n")
    elif cmd == "cowcheck":
        if mode in ("hang", "stubborn"):
            test("cowcheck: touched 8192 pages")
            hang()
        pages = 8231 if mode == "eager" else 37
        test("cowcheck: touched 8192 pages; fork allocated %d pages; 8192 mappings shared\n"
             % pages)
        test("cowcheck: done\n")
    elif cmd == "cowstat":
        test("cowfaults 17\ncowcopies 5\ncowreuses 12\n")
    elif cmd == "usertests -q":
        test("usertests starting\ntest copyin: OK\n")
        if mode == "panic":
            out("panic: kerneltrap\n")
            hang()
        if mode == "copyfail":
            test("copyout: expected -1 from read into text, saw 512\ntest copyout: FAILED\n")
            out("usertrap: pid 9 (usertests) killed: load page fault at va 0x0, pc 0x10\n")
            test("test pipebadread: OK\nSOME TESTS FAILED\n")
            return
        test("test copyout: OK\ntest memfree: OK\n")
        if mode == "leak":
            test("freepages: 100 free before the run, 97 after\ntest freepages: FAILED\n"
                 "SOME TESTS FAILED\n")
            return
        test("test freepages: OK\nALL TESTS PASSED\n")


def main(argv):
    if "--version" in argv:
        out("QEMU emulator version %s (fake)\n" % os.environ.get("FAKE_QEMU_VERSION", "7.2.0"))
        return
    kernel = argv[argv.index("-kernel") + 1]
    drive = [a for a in argv if a.startswith("file=")][0].split(",")[0][5:]
    piddir = os.environ.get("FAKE_QEMU_PIDDIR")
    if piddir:
        open(os.path.join(piddir, str(os.getpid())), "w").close()
    with open(kernel) as f:
        mode = f.read().split("\n")[0].strip()     # the rest: strings the kernel holds
    global TOKEN
    names, tampered = {}, False
    with open(drive, errors="replace") as f:
        for part in f.read().split("\nfile ")[1:]:
            name, what, slot = (part.split("\n") + ["", ""])[:3]
            names[name] = what[len("program "):]
            TOKEN = slot if names[name] == "gradeexec" else TOKEN
            tampered |= names[name] == "cowtest" and "TAMPERED" in part.split("\n")
    with open(drive, "a") as f:
        f.write("written by the guest\n")
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out(BANNER + "\nxv6-cow kernel is booting on hart 0\n\n")
    if mode == "bootpanic":
        out("hart 1 starting\npanic: main: no disk\n")
        hang()
    if mode == "garbage":
        junk = bytes(range(256)) * 256
        while True:
            sys.stdout.buffer.write(junk)
            sys.stdout.flush()
    if mode == "noprompt":
        hang()
    out("init: starting sh\n$ ")
    for raw in sys.stdin.buffer:
        typed = raw.decode().strip()
        out(typed + "\n")
        words = typed.split()
        if names.get(words[0]) == "gradeexec" and len(words) > 1 and words[1] in names:
            respond(mode, " ".join([names[words[1]]] + words[2:]), tampered)
            out("".join("%s.%s" % (TOKEN, l) for l in AGAIN))
            AGAIN.clear()
        else:
            out("exec %s failed\n" % words[0])
        out("$ ")


if __name__ == "__main__":
    main(sys.argv[1:])
