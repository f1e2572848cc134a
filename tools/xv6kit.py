"""The host tools' one toolkit (copied along with grade-cow.py): build a tree, drive its kernel
in QEMU. Every process started here runs in its own session, so ending it ends what it started.

  why, output = build(tree, ["MEM=256"])    make kernel/kernel fs.img in tree
  m, why = Machine.boot(tree, img)          boot tree's kernel on a fresh copy of its fs.img
  out, secs, why = m.run("ls", 10)          type a command, wait for the next prompt
  m.close()                                 end QEMU (kill_all() ends all started here)"""

import contextlib
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

# The Makefile's defaults, overridden by the environment as make does.
QEMU_DEFAULT = "qemu-system-riscv64"
OPENSBI_FW_DEFAULT = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
MEM_DEFAULT = 128           # MiB: QEMU's -m and the kernel's PHYSTOP, so build and boot agree
CPUS_DEFAULT = 3
QEMU_MIN = (5, 0)           # virtio-mmio force-legacy=false (modern virtio-mmio) appeared in 5.0

# The shell's prompt in the output after a mark (^ is the mark): at a line's start, or last.
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
    """path relative to the current directory if it is under it."""
    rel = os.path.relpath(path)
    return path if rel.startswith(os.pardir) else rel


def clean_env(**extra):
    """Our environment plus extra, without make's jobserver plumbing (meaningless to a make
    started in another tree)."""
    plumbing = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    return dict({k: v for k, v in os.environ.items() if k not in plumbing}, **extra)


def setting(name):
    """MEM, CPUS (numbers), QEMU or OPENSBI_FW: from the environment, else the Makefile's."""
    defaults = {"MEM": MEM_DEFAULT, "CPUS": CPUS_DEFAULT, "QEMU": QEMU_DEFAULT,
                "OPENSBI_FW": OPENSBI_FW_DEFAULT}
    value = os.environ.get(name) or defaults[name]
    if name not in ("MEM", "CPUS"):
        return value
    try:
        return int(value)
    except ValueError:
        sys.exit("%s=%s in the environment: give a number" % (name, value))


