"""The host side's one toolkit: building a tree and driving its kernel in QEMU. grade-cow.py,
make check and its shell session, tools/crashtest.py and every other host tool import it;
copy it (tools/xv6kit.py) along with grade-cow.py.

  build(tree, ["MEM=256"])          make kernel/kernel fs.img there: None or why it failed
  m, why = Machine.boot(tree, img)  boot tree's kernel on a fresh copy of its fs.img
  out, secs, why = m.run("ls", 10)  type a command, wait for the next prompt
  m.close()                         end QEMU (kill_all() ends every one this module started)

Every process started here runs in its own session, so ending it ends what it started.
Python 3 standard library only."""

import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

# ---- Settings: the Makefile's defaults, overridden by the environment as make does ----------
QEMU_DEFAULT = "qemu-system-riscv64"
OPENSBI_FW_DEFAULT = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
MEM_DEFAULT = 128           # MiB: QEMU's -m and the kernel's PHYSTOP, so build and boot agree
CPUS_DEFAULT = 3
QEMU_MIN = (5, 0)           # virtio-mmio force-legacy=false (modern virtio-mmio) appeared in 5.0

# The shell's prompt: at the start of a line, or last thing printed by a program that did
# not end its output with a newline. Patterns are searched in the output after a mark, so
# ^ is the mark.
PROMPT = re.compile(r"(?:^|\n)\$ |\$ \Z")
OUTPUT_CAP = 1 << 20        # console bytes per boot; more means a flood (usertests -q: ~20 KiB)
BUILD_TIMEOUT = 900
BOOT_TIMEOUT = 60


def say(line):
    """Prints one line at once, so interleaved tools' output stays in order."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def tail(text, n=20):
    """The last n lines of text."""
    return "\n".join(text.rstrip("\n").splitlines()[-n:])


def shown(path):
    """path as a person would like to read it: relative when under the current directory."""
    rel = os.path.relpath(path)
    return path if rel.startswith(os.pardir) else rel


def clean_env(**extra):
    """Our environment without make's jobserver plumbing (it means nothing to a new make
    started in another tree), plus extra."""
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(var, None)
    env.update(extra)
    return env


def setting(name):
    """A make variable the way make sees it here: from the environment, else the Makefile's
    default (MEM, CPUS, QEMU, OPENSBI_FW)."""
    defaults = {"MEM": MEM_DEFAULT, "CPUS": CPUS_DEFAULT, "QEMU": QEMU_DEFAULT,
                "OPENSBI_FW": OPENSBI_FW_DEFAULT}
    value = os.environ.get(name) or defaults[name]
    if name not in ("MEM", "CPUS"):
        return value
    try:
        return int(value)
    except ValueError:
        sys.exit("%s=%s in the environment: give a number" % (name, value))


def firmware():
    """-bios: the opensbi package's firmware when installed, else the one bundled with QEMU."""
    fw = setting("OPENSBI_FW")
    return fw if os.path.exists(fw) else "default"


def qemu_argv(kernel, fsimg, cpus=None, mem=None, qemu=None, bios=None, extra=()):
    """QEMU's command line for kernel and disk image fsimg, exactly as `make qemu` builds it
    (QEMUOPTS in the Makefile; make check compares the two): virt machine, OpenSBI as -bios,
    mem MiB, cpus harts, the serial console on stdio, the disk on modern virtio-mmio."""
    return [qemu or setting("QEMU"), "-machine", "virt", "-bios", bios or firmware(),
            "-kernel", kernel, "-m", "%dM" % (mem or setting("MEM")),
            "-smp", str(cpus or setting("CPUS")), "-nographic",
            "-global", "virtio-mmio.force-legacy=false",
            "-drive", "file=%s,if=none,format=raw,id=x0" % fsimg,
            "-device", "virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0"] + list(extra)


def qemu_version_problem(qemu):
    """One line saying why this QEMU cannot run our kernel, or None."""
    try:
        out = subprocess.run([qemu, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             timeout=30).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError):
        return "%s not found (apt-get install qemu-system-misc)" % qemu
    m = re.search(r"version (\d+)\.(\d+)", out)
    if not m:
        return None
    have = (int(m.group(1)), int(m.group(2)))
    if have < QEMU_MIN:
        return "%s %d.%d is too old: need >= %d.%d (apt-get install qemu-system-misc)" % (
            (os.path.basename(qemu),) + have + QEMU_MIN)
    return None


