#!/usr/bin/env python3
# A stand-in for qemu-system-riscv64 in the grader's host tests: prints canned console output.
# The "kernel" file it is given names the behaviour (good, panic, hang, eager, ...). A disk
# image holding the line TAMPERED stands for a cowtest edited to print "ok" whatever the
# kernel does.
import os
import signal
import sys
import time

COWTEST = ["simple", "three", "file", "forkfork", "isolation", "textwrite",
           "manyshare", "oom", "reuse", "onewrite", "nocopy", "race"]
BANNER = "OpenSBI v1.1 (fake)\n" + "".join("Platform line %d\n" % i for i in range(30))


def out(s):
    sys.stdout.write(s)
    sys.stdout.flush()


def hang():
    while True:
        time.sleep(60)


def respond(mode, cmd, tampered):
    if cmd == "cowtest":
        if mode == "slowcow":
            time.sleep(0.5)
        if tampered:
            mode = "good"
        out("cowtest: starting\n")
        for n in COWTEST:
            if mode == "badcow" and n == "three":
                out("three: child saw 2\nthree: FAILED (count 3)\n")
            else:
                out("%s: ok\n" % n)
        out("leak: %s\n" % ("FAILED (expected free pages unchanged, saw 3)"
                            if mode == "leak" else "ok"))
        out("ALL COW TESTS PASSED\n" if mode not in ("badcow", "leak")
            else "SOME COW TESTS FAILED\n")
    elif cmd == "cowcheck":
        if mode == "noexec":
            out("exec cowcheck failed\n")
            return
        if mode in ("hang", "stubborn"):
            out("cowcheck: touched 8192 pages")
            hang()
        pages = 8231 if mode == "eager" else 37
        out("cowcheck: touched 8192 pages; fork allocated %d pages; 8192 mappings shared\n" % pages)
        out("cowcheck: done\n")
    elif cmd == "cowstat":
        out("cowfaults 17\ncowcopies 5\ncowreuses 12\n")
    elif cmd == "usertests -q":
        out("usertests starting\ntest copyin: OK\n")
        if mode == "panic":
            out("test copyout: ")
            out("panic: kerneltrap\n")
            hang()
        if mode == "copyfail":
            out("copyout: expected -1 from read into text, saw 512\ntest copyout: FAILED\n"
                "usertrap: pid 9 (usertests) killed: load page fault at va 0x0, pc 0x10\n"
                "test pipebadread: OK\nSOME TESTS FAILED\n")
            return
        out("test copyout: OK\n")
        if mode == "leak":
            out("freepages: 100 free before the run, 97 after\ntest freepages: FAILED\n"
                "SOME TESTS FAILED\n")
            return
        out("test freepages: OK\nALL TESTS PASSED\n")
    else:
        out("exec %s failed\n" % cmd.split()[0])


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
        mode = f.read().strip()
    with open(drive, errors="replace") as f:
        tampered = "TAMPERED" in f.read().split("\n")
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
        cmd = raw.decode().strip()
        out(cmd + "\n")
        respond(mode, cmd, tampered)
        out("$ ")


if __name__ == "__main__":
    main(sys.argv[1:])