def qemu_argv(kernel, fsimg, cpus=None, mem=None, qemu=None, bios=None, extra=()):
    """QEMU's command line exactly as `make qemu` builds it (make check compares the two).
    -bios: the opensbi package's firmware when installed, else the one bundled with QEMU."""
    fw = setting("OPENSBI_FW")
    return [qemu or setting("QEMU"), "-machine", "virt",
            "-bios", bios or (fw if os.path.exists(fw) else "default"),
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
    have = m and (int(m.group(1)), int(m.group(2)))
    if have and have < QEMU_MIN:
        return "%s %d.%d is too old: need >= %d.%d (apt-get install qemu-system-misc)" % (
            (os.path.basename(qemu),) + have + QEMU_MIN)
    return None


# ---- Processes: each in its own session, all ended by kill_all() ----------------------------
_live = set()
_live_lock = threading.RLock()     # kill_all() may run in a signal handler


def spawn(argv, user=None, **kw):
    """Popen in a new session, remembered for kill_all(); as the unprivileged user id user
    (root only) if given, with no supplementary groups."""
    if user is not None:
        kw.update(user=user, group=user, extra_groups=[])
    proc = subprocess.Popen(argv, start_new_session=True, **kw)
    with _live_lock:
        _live.add(proc)
    return proc


def end_group(proc, signals=((signal.SIGTERM, 2), (signal.SIGKILL, 5))):
    """Ends a process spawn() started and all it started: each signal, then that many seconds'
    wait, until it is gone."""
    for sig, wait in signals:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
            break
    with _live_lock:
        _live.discard(proc)


def kill_all():
    """Ends every process started here that is still running."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        end_group(proc)


def end_user(uid):
    """Kills every process of the (unprivileged, grader-only) user id uid, even those that
    left their session, and waits until none is left. True if none is (root only)."""
    for _ in range(100):
        if not any(p.isdigit() and _owner(p) == uid for p in os.listdir("/proc")):
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
    with contextlib.suppress(OSError):
        return os.stat("/proc/" + pid).st_uid


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
    """make targets variables in tree (TOOLS_CHECKED: no installing); as user if given, with
    only PATH and HOME=tree. Returns (None or why it failed, the output, "" if it went to log)."""
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
    return [line for line in output.splitlines() if "warning:" in line]


# ---- Build outputs and source files ----------------------------------------------------------
# What building writes into a tree, as .gitignore lists it (make check compares them): an inner
# "/" anchors a pattern at the top, a trailing "/" means a directory. Nothing matching is copied
# into a grading directory, kept from an unpacked submission, or packed by make handin.
BUILD_OUTPUTS = ["*.o", "*.d", "*.asm", "*.sym", "user/_*", "user/usys.S", "kernel/kernel",
                 "mkfs/mkfs", "fs.img", ".gdbinit", "__pycache__/", ".build-cow",
                 ".extra-progs", "*.pyc", "fsroot/", "/handin.tar.gz"]
# >>> solution: what the staff targets write
BUILD_OUTPUTS += ["/handout/", "/bench-out/", "/autograder.zip"]
# <<< solution
NOT_SOURCE = {".git"}           # a directory, or in a git worktree a file


def is_build_output(rel, isdir=False):
    """True if rel (a "/"-separated path from the tree's top) is a build output."""
    rel = rel.strip("/")
    for pat in BUILD_OUTPUTS:
        body = pat.strip("/")
        name = rel if "/" in pat.rstrip("/") else rel.rsplit("/", 1)[-1]
        # As many "/" on both sides: no * in the pattern can match across one.
        if (isdir or not pat.endswith("/")) and name.count("/") == body.count("/") \
                and fnmatch.fnmatchcase(name, body):
            return True
    return False


def _scan(tree):
    """(source files, build outputs) under tree, paths from its top. Not entered: .git,
    symbolic links, build-output directories (listed as outputs)."""
    sources, outputs = [], []
    for d, dirs, names in os.walk(tree):
        rel = os.path.relpath(d, tree)
        rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        built = [x for x in dirs if is_build_output(rel + x, isdir=True)]
        outputs += [rel + x for x in built]
        dirs[:] = sorted(x for x in dirs if x not in built and x not in NOT_SOURCE
                         and not os.path.islink(os.path.join(d, x)))
        for n in names:
            path = os.path.join(d, n)
            if is_build_output(rel + n):
                outputs.append(rel + n)
            elif n not in NOT_SOURCE and os.path.isfile(path) and not os.path.islink(path):
                sources.append(rel + n)
    return sorted(sources), outputs


def source_files(tree):
    """The tree's regular files but build outputs, .git and symbolic links, sorted."""
    return _scan(tree)[0]


def remove_build_outputs(tree):
    """Deletes every build output under tree (an unpacked submission may carry some)."""
    for rel in _scan(tree)[1]:
        path = os.path.join(tree, rel)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def copy_sources(src, dst):
    """Copies src's source files into dst and returns them. Files of the same size and time
    are left alone, so make in dst rebuilds only what changed."""
    files = source_files(src)
    for rel in files:
        a, b = os.path.join(src, rel), os.path.join(dst, rel)
        st = os.stat(a)
        with contextlib.suppress(FileNotFoundError):
            bt = os.stat(b)
            if bt.st_size == st.st_size and int(bt.st_mtime) == int(st.st_mtime):
                continue
        os.makedirs(os.path.dirname(b), exist_ok=True)
        shutil.copy2(a, b)
    return files


# ---- QEMU: one machine and its serial console -------------------------------------------------
class MachineError(Exception):
    """Machine.expect() did not see what it waited for: why, and the end of the console."""


class Machine:
    """One QEMU and its console. A thread collects the output (to echo too, if given); callers
    wait for patterns after a mark, an offset into all of it (mark() is the current end)."""

    def __init__(self, argv, echo=None, user=None):
        self.proc = spawn(argv, user, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
        self.echo = echo
        self.text, self.flood, self.eof = "", False, False
        self.dropped = 0        # output cut from the front once it exceeded OUTPUT_CAP
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @classmethod
    def boot(cls, tree, img, timeout=BOOT_TIMEOUT, copy_of="fs.img", echo=None, user=None,
             extra=(), **qemu):
        """Boots tree's kernel (qemu: qemu_argv()'s cpus, mem, qemu, bios) on img, first a copy
        of copy_of (in tree) unless None. Returns (the Machine, None or why no prompt came)."""
        if copy_of:
            shutil.copyfile(os.path.join(tree, copy_of), img)
        m = cls(qemu_argv(os.path.join(tree, "kernel", "kernel"), img,
                          extra=["-no-reboot"] + list(extra), **qemu), echo, user)
        return m, m.wait_for(PROMPT, 0, timeout)

    def _read(self):
        while True:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
            except OSError:
                chunk = b""
            text = chunk.decode("utf-8", "replace").replace("\r", "")
            if text and self.echo:
                self.echo(text)
            with self.cond:
                self.text += text
                if len(self.text) > OUTPUT_CAP:
                    self.flood = True
                    self.dropped += len(self.text) - OUTPUT_CAP // 2
                    self.text = self.text[-(OUTPUT_CAP // 2):]
                self.eof = not chunk
                self.cond.notify_all()
            if not chunk:
                return

    def mark(self):
        with self.cond:
            return self.dropped + len(self.text)

    def since(self, mark=0):
        with self.cond:
            return self.text[max(0, mark - self.dropped):]

    def wait_for(self, pattern, mark=0, timeout=BOOT_TIMEOUT, skip=None):
        """Waits until pattern matches the output after mark. Returns None, or why not: a
        panic ("panic: " outside the text skip), a flood, QEMU's exit, the timeout."""
        deadline = time.monotonic() + timeout
        scanned = 0             # how much of the output after mark was searched last time
        panic, panic_seen = False, None
        with self.cond:
            while True:
                base = max(0, mark - self.dropped)
                # From 4 KiB before the old end (a match may span chunks): at the mark in a
                # copy, where ^ matches; later in place, so that a flood costs linear time.
                begin = base + max(0, scanned - 4096)
                if begin == base:
                    found = pattern.search(self.text[base:])
                else:
                    found = pattern.search(self.text, begin)
                if found:
                    return None
                if skip:        # may have been printed in pieces: the whole text again
                    panic = "panic: " in self.text[base:].replace(skip, "")
                else:
                    panic = panic or self.text.find("panic: ", base + max(0, scanned - 16)) >= 0
                scanned = len(self.text) - base
                now = time.monotonic()
                panic_seen = (panic_seen or now) if panic else None
                if panic and now - panic_seen > 1.0:    # the panic message had time to end
                    return "kernel panic"
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
        except OSError:         # BrokenPipeError among them
            return False

    def send(self, line):
        return self.type(line + "\n")

    def run(self, command, timeout, until=PROMPT):
        """Types command at the prompt, waits for until (the next prompt). Returns (the output
        from the echo on, seconds taken, None or why it did not end)."""
        mark, start = self.mark(), time.monotonic()
        if not self.send(command):
            return "", 0.0, "QEMU stopped reading input"
        why = self.wait_for(until, mark, timeout)
        return self.since(mark), time.monotonic() - start, why

    def close(self, signals=((signal.SIGTERM, 2), (signal.SIGKILL, 5))):
        """Ends QEMU: SIGTERM, then SIGKILL if it lingers."""
        end_group(self.proc, signals)
        self.reader.join(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                f.close()

    def kill(self):
        """Ends QEMU with SIGKILL at once: to the guest, a power cut at this instant."""
        self.close(((signal.SIGKILL, 5),))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