# ---- Processes: each in its own session, all ended by kill_all() ----------------------------
_live = set()
_live_lock = threading.RLock()     # kill_all() may run in a signal handler


def spawn(argv, user=None, **kw):
    """Popen in a new session, remembered so that kill_all() can end it; as the user id user
    (an unprivileged one, root only) if given, with no supplementary groups."""
    if user is not None:
        kw.update(user=user, group=user, extra_groups=[])
    proc = subprocess.Popen(argv, start_new_session=True, **kw)
    with _live_lock:
        _live.add(proc)
    return proc


def end_group(proc, signals=((signal.SIGTERM, 2), (signal.SIGKILL, 5))):
    """Ends a process spawn() started, and everything it started: each signal in turn until
    it is gone, waiting the given seconds after each."""
    for sig, wait in signals:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with _live_lock:
        _live.discard(proc)


def kill_all():
    """Ends every process started through this module that is still running."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        end_group(proc)


def end_user(uid):
    """Kills every process of the user id uid, including those that left their session, and
    waits until none is left. True if none is; the grader's user ids are unprivileged ones
    of its own (root only)."""
    for _ in range(100):
        pids = [p for p in os.listdir("/proc") if p.isdigit() and _owner(p) == uid]
        if not pids:
            return True
        child = os.fork()
        if child == 0:              # kill(-1) as uid: every process of uid, at once
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        time.sleep(0.05)
    return False


def _owner(pid):
    try:
        return os.stat("/proc/" + pid).st_uid
    except OSError:
        return None


def exit_on_signals():
    """SIGTERM and SIGHUP end every process we started, then this program."""
    def handler(signum, frame):
        kill_all()
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


# ---- Building a tree --------------------------------------------------------------------------
def build(tree, variables=(), targets=("kernel/kernel", "fs.img"), jobs=None, log=None,
          timeout=BUILD_TIMEOUT, user=None):
    """make TARGETS VARIABLES in tree, never asking apt-get for tools (TOOLS_CHECKED); as the
    user id user (spawn()) if given, with only PATH and HOME (the tree) in its environment.
    The output goes to the file log (a path), else is kept. Returns (None or why it failed,
    the output: "" when it went to log)."""
    argv = ["make", "-C", tree, "-j%d" % (jobs or os.cpu_count() or 1)] + list(targets) \
        + list(variables)
    out = open(log, "wb") if log else subprocess.PIPE
    env = clean_env(TOOLS_CHECKED="1") if user is None else \
        {"PATH": os.environ.get("PATH", os.defpath), "HOME": tree, "TOOLS_CHECKED": "1"}
    proc = spawn(argv, user, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                 env=env)
    try:
        text = proc.communicate(timeout=timeout)[0] or b""
        why = "build failed (make exit %d)" % proc.returncode if proc.returncode else None
    except subprocess.TimeoutExpired:
        text, why = b"", "build timed out after %.0fs" % timeout
    finally:
        end_group(proc)
        if log:
            out.close()
    missing = [t for t in targets if not os.path.exists(os.path.join(tree, t))]
    if why is None and missing:
        why = "build produced no %s" % " ".join(missing)
    return why, text.decode("utf-8", "replace")


def warnings(output):
    """The compiler's warning lines in a build's output."""
    return [line for line in output.splitlines() if "warning:" in line]


# ---- Build outputs and source files ----------------------------------------------------------
# What building and the Makefile's other targets write into a tree, in .gitignore's notation
# (.gitignore lists the same; make check compares them): a pattern without "/" matches a
# name in any directory, one with a "/" inside is a path from the top, a trailing "/" means
# a directory. Nothing matching is copied into a grading directory, kept from an unpacked
# submission, or packed by make handin.
BUILD_OUTPUTS = ["*.o", "*.d", "*.asm", "*.sym", "user/_*", "user/usys.S", "kernel/kernel",
                 "mkfs/mkfs", "fs.img", ".gdbinit", "__pycache__/", ".build-cow",
                 ".extra-progs", "*.pyc", "fsroot/", "/handin.tar.gz"]
# >>> solution: what the staff targets write
BUILD_OUTPUTS += ["/handout/", "/bench-out/", "/autograder.zip"]
# <<< solution
NOT_SOURCE = {".git"}           # a directory, or in a git worktree a file


def is_build_output(rel, isdir=False):
    """True if the path rel (relative to a tree's top, "/"-separated) is a build output."""
    parts = rel.strip("/").split("/")
    for pat in BUILD_OUTPUTS:
        if pat.endswith("/") and not isdir:
            continue
        body = pat.strip("/")
        if "/" in pat.rstrip("/"):          # anchored: the whole path, one part per part
            want = body.split("/")
            if len(want) == len(parts) and all(
                    fnmatch.fnmatchcase(p, w) for p, w in zip(parts, want)):
                return True
        elif fnmatch.fnmatchcase(parts[-1], body):
            return True
    return False


def _walk(tree):
    """(directory, its path relative to tree ending in "/" or "", dirs, names) under tree,
    skipping .git, symbolic links to directories and build-output directories."""
    for d, dirs, names in os.walk(tree):
        rel = os.path.relpath(d, tree)
        rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        skip = [x for x in dirs if x in NOT_SOURCE or os.path.islink(os.path.join(d, x))
                or is_build_output(rel + x, isdir=True)]
        dirs[:] = sorted(x for x in dirs if x not in skip)
        yield d, rel, skip, names


def source_files(tree):
    """The tree's files that are not build outputs (relative paths, sorted): regular files
    only, no .git, no symbolic links."""
    found = []
    for d, rel, _, names in _walk(tree):
        for n in names:
            path = os.path.join(d, n)
            if n not in NOT_SOURCE and not is_build_output(rel + n) and \
                    os.path.isfile(path) and not os.path.islink(path):
                found.append(rel + n)
    return sorted(found)


def copy_sources(src, dst, files=None):
    """Copies the source files of tree src into dst (made if needed), modes kept. Returns the
    relative paths copied. Files whose size and modification time match are left alone, so
    make in dst rebuilds only what changed."""
    files = source_files(src) if files is None else files
    for rel in files:
        a, b = os.path.join(src, rel), os.path.join(dst, rel)
        st = os.stat(a)
        try:
            bt = os.stat(b)
            if bt.st_size == st.st_size and int(bt.st_mtime) == int(st.st_mtime):
                continue
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(b), exist_ok=True)
        shutil.copy2(a, b)
    return files


