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
           "manyshare", "oom", "reuse", "nocopy", "leak"]


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
        for n in COWTEST:
            out("%s: %s\n" % (n, "FAILED (count 3)" if mode == "badcow" and n == "three" else "ok"))
        out("ALL COW TESTS PASSED\n" if mode != "badcow" else "SOME COW TESTS FAILED\n")
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
        out("test copyout: OK\ntest freepages: OK\nALL TESTS PASSED\n")
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
    with open(drive) as f:
        tampered = "TAMPERED" in f.read().split("\n")
    with open(drive, "a") as f:
        f.write("written by the guest\n")
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out("OpenSBI (fake)\n\nxv6 kernel is booting\n\n")
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