def remove_build_outputs(tree):
    """Deletes every build output under tree (an unpacked submission may carry some)."""
    for d, rel, skipped, names in _walk(tree):
        for x in skipped:
            if is_build_output(rel + x, isdir=True):
                shutil.rmtree(os.path.join(d, x), ignore_errors=True)
        for n in names:
            if is_build_output(rel + n):
                os.unlink(os.path.join(d, n))


# ---- QEMU: one machine and its serial console -------------------------------------------------
class MachineError(Exception):
    """Machine.expect() did not see what it waited for; the message says why and shows the
    end of the console."""


class Machine:
    """One QEMU and its serial console: a reader thread collects the output (carriage returns
    dropped); callers type at the console and wait for patterns in what it printed after a
    mark, an offset into all the output so far (mark() is the current end).

      m, why = Machine.boot(tree, img)            # at the first prompt, or why not
      m.expect(PROMPT, 60)                        # raises MachineError on timeout, panic, ...
      out, seconds, why = m.run("cowtest", 300)   # types a line, waits for the next prompt
      m.close()                                   # SIGTERM, then SIGKILL; m.kill(): SIGKILL now

    echo, if given, is called with every piece of output as it arrives (a log, verbose mode)."""

    def __init__(self, argv, echo=None, user=None):
        self.proc = spawn(argv, user, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
        self.text = ""
        self.dropped = 0        # output discarded from the front when it exceeded OUTPUT_CAP
        self.flood = False
        self.eof = False
        self.echo = echo
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @classmethod
    def start(cls, kernel, fsimg, cpus=None, mem=None, qemu=None, bios=None, extra=(),
              echo=None, user=None):
        """Boots kernel on disk image fsimg (qemu_argv's arguments), as user (spawn()). A
        reset ends QEMU instead of rebooting: a kernel that resets is as finished as one
        that halts."""
        return cls(qemu_argv(kernel, fsimg, cpus, mem, qemu, bios, ["-no-reboot"] + list(extra)),
                   echo, user)

    @classmethod
    def boot(cls, tree, img, timeout=BOOT_TIMEOUT, copy_of="fs.img", **qemu):
        """Boots the kernel built in tree on the disk image img, made a fresh copy of the
        image copy_of (a path in tree, or an absolute one) unless that is None, and waits for
        the first shell prompt. Returns (the Machine, None or why no prompt came); the caller
        closes the Machine either way. qemu: start()'s keyword arguments."""
        if copy_of:
            shutil.copyfile(os.path.join(tree, copy_of), img)
        m = cls.start(os.path.join(tree, "kernel", "kernel"), img, **qemu)
        return m, m.wait_for(PROMPT, 0, timeout)

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            s = chunk.decode("utf-8", "replace").replace("\r", "")
            if self.echo:
                self.echo(s)
            with self.cond:
                self.text += s
                if len(self.text) > OUTPUT_CAP:
                    self.flood = True
                    cut = len(self.text) - OUTPUT_CAP // 2
                    self.dropped += cut
                    self.text = self.text[cut:]
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return self.dropped + len(self.text)

    def since(self, mark=0):
        with self.cond:
            return self.text[max(0, mark - self.dropped):]

    def wait_for(self, pattern, mark=0, timeout=BOOT_TIMEOUT, skip=None):
        """Waits until pattern (a compiled regular expression) matches the output after mark.
        Returns None, or why it did not: a kernel panic (the kernel's "panic: " outside the
        text skip, e.g. a file being printed), a flood of output, QEMU's exit, or the timeout."""
        deadline = time.monotonic() + timeout
        panic_seen = None
        scanned = 0             # how much of the text after mark was searched last time
        with self.cond:
            while True:
                base = max(0, mark - self.dropped)
                # Search again from before the old end: a match may straddle two chunks, and
                # a pattern may span lines (the ^P listing): 4 KiB back.
                begin = base + max(0, scanned - 4096)
                if begin == base:   # near the mark: a copy from it, where ^ matches
                    found = pattern.search(self.text[base:])
                else:               # the text itself: no copy, so a flood costs linear time
                    found = pattern.search(self.text, begin)
                if found:
                    return None
                now = time.monotonic()
                if skip:            # may have been printed in pieces: the whole text again
                    panic = "panic: " in self.text[base:].replace(skip, "")
                else:
                    panic = self.text.find("panic: ", base + max(0, scanned - 16)) >= 0
                scanned = len(self.text) - base
                if panic or (panic_seen and not skip):
                    # Give the panic message a moment to finish, then stop waiting.
                    panic_seen = panic_seen or now
                    if now - panic_seen > 1.0:
                        return "kernel panic"
                else:
                    panic_seen = None       # it was part of skip, still being printed
                if self.flood:
                    return "console flooded with more than %d MiB of output" % (OUTPUT_CAP >> 20)
                if self.eof:
                    code = self.proc.poll()
                    return "QEMU exited%s" % ("" if code is None else " with status %d" % code)
                if now >= deadline:
                    return "timeout after %.0fs" % timeout
                self.cond.wait(min(0.5, deadline - now))

    def expect(self, pattern, timeout, mark=0):
        """wait_for, raising MachineError with the end of the console when it fails."""
        why = self.wait_for(pattern, mark, timeout)
        if why:
            raise MachineError("waiting for %r: %s; last console output:\n%s"
                               % (pattern.pattern, why, tail(self.since(mark))))

    def type(self, keys):
        """Sends keys to the console as they are. False if QEMU has stopped reading them."""
        try:
            self.proc.stdin.write(keys.encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def send(self, line):
        """Types line and Enter."""
        return self.type(line + "\n")

    def run(self, command, timeout, prompt=PROMPT):
        """Types command at the shell, which must be at its prompt, and waits for the next
        one. Returns (the output from the echo of command through the prompt, seconds it
        took, None or why it did not finish)."""
        mark = self.mark()
        start = time.monotonic()
        if not self.send(command):
            return "", 0.0, "QEMU stopped reading input"
        why = self.wait_for(prompt, mark, timeout)
        return self.since(mark), time.monotonic() - start, why

    def _stop(self, signals):
        end_group(self.proc, signals)
        self.reader.join(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def close(self):
        """Ends QEMU: SIGTERM, then SIGKILL if it lingers."""
        self._stop(((signal.SIGTERM, 2), (signal.SIGKILL, 5)))

    def kill(self):
        """Ends QEMU with SIGKILL at once: to the guest, a power cut at this instant."""
        self._stop(((signal.SIGKILL, 5),))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
