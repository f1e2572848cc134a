// usertests: the kernel's regression suite (argument checking, memory, processes, files, pipes).
// Each test runs in its own forked child; the runner reports OK/FAILED and finally checks for
// leaked pages.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/stat.h"
#include "kernel/spinlock.h"
#include "kernel/sleeplock.h"
#include "kernel/fs.h"
#include "kernel/file.h"
#include "kernel/fcntl.h"
#include "kernel/riscv.h"
#include "kernel/memlayout.h"
#include "kernel/memstat.h"
#include "kernel/vmquery.h"
#include "kernel/syscall.h"
#include "kernel/elf.h"
#include "user/user.h"

#include <stdarg.h>

#define SELF        "/usertests"   // this program, for exec tests
#define BUFSZ       (24*1024)
#define MAXBAD      24             // entries in the bad-address table
#define BADMAJOR    99             // a device major number no driver has (>= NDEV)
#define BIGHEAP     (32*1024*1024) // bytes the quick memory tests allocate
#define NELEM(x)    ((int)(sizeof(x)/sizeof((x)[0])))

static char buf[BUFSZ];         // scratch; every test runs in its own child, so no sharing
static char *tname = "?";       // the running test, for failure messages
static volatile int sink;       // keeps the compiler from dropping probing loads

// A failing test explains what it expected and what it saw, then exits 1. One out-of-line
// call per check keeps this large program small.
#define FAIL(...) fail(__VA_ARGS__)
#define CHECK(c, ...) do { if(!(c)) fail(__VA_ARGS__); } while(0)

static char *
putnum(char *p, uint64 x, int base, int neg)
{
  char tmp[24];
  int n = 0;
  if(neg)
    *p++ = '-';
  do { tmp[n++] = "0123456789abcdef"[x % base]; x /= base; } while(x);
  while(n > 0)
    *p++ = tmp[--n];
  return p;
}

// Formats %d %s %p %c into one line and prints it with the test's name.
static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
  static char line[400];
  char *p = line, *end = line + sizeof line - 40, *str;
  va_list ap;
  va_start(ap, fmt);
  for(; *fmt && p < end; fmt++){
    if(*fmt != '%' || fmt[1] == 0){
      *p++ = *fmt;
      continue;
    }
    switch(*++fmt){
    case 'd': { int v = va_arg(ap, int); p = putnum(p, v < 0 ? -(uint64)v : v, 10, v < 0); break; }
    case 'p': *p++ = '0'; *p++ = 'x'; p = putnum(p, (uint64)va_arg(ap, void *), 16, 0); break;
    case 'c': *p++ = (char)va_arg(ap, int); break;
    case 's':
      for(str = va_arg(ap, char *); str && *str && p < end; )
        *p++ = *str++;
      break;
    default: *p++ = '%'; *p++ = *fmt; break;
    }
  }
  va_end(ap);
  *p = 0;
  printf("%s: %s\n", tname, line);
  exit(1);
}

// ---------------------------------------------------------------- helpers

static int
xfork(void)
{
  int pid = fork();
  CHECK(pid >= 0, "fork failed");
  return pid;
}

// fork(), but a full process table is waited out for a while: orphans of this test or an
// earlier one hold slots until init, on another hart, gets round to reaping them.
static int
patientfork(void)
{
  for(int tries = 0; tries < 50; tries++){
    int pid = fork();
    if(pid >= 0)
      return pid;
    pause(1);
  }
  return -1;
}

// Waits for the given child and returns its exit status (-1 if it was killed).
static int
waitfor(int pid)
{
  int st = 12345;
  int r = wait(&st);
  CHECK(r == pid, "wait returned %d, expected child %d", r, pid);
  return st;
}

// Runs fn(arg) in a child; returns the child's exit status.
static int
inchild(void (*fn)(uint64), uint64 arg)
{
  int pid = xfork();
  if(pid == 0){
    fn(arg);
    exit(0);
  }
  return waitfor(pid);
}

// fn(arg) must make the kernel kill the child (exit status -1).
static void
mustkill(void (*fn)(uint64), uint64 arg, char *what)
{
  int st = inchild(fn, arg);
  CHECK(st == -1, "%s %p: expected the child to be killed (status -1), saw status %d",
        what, (void*)arg, st);
}

static void touchread(uint64 a)  { sink = *(volatile char *)a; }
static void touchwrite(uint64 a) { *(volatile char *)a = 0x5a; }
static void touchexec(uint64 a)  { ((void (*)(void))a)(); }

// dst = prefix followed by the decimal digits of n.
static void
mkname(char *dst, char *prefix, int n)
{
  char tmp[12];
  int k = 0;
  while(*prefix)
    *dst++ = *prefix++;
  do { tmp[k++] = '0' + n % 10; n /= 10; } while(n > 0);
  while(k > 0)
    *dst++ = tmp[--k];
  *dst = 0;
}

static char
pat(uint i)
{
  return 'a' + (i * 7 + i / 1021) % 26;
}

// Creates (or truncates) name holding n bytes of data.
static void
mkfile(char *name, char *data, int n)
{
  int fd = open(name, O_CREATE | O_TRUNC | O_RDWR);
  CHECK(fd >= 0, "cannot create %s", name);
  CHECK(write(fd, data, n) == n, "write to %s failed", name);
  close(fd);
}

static int
fdsize(int fd)
{
  struct stat st;
  CHECK(fstat(fd, &st) == 0, "fstat(%d) failed", fd);
  return (int)st.size;
}

static uint64
freepages(void)
{
  struct memstat ms;
  CHECK(memstat(&ms) == 0, "memstat failed");
  return ms.freepages;
}

// The lowest free file descriptor (what the next open would return).
static int
lowestfd(void)
{
  int fd = dup(0);
  CHECK(fd >= 0, "dup(0) failed");
  close(fd);
  return fd;
}

// Makes the heap end on a page boundary with at least one mapped heap page below it;
// returns that boundary, the first address above the heap (unmapped).
static char *
heaptop(void)
{
  uint64 sz = (uint64)sbrk(0);
  CHECK(sbrk(PGROUNDUP(sz) - sz + PGSIZE) != SBRK_ERROR, "sbrk failed");
  return sbrk(0);
}

// Addresses no system call may read from or write to: beyond the heap, the stack guard page,
// kernel RAM, firmware, the trapframe and trampoline, at or beyond MAXVA, and wrapping values.
static int
badaddrs(uint64 *a)
{
  int n = 0;
  uint64 top = PGROUNDUP((uint64)sbrk(0));
  a[n++] = top;
  a[n++] = top + 100*PGSIZE + 17;
  a[n++] = PGROUNDDOWN(r_sp()) - PGSIZE;        // the guard page below the stack
  a[n++] = PGROUNDDOWN(r_sp()) - 16;
  a[n++] = RAMBASE;
  a[n++] = KERNBASE;
  a[n++] = KERNBASE + 0x5a5a;
  a[n++] = PHYSTOP - 8;
  a[n++] = PHYSTOP;
  a[n++] = TRAPFRAME;
  a[n++] = TRAPFRAME + 64;
  a[n++] = TRAMPOLINE;
  a[n++] = MAXVA - 1;
  a[n++] = MAXVA;
  a[n++] = MAXVA + PGSIZE;
  a[n++] = 1UL << 45;
  a[n++] = 1UL << 63;
  a[n++] = 0xfffffffffffff000UL;
  a[n++] = 0xffffffffffffffffUL;
  return n;
}

// Never called: its address is a read-only text target for copyout tests.
static void
textvictim(void)
{
  sink = 1;
}

// Reads everything left in fd (until EOF) into dst; returns the count.
static int
readall(int fd, char *dst, int max)
{
  int n = 0, r;
  while(n < max && (r = read(fd, dst + n, max - n)) > 0)
    n += r;
  return n;
}

// ---------------------------------------------------------------- system-call argument checking

// Bad source pointers: the kernel must refuse to read user memory that is not there.
static void
copyin(char *s)
{
  uint64 bad[MAXBAD];
  int n = badaddrs(bad), fd, p[2], r;

  unlink("utcopyin");
  unlink("utcopyin2");
  fd = open("utcopyin", O_CREATE | O_RDWR);
  CHECK(fd >= 0, "cannot create utcopyin");
  CHECK(pipe(p) == 0, "pipe failed");
  for(int i = 0; i < n; i++){
    char *a = (char *)bad[i];
    char *argv[] = { "usertests", "-exit", "42", 0 };
    char *argv2[] = { "usertests", a, 0 };
    CHECK((r = write(fd, a, 10)) == -1, "write(file, %p, 10) returned %d, expected -1", a, r);
    CHECK((r = write(fd, a, 2*PGSIZE)) == -1,
          "write(file, %p, 8192) returned %d, expected -1", a, r);
    CHECK((r = write(p[1], a, 10)) == -1, "write(pipe, %p, 10) returned %d, expected -1", a, r);
    CHECK(open(a, O_RDONLY) == -1, "open(%p) succeeded", a);
    CHECK(open(a, O_CREATE | O_RDWR) == -1, "open(%p, O_CREATE) succeeded", a);
    CHECK(link(a, "utcopyin2") == -1, "link(%p, utcopyin2) succeeded", a);
    CHECK(link("utcopyin", a) == -1, "link(utcopyin, %p) succeeded", a);
    CHECK(unlink(a) == -1, "unlink(%p) succeeded", a);
    CHECK(mkdir(a) == -1, "mkdir(%p) succeeded", a);
    CHECK(chdir(a) == -1, "chdir(%p) succeeded", a);
    CHECK(mknod(a, CONSOLE, 0) == -1, "mknod(%p) succeeded", a);
    CHECK(exec(a, argv) == -1, "exec(%p, argv) did not return -1", a);
    CHECK(exec(SELF, (char **)a) == -1, "exec(usertests, %p) did not return -1", a);
    CHECK(exec(SELF, argv2) == -1, "exec with argv[1] = %p did not return -1", a);
  }
  // A source that starts in the heap and runs off its end.
  char *top = heaptop();
  memset(top - PGSIZE, 'q', PGSIZE);
  CHECK((r = write(fd, top - 5, 10)) == -1,
        "write(file) crossing the heap end returned %d, expected -1", r);
  CHECK(fdsize(fd) == 0, "failed writes changed the file: size %d, expected 0", fdsize(fd));
  r = write(p[1], top - 5, 10);
  CHECK(r == -1 || r == 5, "write(pipe) crossing the heap end returned %d, expected -1", r);
  CHECK(write(p[1], "z", 1) == 1, "write(pipe, \"z\") failed");
  close(p[1]);
  int got = readall(p[0], buf, 100);
  if(r == -1)
    CHECK(got == 1 && buf[0] == 'z',
          "failed pipe writes left %d bytes in the pipe, expected only \"z\"", got);
  else
    CHECK(got == 6 && buf[5] == 'z', "pipe holds %d bytes after a short write of 5 and \"z\"", got);
  close(p[0]);
  close(fd);
  CHECK(open("utcopyin2", O_RDONLY) == -1, "a failed link created utcopyin2");
  CHECK(unlink("utcopyin") == 0, "unlink utcopyin failed");
}

// Bad destination pointers: read, fstat, pipe, wait, memstat must fail and change nothing.
static void
copyout(char *s)
{
  uint64 bad[MAXBAD];
  int n, fd, p[2], r, low;
  char *text = (char *)(uint64)textvictim;
  static const char ro[] = "read-only data";
  char saved[16];

  for(int i = 0; i < 100; i++)
    buf[i] = pat(i);
  mkfile("utcopyout", buf, 100);
  fd = open("utcopyout", O_RDONLY);
  CHECK(fd >= 0, "cannot open utcopyout");
  CHECK(pipe(p) == 0, "pipe failed");
  CHECK(write(p[1], "0123456789", 10) == 10, "pipe write failed");
  low = lowestfd();
  n = badaddrs(bad);
  bad[n++] = (uint64)text;                // text and rodata are mapped but not writable
  bad[n++] = (uint64)ro;
  memmove(saved, text, sizeof saved);
  for(int i = 0; i < n; i++){
    char *a = (char *)bad[i];
    CHECK((r = read(fd, a, 10)) == -1, "read(file, %p, 10) returned %d, expected -1", a, r);
    CHECK((r = read(fd, a, 200)) == -1, "read(file, %p, 200) returned %d, expected -1", a, r);
    CHECK((r = read(p[0], a, 10)) == -1, "read(pipe, %p, 10) returned %d, expected -1", a, r);
    CHECK(fstat(fd, (struct stat *)a) == -1, "fstat(fd, %p) succeeded", a);
    CHECK(memstat((struct memstat *)a) == -1, "memstat(%p) succeeded", a);
    CHECK(pipe((int *)a) == -1, "pipe(%p) succeeded", a);
    CHECK(lowestfd() == low, "pipe(%p) leaked file descriptors", a);
    int pid = xfork();
    if(pid == 0)
      exit(3);
    CHECK((r = wait((int *)a)) == -1, "wait(%p) returned %d, expected -1", a, r);
    int st = 0;
    r = wait(&st);
    CHECK(r == -1 || (r == pid && st == 3),
          "after wait(%p) failed, wait returned %d status %d", a, r, st);
    CHECK(wait(0) == -1, "wait found an unexpected child");
  }
  CHECK(memcmp(saved, text, sizeof saved) == 0, "a failed read changed the program text");
  CHECK(strcmp(ro, "read-only data") == 0, "a failed read changed read-only data");
  char *top = heaptop();
  CHECK((r = read(fd, top - 5, 10)) == -1,
        "read(file) crossing the heap end returned %d, expected -1", r);
  memset(buf, 0, 200);
  CHECK((r = read(fd, buf, 200)) == 100,
        "read after failed reads returned %d, expected 100 (offset moved?)", r);
  for(int i = 0; i < 100; i++)
    CHECK(buf[i] == pat(i), "file data wrong at %d after failed reads", i);
  CHECK((r = read(p[0], buf, 10)) == 10 && memcmp(buf, "0123456789", 10) == 0,
        "failed pipe reads consumed data: read %d bytes", r);
  close(fd);
  close(p[0]);
  close(p[1]);
  unlink("utcopyout");
}

// Path strings that run into unmapped memory, or are longer than MAXPATH, must be refused.
static void
copyinstr(char *s)
{
  static int offs[] = { 1, 2, 5, DIRSIZ, DIRSIZ+1, 64, MAXPATH-1, MAXPATH, MAXPATH+1, 300, PGSIZE };
  char *top = heaptop();
  char name[DIRSIZ+2];
  int r;

  unlink("utcis");
  mkfile("utcis", "x", 1);
  memset(top - PGSIZE, 'a', PGSIZE);            // no NUL anywhere before the unmapped page
  for(int i = 0; i < NELEM(offs); i++){
    char *p = top - offs[i];
    char *argv[] = { "usertests", "-exit", "42", 0 };
    char *argv2[] = { "usertests", p, 0 };
    CHECK((r = open(p, O_CREATE | O_RDWR)) == -1,
          "open of a %d-byte unterminated path returned %d", offs[i], r);
    CHECK(open(p, O_RDONLY) == -1, "open(O_RDONLY) of an unterminated path succeeded");
    CHECK(mkdir(p) == -1, "mkdir of a %d-byte unterminated path succeeded", offs[i]);
    CHECK(unlink(p) == -1, "unlink of an unterminated path succeeded");
    CHECK(chdir(p) == -1, "chdir of an unterminated path succeeded");
    CHECK(link("utcis", p) == -1, "link to an unterminated path succeeded");
    CHECK(link(p, "utcis2") == -1, "link from an unterminated path succeeded");
    CHECK(mknod(p, CONSOLE, 0) == -1, "mknod of an unterminated path succeeded");
    CHECK(exec(p, argv) == -1, "exec of an unterminated path did not fail");
    CHECK(exec(SELF, argv2) == -1, "exec with an unterminated argument did not fail");
  }
  for(int k = 1; k <= DIRSIZ + 1; k++){     // none of the prefixes may have been created
    memset(name, 'a', k);
    name[k] = 0;
    CHECK(open(name, O_RDONLY) == -1, "a failed call created a file named %s", name);
  }
  // Terminated, but longer than MAXPATH.
  memset(buf, 'b', 300);
  buf[300] = 0;
  CHECK(open(buf, O_CREATE | O_RDWR) == -1, "open of a 300-byte path succeeded");
  CHECK(mkdir(buf) == -1, "mkdir of a 300-byte path succeeded");
  CHECK(link("utcis", buf) == -1, "link to a 300-byte path succeeded");
  CHECK(open("utcis2", O_RDONLY) == -1, "a failed link created utcis2");
  CHECK(unlink("utcis") == 0, "unlink utcis failed");
}

// Paths just under MAXPATH work; the limit is a clean error, not a crash.
static void
pathlong(char *s)
{
  char path[MAXPATH + 8];
  int n = 0, fd;

  unlink("utlp");
  while(n + 2 + 4 < MAXPATH - 1){           // "./" repeated, then the name, stays under MAXPATH
    path[n++] = '.';
    path[n++] = '/';
  }
  strcpy(path + n, "utlp");
  CHECK(strlen(path) < MAXPATH, "internal: path too long");
  fd = open(path, O_CREATE | O_RDWR);
  CHECK(fd >= 0, "open of a %d-byte path failed", strlen(path));
  close(fd);
  CHECK((fd = open("utlp", O_RDONLY)) >= 0, "the file made through a long path is missing");
  close(fd);
  // the same idea with a 2*MAXPATH path must be refused
  memset(buf, 0, 3*MAXPATH);
  for(n = 0; n < 2*MAXPATH; n += 2){
    buf[n] = '.';
    buf[n+1] = '/';
  }
  strcpy(buf + n, "utlp");
  CHECK(open(buf, O_RDONLY) == -1, "open of a %d-byte path succeeded", strlen(buf));
  CHECK(unlink(buf) == -1, "unlink of a %d-byte path succeeded", strlen(buf));
  CHECK(unlink("utlp") == 0, "unlink utlp failed");
}

// Negative and huge counts to read and write.
static void
rwsizes(char *s)
{
  int fd, p[2], r;
  char *top;

  unlink("utsz");
  for(int i = 0; i < 10; i++)
    buf[i] = '0' + i;
  mkfile("utsz", buf, 10);
  fd = open("utsz", O_RDWR);
  CHECK(fd >= 0, "cannot open utsz");
  CHECK((r = read(fd, buf, -1)) == -1, "read(file, buf, -1) returned %d, expected -1", r);
  CHECK((r = read(fd, buf, -PGSIZE)) == -1, "read(file, buf, -4096) returned %d, expected -1", r);
  CHECK((r = write(fd, buf, -1)) == -1, "write(file, buf, -1) returned %d, expected -1", r);
  CHECK((r = write(fd, buf, 0x80000000)) == -1,
        "write(file, buf, INT_MIN) returned %d, expected -1", r);
  CHECK(fdsize(fd) == 10, "bad writes changed the size to %d", fdsize(fd));
  CHECK((r = read(fd, buf, 0x7fffffff)) == 10,
        "read(file, buf, INT_MAX) of a 10-byte file returned %d", r);
  CHECK(buf[9] == '9', "read with a huge count returned wrong data");
  close(fd);
  // a huge count from a small buffer runs into unmapped memory: an error, never success
  fd = open("utsz", O_RDWR);
  top = heaptop();
  r = write(fd, top - PGSIZE, 0x7fffffff);
  CHECK(r != 0x7fffffff, "write of INT_MAX bytes claimed success");
  CHECK(fdsize(fd) <= MAXFILE*BSIZE, "file grew beyond MAXFILE");
  close(fd);
  fd = open("utsz", O_RDONLY);
  CHECK((r = read(fd, top - 5, 0x7fffffff)) == -1,
        "read(file, heap end - 5, INT_MAX) returned %d, expected -1", r);
  close(fd);
  CHECK(pipe(p) == 0, "pipe failed");
  CHECK(write(p[1], "abc", 3) == 3, "pipe write failed");
  CHECK((r = read(p[0], buf, -1)) == -1, "read(pipe, buf, -1) returned %d, expected -1", r);
  CHECK((r = write(p[1], buf, -1)) == -1, "write(pipe, buf, -1) returned %d, expected -1", r);
  CHECK((r = read(p[0], buf, 0x7fffffff)) == 3,
        "read(pipe, buf, INT_MAX) returned %d, expected 3", r);
  CHECK(write(p[1], buf, 0) == 0, "write of 0 bytes failed");
  close(p[0]);
  close(p[1]);
  unlink("utsz");
}

// Every system call taking a file descriptor must reject ones that are not open.
static void
badfd(char *s)
{
  int fds[] = { -1, -1000, NOFILE, NOFILE + 1, 100, 1 << 30, 0x7fffffff };
  int closed = lowestfd();
  struct stat st;

  for(int i = 0; i <= NELEM(fds); i++){
    int fd = i < NELEM(fds) ? fds[i] : closed;
    CHECK(read(fd, buf, 1) == -1, "read(%d) succeeded", fd);
    CHECK(write(fd, buf, 1) == -1, "write(%d) succeeded", fd);
    CHECK(close(fd) == -1, "close(%d) succeeded", fd);
    CHECK(fstat(fd, &st) == -1, "fstat(%d) succeeded", fd);
    CHECK(dup(fd) == -1, "dup(%d) succeeded", fd);
  }
  int fd = dup(1);
  CHECK(fd == closed, "dup returned %d, expected the lowest free fd %d", fd, closed);
  CHECK(close(fd) == 0, "close failed");
  CHECK(close(fd) == -1, "closing a closed fd succeeded");
}

// sbrk requests that cannot be met fail with (char*)-1 and leave the size alone; a shrink
// past address 0 is no change at all and returns the size.
static void
sbrkbad(char *s)
{
  char *old = sbrk(0), *r;
  struct memstat m;

  CHECK(memstat(&m) == 0, "memstat failed");
  int all = (int)((m.totalpages + 1) * PGSIZE);   // more than the machine has (MEM <= 2048)
  CHECK((r = sbrk(all)) == SBRK_ERROR, "sbrk(%d), more than all memory, returned %p", all, r);
  CHECK(sbrk(0) == old, "a failed sbrk changed the size");
  CHECK((r = sbrk(0x7fffffff)) == SBRK_ERROR, "sbrk(INT_MAX) returned %p", r);
  CHECK(sbrk(0) == old, "a failed sbrk changed the size");
  CHECK((r = sbrk(-0x7fffffff)) == old, "sbrk(-INT_MAX) returned %p, expected the size %p", r, old);
  CHECK(sbrk(0) == old, "sbrk(-INT_MAX) changed the size");
  CHECK((r = sbrk(-(int)(uint64)old - PGSIZE)) == old, "sbrk below address 0 returned %p", r);
  CHECK(sbrk(0) == old, "sbrk below address 0 changed the size");
  CHECK((r = sys_sbrk(PGSIZE, 0)) == SBRK_ERROR || r == old,
        "sys_sbrk with a bad mode returned %p", r);
  sbrk(old - sbrk(0));
  CHECK(sbrk(0) == old, "could not restore the size");
  // the process still works after all that
  r = sbrk(PGSIZE);
  CHECK(r == old, "sbrk(4096) returned %p, expected %p", r, old);
  r[PGSIZE-1] = 1;
}

// exec argument limits: too many, too long, too much for the stack, unterminated argv.
static void
execargs(char *s)
{
  char *argv[MAXARG + 4];
  int r;

  argv[0] = "usertests";
  argv[1] = "-exit";
  argv[2] = "42";
  for(int i = 3; i < MAXARG + 2; i++)
    argv[i] = "x";
  argv[MAXARG + 2] = 0;                      // MAXARG+2 arguments
  CHECK((r = exec(SELF, argv)) == -1, "exec with %d arguments returned %d", MAXARG + 2, r);
  char *big = malloc(2*PGSIZE);
  CHECK(big != 0, "malloc failed");
  memset(big, 'y', 2*PGSIZE - 1);
  big[2*PGSIZE - 1] = 0;
  argv[3] = big;                             // one argument longer than a page
  argv[4] = 0;
  CHECK((r = exec(SELF, argv)) == -1, "exec with an 8 KiB argument returned %d", r);
  // 12 arguments of 1000 bytes overflow the one-page stack
  big[1000] = 0;
  for(int i = 3; i < 15; i++)
    argv[i] = big;
  argv[15] = 0;
  CHECK((r = exec(SELF, argv)) == -1, "exec with 12 KiB of arguments returned %d", r);
  // argv itself runs off the end of the heap with no terminating null
  char *top = heaptop();
  char **av = (char **)(top - 4 * sizeof(char *));
  for(int i = 0; i < 4; i++)
    av[i] = "usertests";
  CHECK((r = exec(SELF, av)) == -1, "exec with an unterminated argv returned %d", r);
  av = (char **)(top - sizeof(char *));
  av[0] = "usertests";
  CHECK((r = exec(SELF, av)) == -1, "exec with an unterminated argv returned %d", r);
}

// exec of things that are not (valid) programs fails and leaves the caller running.
static void
execbad(char *s)
{
  static int cuts[] = { 3, 40, 64, 100, 200, 1000, 5000 };
  char *argv[] = { "usertests", "-exit", "42", 0 };
  int fd, n, r;

  mkfile("utnotelf", "#!/bin/sh\necho not a program\n", 30);
  CHECK((r = exec("utnotelf", argv)) == -1, "exec of a text file returned %d", r);
  CHECK((r = exec("/", argv)) == -1, "exec of a directory returned %d", r);
  CHECK((r = exec("utmissing", argv)) == -1, "exec of a missing file returned %d", r);
  CHECK((r = exec("", argv)) == -1, "exec of an empty path returned %d", r);
  unlink("utnotelf");
  fd = open(SELF, O_RDONLY);
  CHECK(fd >= 0, "cannot open %s", SELF);
  n = read(fd, buf, 8192);
  CHECK(n == 8192, "cannot read the start of %s", SELF);
  close(fd);
  for(int i = 0; i < NELEM(cuts); i++){
    mkfile("uttrunc", buf, cuts[i]);
    CHECK((r = exec("uttrunc", argv)) == -1,
          "exec of the first %d bytes of usertests returned %d", cuts[i], r);
  }
  unlink("uttrunc");
  CHECK((r = exec(SELF, (char **)KERNBASE)) == -1, "exec with argv = KERNBASE returned %d", r);
}

// A hand-made executable: one R+X segment holding the headers and code that exits with 42.
struct evilelf {
  struct elfhdr eh;
  struct proghdr ph;
  uint code[4];
};

#define RV_ADDI(rd, rs1, imm) ((((uint)(imm) & 0xfff) << 20) | ((rs1) << 15) | ((rd) << 7) | 0x13)
#define RV_ECALL 0x00000073
#define RV_JSELF 0x0000006f                // jal x0, 0: spin if exit ever returned
#define REG_A0 10
#define REG_A7 17

static void
evilimage(struct evilelf *e)
{
  memset(e, 0, sizeof *e);
  memmove(e->eh.e_ident, ELFMAG, SELFMAG);
  e->eh.e_ident[EI_CLASS] = ELFCLASS64;
  e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
  e->eh.e_ident[EI_VERSION] = EV_CURRENT;
  e->eh.e_type = ET_EXEC;
  e->eh.e_machine = EM_RISCV;
  e->eh.e_version = EV_CURRENT;
  e->eh.e_entry = sizeof(struct elfhdr) + sizeof(struct proghdr);
  e->eh.e_phoff = sizeof(struct elfhdr);
  e->eh.e_ehsize = sizeof(struct elfhdr);
  e->eh.e_phentsize = sizeof(struct proghdr);
  e->eh.e_phnum = 1;
  e->ph.p_type = PT_LOAD;
  e->ph.p_flags = PF_R | PF_X;
  e->ph.p_offset = 0;
  e->ph.p_vaddr = 0;
  e->ph.p_filesz = sizeof *e;
  e->ph.p_memsz = sizeof *e;
  e->ph.p_align = PGSIZE;
  e->code[0] = RV_ADDI(REG_A0, 0, 42);
  e->code[1] = RV_ADDI(REG_A7, 0, SYS_exit);
  e->code[2] = RV_ECALL;
  e->code[3] = RV_JSELF;
}

// Writes image e to utevil and execs it in a child; returns the child's exit status
// (42 if the image ran, 0 if exec returned -1 as it should for a bad image).
static int
runevil(struct evilelf *e)
{
  char *argv[] = { "utevil", 0 };
  mkfile("utevil", (char *)e, sizeof *e);
  int pid = xfork();
  if(pid == 0){
    exec("utevil", argv);
    exit(0);
  }
  return waitfor(pid);
}

// Executables with lying headers must be refused, not crash or hang the kernel.
static void
execevil(char *s)
{
  struct evilelf e;
  int st;

  evilimage(&e);
  CHECK((st = runevil(&e)) == 42,
        "the well-formed hand-made ELF did not run (status %d, expected 42)", st);
  for(int v = 0; v < 11; v++){
    evilimage(&e);
    switch(v){
    case 0: e.ph.p_memsz = e.ph.p_filesz - 1; break;                      // memsz < filesz
    case 1: e.ph.p_vaddr = 0xfffffffffffff000UL; e.ph.p_memsz = 3*PGSIZE; break; // wraps around
    case 2: e.ph.p_vaddr = TRAPFRAME; e.ph.p_memsz = PGSIZE; break;       // over the trapframe
    case 3: e.ph.p_vaddr = MAXVA; e.ph.p_memsz = PGSIZE; break;           // beyond MAXVA
    case 4: e.eh.e_phnum = 1000; break;                                   // headers past EOF
    case 5: e.ph.p_offset = 1 << 20; break;                               // data past EOF
    case 6: e.eh.e_phoff = 0xfffffffffffffff0UL; break;                   // header offset wraps
    case 7: e.ph.p_filesz = e.ph.p_memsz = 0xffffffffUL; break;           // far more than the file
    case 8: e.eh.e_ident[0] ^= 1; break;                                  // not ELF at all
    case 9: e.eh.e_ident[EI_CLASS] = 1; break;                            // a 32-bit object
    case 10: e.eh.e_machine = 62; break;                                  // for x86-64
    }
    CHECK((st = runevil(&e)) == 0,
          "bad ELF variant %d: exec did not fail (child status %d)", v, st);
  }
  unlink("utevil");
}

// The hidden mode "usertests -argcheck ..." checks what exec delivered (see main).
static void
execok(char *s)
{
  char *argv[MAXARG];
  char names[20][8];
  int n = 0, st;

  argv[n++] = "usertests";
  argv[n++] = "-argcheck";
  for(int i = 0; i < 20; i++){
    mkname(names[i], "arg", i);
    argv[n++] = names[i];
  }
  argv[n] = 0;
  int pid = xfork();
  if(pid == 0){
    exec(SELF, argv);
    printf("%s: exec %s failed\n", s, SELF);
    exit(77);
  }
  st = waitfor(pid);
  CHECK(st == n, "exec'd child reported %d, expected argc %d", st, n);
  char *argv2[] = { "usertests", "-exit", "-7", 0 };
  pid = xfork();
  if(pid == 0){
    exec(SELF, argv2);
    exit(77);
  }
  CHECK((st = waitfor(pid)) == -7, "exec'd child exited with %d, expected -7", st);
}

// Runs in a freshly exec'd usertests: verifies argv and the initial stack, returns argc.
static int
argcheck(int argc, char **argv)
{
  char want[8];
  if(r_sp() % 16 != 0)
    return 99;
  if(argv[argc] != 0)
    return 98;
  for(int i = 2; i < argc; i++){
    mkname(want, "arg", i - 2);
    if(strcmp(argv[i], want) != 0)
      return 100 + i;
  }
  return argc;
}

// ---------------------------------------------------------------- memory

// sbrk grows, shrinks, and hands out zeroed memory, including memory given back and regrown.
static void
sbrkbasic(char *s)
{
  char *a = sbrk(0), *p;
  int n = 10*PGSIZE;

  CHECK((p = sbrk(n)) == a, "sbrk(%d) returned %p, expected %p", n, p, a);
  for(int i = 0; i < n; i++)
    CHECK(p[i] == 0, "new heap memory not zero at offset %d", i);
  for(int i = 0; i < n; i++)
    p[i] = pat(i);
  for(int i = 0; i < n; i++)
    CHECK(p[i] == pat(i), "heap memory changed at offset %d", i);
  CHECK(sbrk(-n/2) == a + n, "shrinking sbrk returned the wrong old end");
  CHECK(sbrk(0) == a + n/2, "sbrk(0) wrong after shrinking");
  CHECK(sbrk(n/2) == a + n/2, "regrowing sbrk returned the wrong old end");
  for(int i = n/2; i < n; i++)
    CHECK(p[i] == 0, "regrown heap memory not zero at offset %d", i);
  for(int i = 0; i < 2*PGSIZE + 7; i++){   // one byte at a time, across page boundaries
    char *q = sbrk(1);
    CHECK(q == a + n + i, "sbrk(1) returned %p, expected %p", q, a + n + i);
    *q = 1;
  }
  CHECK(sbrk(-(2*PGSIZE + 7)) == a + n + 2*PGSIZE + 7, "sbrk(-k) wrong");
  CHECK(sbrk(0) == a + n, "sbrk(0) wrong after shrinking bytewise");
}

// A larger heap, every page written and checked; given back completely afterwards.
static void
sbrkmuch(char *s)
{
  uint64 before = freepages();
  char *a = sbrk(BIGHEAP);
  CHECK(a != SBRK_ERROR, "sbrk(%d) failed", BIGHEAP);
  for(int i = 0; i < BIGHEAP; i += PGSIZE)
    a[i] = (char)(i / PGSIZE);
  a[BIGHEAP - 1] = 99;
  for(int i = 0; i < BIGHEAP; i += PGSIZE)
    CHECK(a[i] == (char)(i / PGSIZE), "heap page %d lost its contents", i / PGSIZE);
  CHECK(sbrk(-BIGHEAP) == a + BIGHEAP, "shrinking sbrk failed");
  uint64 after = freepages();
  // page-table pages may stay until exit: one per 2 MiB of heap, plus a few
  int slack = BIGHEAP / (2*1024*1024) + 4;
  CHECK(after + slack >= before, "shrinking the heap did not free its pages: %d before, %d after",
        (int)before, (int)after);
}

// Memory handed back by sbrk is really gone: touching it kills.
static void
sbrkneg(char *s)
{
  char *a = sbrk(4*PGSIZE);
  CHECK(a != SBRK_ERROR, "sbrk failed");
  a[0] = a[3*PGSIZE] = 1;
  CHECK(sbrk(-4*PGSIZE) != SBRK_ERROR, "sbrk(-16384) failed");
  mustkill(touchread, (uint64)a + 3*PGSIZE, "read of memory released by sbrk");
  mustkill(touchwrite, (uint64)a + 3*PGSIZE, "write of memory released by sbrk");
  char *l = sbrklazy(8*PGSIZE);
  CHECK(l != SBRK_ERROR, "sbrklazy failed");
  l[PGSIZE] = 1;
  CHECK(sbrk(-8*PGSIZE) != SBRK_ERROR, "shrinking a lazy region failed");
  mustkill(touchread, (uint64)l + 6*PGSIZE, "read of a released lazy page");
  mustkill(touchwrite, PGROUNDUP((uint64)l) + PGSIZE, "write of a released lazy page");
}

// The last heap byte is usable; the first byte above the heap is not.
static void
sbrklast(char *s)
{
  char *top = heaptop();
  top[-1] = 7;
  CHECK(top[-1] == 7, "last heap byte not writable");
  mustkill(touchread, (uint64)top, "read just above the heap");
  mustkill(touchwrite, (uint64)top + 1, "write just above the heap");
}

// Heap memory works as system call buffers.
static void
sbrkarg(char *s)
{
  char *a = sbrk(2*PGSIZE);
  int fd, *p;

  CHECK(a != SBRK_ERROR, "sbrk failed");
  memset(a, 'h', PGSIZE);
  unlink("utsbrkarg");
  fd = open("utsbrkarg", O_CREATE | O_RDWR);
  CHECK(fd >= 0, "cannot create utsbrkarg");
  CHECK(write(fd, a, PGSIZE) == PGSIZE, "write from sbrk'd memory failed");
  close(fd);
  fd = open("utsbrkarg", O_RDONLY);
  CHECK(read(fd, a + PGSIZE, PGSIZE) == PGSIZE, "read into sbrk'd memory failed");
  CHECK(a[2*PGSIZE - 1] == 'h', "read into sbrk'd memory got wrong data");
  close(fd);
  p = (int *)(a + PGSIZE - 4);                   // the int pair straddles two heap pages
  CHECK(pipe(p) == 0, "pipe() into sbrk'd memory failed");
  close(p[0]);
  close(p[1]);
  unlink("utsbrkarg");
}

// A lazy region costs nothing until touched; touched pages cost one page each (plus page tables).
static void
sbrklazy1(char *s)
{
  int n = 64*1024*1024;
  uint64 f0 = freepages();
  char *p = sbrklazy(n);
  CHECK(p != SBRK_ERROR, "sbrklazy(64 MiB) failed");
  CHECK(sbrk(0) == p + n, "sbrklazy did not raise the size");
  uint64 f1 = freepages();
  CHECK(f0 - f1 < 4, "sbrklazy(64 MiB) allocated %d pages up front", (int)(f0 - f1));
  int offs[] = { 0, 16*1024*1024, 32*1024*1024 + 5, n - 1 };
  for(int i = 0; i < NELEM(offs); i++)
    p[offs[i]] = 'A' + i;
  uint64 f2 = freepages();
  int used = f1 - f2;
  CHECK(used >= NELEM(offs) && used <= 3*NELEM(offs) + 2,
        "touching %d lazy pages consumed %d pages", NELEM(offs), used);
  for(int i = 0; i < NELEM(offs); i++)
    CHECK(p[offs[i]] == 'A' + i, "lazy page %d lost its value", i);
  CHECK(p[8*1024*1024] == 0, "untouched lazy memory not zero");
  CHECK(sbrk(-n) == p + n, "shrinking the lazy region failed");
  uint64 f3 = freepages();
  CHECK(f3 + 3*NELEM(offs) + 2 >= f0,
        "shrinking the lazy region freed too little: %d before, %d after", (int)f0, (int)f3);
}

// System calls may read from and write into lazy pages nobody has touched yet.
static void
lazyio(char *s)
{
  char *p = sbrklazy(16*PGSIZE);
  int fd, pp[2], r;

  CHECK(p != SBRK_ERROR, "sbrklazy failed");
  for(int i = 0; i < 3*PGSIZE; i++)
    buf[i] = pat(i);
  unlink("utlazy");
  mkfile("utlazy", buf, 3*PGSIZE);
  fd = open("utlazy", O_RDONLY);
  CHECK((r = read(fd, p + PGSIZE + 100, 3*PGSIZE)) == 3*PGSIZE,
        "read into untouched lazy pages returned %d", r);
  for(int i = 0; i < 3*PGSIZE; i++)
    CHECK(p[PGSIZE + 100 + i] == pat(i), "lazy read data wrong at %d", i);
  close(fd);
  fd = open("utlazy", O_RDWR | O_TRUNC);
  CHECK((r = write(fd, p + 8*PGSIZE, PGSIZE)) == PGSIZE,
        "write from an untouched lazy page returned %d", r);
  close(fd);
  fd = open("utlazy", O_RDONLY);
  CHECK(read(fd, buf, PGSIZE) == PGSIZE, "read back failed");
  for(int i = 0; i < PGSIZE; i++)
    CHECK(buf[i] == 0, "an untouched lazy page did not read as zeros");
  CHECK(fstat(fd, (struct stat *)(p + 9*PGSIZE)) == 0, "fstat into a lazy page failed");
  close(fd);
  CHECK(memstat((struct memstat *)(p + 10*PGSIZE)) == 0, "memstat into a lazy page failed");
  CHECK(pipe((int *)(p + 11*PGSIZE)) == 0, "pipe() into a lazy page failed");
  int *lp = (int *)(p + 11*PGSIZE);
  pp[0] = lp[0];
  pp[1] = lp[1];
  CHECK(write(pp[1], "lazy", 4) == 4, "pipe write failed");
  CHECK(read(pp[0], p + 12*PGSIZE + 10, 4) == 4, "pipe read into a lazy page failed");
  CHECK(memcmp(p + 12*PGSIZE + 10, "lazy", 4) == 0, "pipe read into a lazy page got wrong data");
  close(pp[0]);
  close(pp[1]);
  int pid = xfork();
  if(pid == 0)
    exit(5);
  CHECK(wait((int *)(p + 13*PGSIZE)) == pid, "wait into a lazy page failed");
  CHECK(*(int *)(p + 13*PGSIZE) == 5, "wait into a lazy page stored the wrong status");
  unlink("utlazy");
}

// Addresses above the lazy region's end are not part of it: system calls fail, touches kill.
static void
lazybounds(char *s)
{
  char *p = sbrklazy(4*PGSIZE);
  int fd, r;

  CHECK(p != SBRK_ERROR, "sbrklazy failed");
  char *end = sbrk(0);
  char *beyond = (char *)PGROUNDUP((uint64)end) + PGSIZE;
  unlink("utlazyb");
  mkfile("utlazyb", "0123456789", 10);
  fd = open("utlazyb", O_RDONLY);
  CHECK((r = read(fd, beyond, 10)) == -1, "read beyond the lazy region returned %d", r);
  close(fd);
  mustkill(touchwrite, (uint64)beyond, "write above a lazy region");
  mustkill(touchread, (uint64)beyond + 50*PGSIZE, "read above a lazy region");
  unlink("utlazyb");
}

// A lazy region survives fork: touched pages are copied, untouched ones stay zero on both sides.
static void
lazyfork(char *s)
{
  int n = 100*PGSIZE;
  char *p = sbrklazy(n);
  CHECK(p != SBRK_ERROR, "sbrklazy failed");
  p[0] = 'p';
  p[50*PGSIZE] = 'q';
  int pid = xfork();
  if(pid == 0){
    CHECK(p[0] == 'p' && p[50*PGSIZE] == 'q', "the child does not see the parent's lazy pages");
    CHECK(p[10*PGSIZE] == 0 && p[n-1] == 0, "the child sees garbage in untouched lazy pages");
    p[0] = 'c';
    p[10*PGSIZE] = 'c';
    p[n-1] = 'c';
    exit(0);
  }
  CHECK(waitfor(pid) == 0, "the child failed");
  CHECK(p[0] == 'p' && p[50*PGSIZE] == 'q', "the child's writes reached the parent");
  CHECK(p[10*PGSIZE] == 0 && p[n-1] == 0, "the child's writes to lazy pages reached the parent");
  for(int i = 0; i < n; i += PGSIZE)
    p[i] = 1;
}

static void
lowstack(uint64 unused)
{
  touchread(PGROUNDDOWN(r_sp()) - PGSIZE + 8);
}

static void
lowstackwrite(uint64 unused)
{
  touchwrite(PGROUNDDOWN(r_sp()) - 1);
}

static int
recurse(int n)
{
  volatile char frame[512];
  frame[0] = n;
  if(n == 0)
    return frame[0];
  return recurse(n - 1) + frame[0];
}

static void
overflow(uint64 depth)
{
  sink = recurse((int)depth);
}

// The page below the one-page stack is a guard: touching it kills instead of corrupting data.
static void
stackguard(char *s)
{
  mustkill(lowstack, 0, "read of the stack guard page");
  mustkill(lowstackwrite, 0, "write of the stack guard page");
  mustkill(overflow, 100, "stack overflow by recursion");
  CHECK(inchild(overflow, 2) == 0, "shallow recursion failed");
}

// Text and read-only data are not writable.
static void
textwrite(char *s)
{
  static const char ro[] = "constant";
  mustkill(touchwrite, (uint64)textvictim, "write to text");
  mustkill(touchwrite, 0, "write to address 0 (text)");
  mustkill(touchwrite, (uint64)ro, "write to rodata");
}

// ---- copyout into copy-on-write pages: the kernel's own stores take the fault path too.
// On an eager-fork kernel nothing is shared, and these tests check the same results.

static struct vmpage vmq1(uint64 va);   // with the vmquery() tests below
static int allbytes(char *p, int n, char c);

// Two eagerly allocated heap pages, page-aligned, followed by one lazy (untouched) page.
static char *
twopageslazy(void)
{
  uint64 sz = (uint64)sbrk(0);
  CHECK(sbrk(PGROUNDUP(sz) - sz + 2*PGSIZE) != SBRK_ERROR, "sbrk failed");
  CHECK(sbrklazy(PGSIZE) != SBRK_ERROR, "sbrklazy failed");
  return (char *)PGROUNDUP(sz);
}

// read() from a pipe into a page this process shares after fork: while the child still
// maps it (count 2: the kernel must copy it) and after the child exited (count 1: the
// kernel gives the page back as it is), the second read running on into a lazy page.
// The data arrives, and the other process never sees it. Whether this kernel shares at
// all shows in the first page's count after fork (2 shared, 1 copied by an eager fork).
static void
copyoutcow(char *s)
{
  int p[2], go[2];
  char *a = twopageslazy(), *b = a + PGSIZE, *lazy = b + PGSIZE;
  char c = 0;

  memset(a, 'A', 2*PGSIZE);
  CHECK(pipe(p) == 0 && pipe(go) == 0, "pipe failed");
  CHECK(write(p[1], "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN", 50) == 50,
        "pipe write failed");
  int pid = xfork();
  if(pid == 0){
    close(p[0]); close(p[1]); close(go[1]);   // EOF on go if the parent fails and exits
    int told = read(go[0], &c, 1) == 1;       // the parent has read into a
    exit(told && allbytes(a, 2*PGSIZE, 'A') ? 0 : 1);
  }
  close(go[0]);

  struct vmpage before = vmq1((uint64)a);
  int cow = before.refs == 2;
  CHECK(cow || before.refs == 1, "page %p after fork: count %d, expected 2 (shared) or 1",
        a, (int)before.refs);
  CHECK(!cow || VMP_ISCOW(before.flags), "page %p shared with the child (count 2): flags %p, "
        "expected read-only with a copy-on-write mark", a, (void *)(uint64)before.flags);
  CHECK(read(p[0], a + 100, 10) == 10, "read into a page shared with a live child failed");
  CHECK(memcmp(a + 100, "0123456789", 10) == 0 && allbytes(a, 100, 'A') &&
        allbytes(a + 110, 2*PGSIZE - 110, 'A'), "read into a shared page: wrong contents");
  struct vmpage after = vmq1((uint64)a);
  CHECK((after.flags & VMP_W) && after.refs == 1,
        "after the read, page %p: flags %p count %d, expected writable, count 1",
        a, (void *)(uint64)after.flags, (int)after.refs);
  CHECK(!cow || after.pa != before.pa, "a page with count 2 was written in place, not copied");
  CHECK(write(go[1], "g", 1) == 1, "pipe write failed");
  CHECK(waitfor(pid) == 0, "the child saw the parent's read in its copy of the page");

  // The child is gone: b has count 1 and is still copy-on-write, if this kernel shares
  // (or already writable: a kernel may resolve pages along with another page's fault).
  before = vmq1((uint64)b);
  CHECK(!cow || ((VMP_ISCOW(before.flags) || (before.flags & VMP_W)) && before.refs == 1),
        "page %p after the child exited: flags %p count %d, expected copy-on-write, count 1",
        b, (void *)(uint64)before.flags, (int)before.refs);
  CHECK(read(p[0], b + PGSIZE - 20, 40) == 40, "read into a COW page and a lazy page failed");
  CHECK(memcmp(b + PGSIZE - 20, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN", 40) == 0 &&
        allbytes(b, PGSIZE - 20, 'A') && allbytes(lazy + 20, PGSIZE - 20, 0),
        "read into a COW page and a lazy page: wrong contents");
  after = vmq1((uint64)b);
  CHECK((after.flags & VMP_W) && after.refs == 1,
        "after the read, page %p: flags %p count %d, expected writable, count 1",
        b, (void *)(uint64)after.flags, (int)after.refs);
  CHECK(!cow || after.pa == before.pa, "a page with count 1 was copied instead of reused");
  after = vmq1((uint64)lazy);
  CHECK((after.flags & VMP_W) && after.refs == 1, "the lazy page was not mapped writable");
  close(p[0]); close(p[1]); close(go[1]);
}

// In a forked child, where text is shared read-only and data, stack and heap copy-on-write:
// read() into text fails and writes nothing; a read that starts in a COW page and runs into
// an unmapped page above the heap, or into the stack's guard page, fails and consumes no
// data (the file offset and the pipe's contents stay).
static void
copyoutbad(char *s)
{
  char *text = (char *)(uint64)textvictim;
  char saved[32];
  int p[2], fd, r;

  for(int i = 0; i < 100; i++)
    buf[i] = pat(i);
  mkfile("utcopyoutbad", buf, 100);
  char *top = heaptop();
  memmove(saved, text, sizeof saved);
  CHECK(pipe(p) == 0 && write(p[1], "0123456789", 10) == 10, "pipe failed");
  int pid = xfork();
  if(pid == 0){
    char *guard = (char *)(PGROUNDDOWN(r_sp()) - PGSIZE);
    struct vmpage below = vmq1((uint64)guard - 1);
    CHECK((below.flags & VMP_W) || VMP_ISCOW(below.flags),
          "the page below the stack guard is not data: flags %p", (void *)(uint64)below.flags);
    fd = open("utcopyoutbad", O_RDONLY);
    CHECK(fd >= 0, "cannot open utcopyoutbad");
    CHECK((r = read(fd, text, 10)) == -1, "read into shared text returned %d", r);
    CHECK(memcmp(saved, text, sizeof saved) == 0, "a failed read changed the shared text");
    CHECK((r = read(fd, top - 5, 10)) == -1, "read on past the heap's end returned %d", r);
    CHECK((r = read(fd, guard - 5, 10)) == -1, "read on into the stack guard returned %d", r);
    CHECK((r = read(p[0], top - 5, 10)) == -1, "pipe read past the heap's end returned %d", r);
    CHECK((r = read(p[0], guard - 5, 10)) == -1, "pipe read into the stack guard returned %d", r);
    CHECK((r = read(fd, buf, 200)) == 100, "read after the failed ones returned %d, not 100", r);
    for(int i = 0; i < 100; i++)
      CHECK(buf[i] == pat(i), "file data wrong at %d after failed reads", i);
    CHECK(read(p[0], buf, 10) == 10 && memcmp(buf, "0123456789", 10) == 0,
          "failed pipe reads consumed data");
    exit(0);
  }
  CHECK(waitfor(pid) == 0, "the child failed");
  CHECK(memcmp(saved, text, sizeof saved) == 0, "the child's failed read changed the text");
  close(p[0]);
  close(p[1]);
  unlink("utcopyoutbad");
}

// Kernel memory, devices and firmware are out of reach of user loads, stores and jumps.
static void
kernmem(char *s)
{
  uint64 addrs[] = { RAMBASE, KERNBASE, KERNBASE + 0x1234, KERNBASE + 1024*1024, PHYSTOP - 1,
                     PHYSTOP, UART0, VIRTIO0, PLIC };
  for(int i = 0; i < NELEM(addrs); i++){
    mustkill(touchread, addrs[i], "user read of");
    mustkill(touchwrite, addrs[i], "user write of");
  }
  mustkill(touchexec, KERNBASE, "user jump to");
}

// The top of the address space: trapframe, trampoline, MAXVA and beyond.
static void
maxva(char *s)
{
  uint64 addrs[] = { TRAPFRAME, TRAMPOLINE, MAXVA - 1, MAXVA, MAXVA + PGSIZE, 1UL << 40,
                     1UL << 63, 0xffffffffffffffffUL, 0xffffffffffff0000UL };
  for(int i = 0; i < NELEM(addrs); i++){
    mustkill(touchread, addrs[i], "user read of");
    mustkill(touchwrite, addrs[i], "user write of");
  }
  mustkill(touchexec, TRAMPOLINE, "user jump to");
  mustkill(touchexec, MAXVA, "user jump to");
}

static void
hog(uint64 bytes)
{
  char *p = sbrk((int)bytes);
  if(p == SBRK_ERROR)
    exit(2);
  for(uint64 i = 0; i < bytes; i += PGSIZE)
    p[i] = 1;
  char *l = sbrklazy((int)bytes);
  if(l == SBRK_ERROR)
    exit(3);
  for(uint64 i = 0; i < bytes; i += 2*PGSIZE)
    l[i] = 1;
}

// A child's memory, eager and lazy, comes back when it exits.
static void
memfree(char *s)
{
  int st;
  CHECK((st = inchild(hog, 4*1024*1024)) == 0, "warm-up child failed with %d", st);
  uint64 f0 = freepages();
  CHECK((st = inchild(hog, 16*1024*1024)) == 0, "allocating child failed with %d", st);
  uint64 f1 = freepages();
  CHECK(f1 == f0, "a child's exit leaked %d pages (%d free before, %d after)",
        (int)(f0 - f1), (int)f0, (int)f1);
}

// ---- vmquery(): what the page table says about a page (kernel/vmquery.h)

#define VMQ_PERM   (VMP_MAPPED | VMP_R | VMP_W | VMP_X | VMP_U)

// The entry for the one page holding va.
static struct vmpage
vmq1(uint64 va)
{
  struct vmpage v;
  CHECK(vmquery(PGROUNDDOWN(va), 1, &v) == 0, "vmquery(%p, 1) failed", (void *)PGROUNDDOWN(va));
  CHECK(v.va == PGROUNDDOWN(va), "vmquery(%p) described va %p", (void *)PGROUNDDOWN(va),
        (void *)v.va);
  return v;
}

// v must be mapped with exactly the permissions perm (VMQ_PERM bits), copy-on-write or not
// (VMP_ISCOW), with reference count refs (0: any count of at least 1).
static void
vmqexpect(struct vmpage *v, char *what, int perm, int cow, int refs)
{
  CHECK((v->flags & VMQ_PERM) == perm, "%s %p: flags %p, expected permissions %p", what,
        (void *)v->va, (void *)(uint64)v->flags, (void *)(uint64)perm);
  CHECK(VMP_ISCOW(v->flags) == cow, "%s %p: flags %p, expected %s", what, (void *)v->va,
        (void *)(uint64)v->flags, cow ? "a copy-on-write mark (a software bit)" : "no COW mark");
  CHECK(v->pa != 0 && v->pa % PGSIZE == 0, "%s %p: physical page %p", what, (void *)v->va,
        (void *)v->pa);
  CHECK(refs ? v->refs == refs : v->refs >= 1, "%s %p: count %d, expected %d", what,
        (void *)v->va, (int)v->refs, refs);
}

// An unmapped page reads as its address and nothing else.
static void
vmqunmapped(struct vmpage *v, uint64 va)
{
  CHECK(v->va == va && v->pa == 0 && v->flags == 0 && v->refs == 0,
        "unmapped page %p: got va %p pa %p flags %p refs %d", (void *)va, (void *)v->va,
        (void *)v->pa, (void *)(uint64)v->flags, (int)v->refs);
}

static int
allbytes(char *p, int n, char c)
{
  for(int i = 0; i < n; i++)
    if(p[i] != c)
      return 0;
  return 1;
}

// Bad ranges and bad buffers give -1, and nothing is written.
static void
vmqbad(char *s)
{
  struct vmpage v[4];
  struct { uint64 va; int n; } bad[] = {
    { 1, 1 }, { PGSIZE + 8, 1 }, { 0, 0 }, { 0, -1 }, { 0, VMQ_MAXPAGES + 1 }, { 0, 1 << 30 },
    { MAXVA, 1 }, { MAXVA - PGSIZE, 2 }, { MAXVA - 3*PGSIZE, 4 }, { MAXVA + PGSIZE, 1 },
    { 1UL << 63, 1 }, { 0xfffffffffffff000UL, 2 }, { 0xfffffffffffff000UL, 1 << 20 },
  };
  for(int i = 0; i < NELEM(bad); i++){
    memset(v, 0xa5, sizeof v);
    int r = vmquery(bad[i].va, bad[i].n, v);
    CHECK(r == -1, "vmquery(%p, %d) returned %d, expected -1", (void *)bad[i].va, bad[i].n, r);
    CHECK(allbytes((char *)v, sizeof v, 0xa5), "vmquery(%p, %d) failed but wrote the buffer",
          (void *)bad[i].va, bad[i].n);
  }

  uint64 addrs[MAXBAD];
  int n = badaddrs(addrs), r;
  for(int i = 0; i < n; i++)
    CHECK((r = vmquery(0, 1, (struct vmpage *)addrs[i])) == -1,
          "vmquery into buffer %p returned %d, expected -1", (void *)addrs[i], r);
  CHECK((r = vmquery(0, 1, (struct vmpage *)textvictim)) == -1,
        "vmquery into the text page %p returned %d, expected -1", textvictim, r);

  // A buffer whose last entry runs past the heap: refused whole, not written in part.
  char *top = heaptop();
  struct vmpage *e = (struct vmpage *)(top - 3*sizeof(struct vmpage));
  memset(top - PGSIZE, 0xa5, PGSIZE);
  CHECK((r = vmquery(0, 4, e)) == -1, "vmquery with 4 entries ending past the heap returned %d", r);
  CHECK(allbytes(top - PGSIZE, PGSIZE, 0xa5), "a refused vmquery wrote into the buffer");
  CHECK((r = vmquery(0, 3, e)) == 0,
        "vmquery with 3 entries ending at the heap top returned %d", r);
  CHECK(e[0].va == 0 && e[2].va == 2*PGSIZE, "the 3 entries describe %p..%p", (void *)e[0].va,
        (void *)e[2].va);
}

// Ranges up to the very top of the address space: the gap, the trapframe, the trampoline.
static void
vmqrange(char *s)
{
  struct vmpage v[4];
  int r;
  CHECK((r = vmquery(TRAPFRAME - 2*PGSIZE, 4, v)) == 0,
        "vmquery of the last 4 pages below MAXVA returned %d", r);
  vmqunmapped(&v[0], TRAPFRAME - 2*PGSIZE);
  vmqunmapped(&v[1], TRAPFRAME - PGSIZE);
  CHECK(v[2].va == TRAPFRAME && v[3].va == TRAMPOLINE, "wrong addresses at the top");
  vmqexpect(&v[2], "trapframe", VMP_MAPPED | VMP_R | VMP_W, 0, 1);
  CHECK((v[3].flags & VMQ_PERM) == (VMP_MAPPED | VMP_R | VMP_X) && v[3].refs == 0 &&
        v[3].pa != 0, "trampoline: flags %p refs %d, expected R X without U, count 0",
        (void *)(uint64)v[3].flags, (int)v[3].refs);

  // The largest query from address 0, into a buffer that lies inside the range.
  struct vmpage *all = (struct vmpage *)sbrk(VMQ_MAXPAGES * sizeof(struct vmpage));
  CHECK((char *)all != SBRK_ERROR, "sbrk failed");
  uint64 sz = (uint64)sbrk(0);
  CHECK((r = vmquery(0, VMQ_MAXPAGES, all)) == 0, "vmquery(0, %d) returned %d", VMQ_MAXPAGES, r);
  for(int i = 0; i < VMQ_MAXPAGES; i++){
    uint64 va = (uint64)i * PGSIZE;
    if(va >= sz)
      vmqunmapped(&all[i], va);
    else
      CHECK(all[i].va == va && (all[i].flags & VMP_MAPPED) && all[i].refs >= 1,
            "page %p below sz: flags %p refs %d", (void *)va, (void *)(uint64)all[i].flags,
            (int)all[i].refs);
  }
  struct vmpage *b = &all[(uint64)all / PGSIZE];
  vmqexpect(b, "the query's own buffer", VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 1);
}

// Lazy sbrk holes in the middle of a range are unmapped entries; the stack and its guard page.
static void
vmqholes(char *s)
{
  char *p = heaptop();
  CHECK(sbrklazy(5*PGSIZE) == p, "sbrklazy failed");
  p[PGSIZE] = 1;
  sink = p[3*PGSIZE];
  struct vmpage *v = (struct vmpage *)(p + 4*PGSIZE);   // an untouched lazy page
  CHECK(vmquery((uint64)p, 6, v) == 0, "vmquery over lazy holes failed");
  vmqunmapped(&v[0], (uint64)p);
  vmqexpect(&v[1], "touched lazy page", VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 1);
  vmqunmapped(&v[2], (uint64)p + 2*PGSIZE);
  vmqexpect(&v[3], "lazy page read once", VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 1);
  vmqexpect(&v[4], "lazy page holding the buffer", VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 1);
  vmqunmapped(&v[5], (uint64)p + 5*PGSIZE);
  CHECK(v[1].pa != v[3].pa && v[3].pa != v[4].pa && v[1].pa != v[4].pa,
        "three lazy pages share a physical page");

  uint64 sp = r_sp();
  struct vmpage st = vmq1(sp), guard = vmq1(PGROUNDDOWN(sp) - PGSIZE);
  vmqexpect(&st, "stack", VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 0);
  CHECK((guard.flags & (VMP_MAPPED | VMP_R | VMP_U | VMP_X)) == (VMP_MAPPED | VMP_R),
        "guard page %p: flags %p, expected mapped, readable, no U", (void *)guard.va,
        (void *)(uint64)guard.flags);
}

// One heap page through fork, a child's write (COW: COPY) and the parent's (COW: REUSE).
// Which kernel this is shows in what the child maps: the parent's page (copy-on-write)
// or a copy (eager fork); every later step must agree with that.
static void
vmqfork(char *s)
{
  char *p = heaptop() - PGSIZE;    // a page this process alone maps
  int down[2], up[2];
  struct vmpage c0, c1;
  char x = 'g';

  p[0] = 'p';
  struct vmpage before = vmq1((uint64)p);
  vmqexpect(&before, "heap page before fork", VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 1);
  CHECK(pipe(down) == 0 && pipe(up) == 0, "pipe failed");
  int pid = xfork();
  if(pid == 0){
    close(down[1]);              // so that the parent's exit means EOF here
    c0 = vmq1((uint64)p);
    if(write(up[1], &c0, sizeof c0) != sizeof c0 || read(down[0], &x, 1) != 1)
      exit(1);
    p[0] = 'c';
    c1 = vmq1((uint64)p);
    if(write(up[1], &c1, sizeof c1) != sizeof c1 || read(down[0], &x, 1) != 1)
      exit(1);
    exit(p[0] == 'c' ? 0 : 2);
  }
  CHECK(read(up[0], &c0, sizeof c0) == sizeof c0, "no word from the child");
  struct vmpage a = vmq1((uint64)p);
  int cow = c0.pa == a.pa;
  CHECK(a.pa == before.pa, "fork moved the parent's page from %p to %p", (void *)before.pa,
        (void *)a.pa);
  if(cow){
    vmqexpect(&a, "parent after fork", VMP_MAPPED | VMP_R | VMP_U, 1, 2);
    vmqexpect(&c0, "child after fork", VMP_MAPPED | VMP_R | VMP_U, 1, 2);
  } else {
    vmqexpect(&a, "parent after an eager fork", VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 1);
    vmqexpect(&c0, "child after an eager fork", VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 1);
  }

  CHECK(write(down[1], &x, 1) == 1, "pipe write failed");    // the child writes the page
  CHECK(read(up[0], &c1, sizeof c1) == sizeof c1, "no word from the child");
  a = vmq1((uint64)p);
  vmqexpect(&c1, "child after its write", VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 1);
  CHECK(c1.pa != a.pa, "the child wrote the parent's physical page %p", (void *)a.pa);
  CHECK(cow || c1.pa == c0.pa, "eager fork: the child's page moved on its write");
  CHECK(a.pa == before.pa, "the child's write moved the parent's page");
  // Counts after a COPY, and REUSE itself, are cowtest's (leak, reuse) to judge, not this
  // test's: here only what vmquery reports.
  if(cow)
    vmqexpect(&a, "parent after the child's COPY", VMP_MAPPED | VMP_R | VMP_U, 1, 0);
  else
    vmqexpect(&a, "parent after the child's write", VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 1);

  CHECK(write(down[1], &x, 1) == 1, "pipe write failed");    // the child exits
  CHECK(waitfor(pid) == 0, "the child failed");
  p[0] = 'P';
  a = vmq1((uint64)p);
  vmqexpect(&a, cow ? "parent after REUSE" : "parent after its write",
            VMP_MAPPED | VMP_R | VMP_W | VMP_U, 0, 1);
  CHECK(cow || a.pa == before.pa, "the parent's write moved its page (%p, was %p)",
        (void *)a.pa, (void *)before.pa);
  CHECK(p[0] == 'P', "the parent's write was lost");
  close(down[0]); close(down[1]); close(up[0]); close(up[1]);
}

// Text is mapped R X U, never writable and never marked COW, before and after fork and
// after the child writes its data; a kernel that shares data pages shares text too.
static void
vmqtext(char *s)
{
  int up[2], down[2];
  struct vmpage c[3];
  char x = 'g';

  struct vmpage t = vmq1((uint64)textvictim), z = vmq1(0);
  vmqexpect(&t, "text page", VMP_MAPPED | VMP_R | VMP_X | VMP_U, 0, 0);
  vmqexpect(&z, "page 0 (text)", VMP_MAPPED | VMP_R | VMP_X | VMP_U, 0, 0);
  CHECK(pipe(up) == 0 && pipe(down) == 0, "pipe failed");
  buf[0] = 'p';
  int pid = xfork();
  if(pid == 0){
    close(down[1]);
    c[0] = vmq1((uint64)textvictim);
    c[1] = vmq1((uint64)buf);
    buf[0] = 'c';                                  // the child's own data page
    c[2] = vmq1((uint64)textvictim);
    if(write(up[1], c, sizeof c) != sizeof c || read(down[0], &x, 1) != 1)
      exit(1);
    exit(0);
  }
  CHECK(read(up[0], c, sizeof c) == sizeof c, "no word from the child");
  struct vmpage a = vmq1((uint64)textvictim), d = vmq1((uint64)buf);
  CHECK(write(down[1], &x, 1) == 1, "pipe write failed");    // the child may exit now
  CHECK(waitfor(pid) == 0, "the child failed");
  for(int i = 0; i < 3; i += 2)
    vmqexpect(&c[i], "child's text page", VMP_MAPPED | VMP_R | VMP_X | VMP_U, 0, 0);
  vmqexpect(&a, "parent's text page", VMP_MAPPED | VMP_R | VMP_X | VMP_U, 0, 0);
  CHECK(a.pa == t.pa, "fork moved the parent's text page");
  CHECK(c[2].pa == c[0].pa, "the child's text page moved when it wrote its data");
  if(c[1].pa == d.pa){   // the data page was shared: so must the text page be
    CHECK(c[0].pa == a.pa, "fork shared data page %p but copied text page %p", (void *)d.va,
          (void *)a.va);
    CHECK(a.refs >= 2, "shared text page: count %d, expected at least 2", (int)a.refs);
  } else {
    CHECK(c[0].pa != a.pa, "fork copied data page %p but shared text page %p", (void *)d.va,
          (void *)a.va);
    CHECK(a.refs == 1 && c[0].refs == 1, "copied text pages: counts %d and %d, expected 1",
          (int)a.refs, (int)c[0].refs);
  }
  close(up[0]); close(up[1]); close(down[0]); close(down[1]);
}

// After fork, parent and child have separate memory, however they write it.
static void
forkmem(char *s)
{
  int n = 2*1024*1024;
  char *p = sbrk(n);
  CHECK(p != SBRK_ERROR, "sbrk failed");
  for(int i = 0; i < n; i += 64)
    p[i] = pat(i);
  buf[0] = 'P';
  int pid = xfork();
  if(pid == 0){
    for(int i = 0; i < n; i += 64)
      CHECK(p[i] == pat(i), "the child sees wrong data at %d", i);
    for(int i = 0; i < n; i += 64)
      p[i] = 'c';
    buf[0] = 'C';
    exit(0);
  }
  for(int i = 0; i < n; i += 128)        // the parent writes some pages while the child runs
    p[i] = pat(i);
  CHECK(waitfor(pid) == 0, "the child failed");
  CHECK(buf[0] == 'P', "the child's write to a global reached the parent");
  for(int i = 0; i < n; i += 64)
    CHECK(p[i] == pat(i), "the child's writes reached the parent at %d", i);
}

// Processes hold memory until it runs out; then sbrk fails cleanly, COW copies and lazy
// touches kill the faulting process, and everything comes back afterwards.
// The hog forks while memory is plentiful and writes its own stack at once (so it owns
// it), then takes all memory, and only then lets the child write the megabyte they share:
// the child's copies cannot all fit. The hog writes nothing shared meanwhile, so its own
// faults cannot fail, whatever is left when memory runs out.
static void
oom(char *s)
{
  uint64 f0 = freepages();
  int pid = xfork();
  if(pid == 0){
    int go[2], mb = 0;
    char c = 'g';
    char *shared = sbrk(1024*1024);
    CHECK(shared != SBRK_ERROR && pipe(go) == 0, "sbrk or pipe failed");
    char *argv[] = { "usertests", "-exit", "0", 0 };
    int k = xfork();                       // shares shared[] copy-on-write (or copies it)
    if(k == 0){
      close(go[1]);
      if(read(go[0], &c, 1) != 1)
        exit(0);
      for(char *q = shared; q < shared + 1024*1024; q += PGSIZE)
        *q = 1;                            // copies that do not fit: killed
      exec(SELF, argv);                    // may fail for want of memory
      exit(0);
    }
    while(sbrk(1024*1024) != SBRK_ERROR)
      mb++;
    CHECK(mb > 32, "only %d MiB could be allocated", mb);
    for(int i = 0; i < 64 && sbrk(PGSIZE) != SBRK_ERROR; i++)
      ;
    char *top = sbrk(0);
    int p[2];
    int r = pipe(p);                       // may fail: no page for the pipe
    if(r == 0){
      close(p[0]);
      close(p[1]);
    }
    CHECK(write(go[1], &c, 1) == 1, "pipe write failed");
    int st = waitfor(k);
    CHECK(st == 0 || st == -1, "the grandchild exited with %d", st);
    top[-1] = 1;                           // our own memory is still ours
    exit(0);
  }
  CHECK(waitfor(pid) == 0, "the memory hog failed");
  pid = xfork();
  if(pid == 0){                            // the same with lazy memory: touching must kill
    char *l = sbrklazy(0x7fffffff & ~(PGSIZE - 1));
    CHECK(l != SBRK_ERROR, "sbrklazy(2 GiB) failed");
    for(uint64 i = 0; ; i += PGSIZE)
      l[i] = 1;
  }
  int st = waitfor(pid);
  CHECK(st == -1, "touching more lazy memory than exists gave status %d, expected -1 (killed)", st);
  uint64 f1 = freepages();
  CHECK(f1 == f0, "memory exhaustion leaked %d pages", (int)(f0 - f1));
}

// The size can be raised lazily towards MAXVA, but never over the trapframe.
static void
sbrkmaxva(char *s)
{
  char *p = 0;
  int i;
  for(i = 0; i < 400; i++){
    p = sbrklazy(0x40000000);
    if(p == SBRK_ERROR)
      break;
  }
  CHECK(p == SBRK_ERROR, "sbrklazy grew the process to %p without failing", sbrk(0));
  uint64 sz = (uint64)sbrk(0);
  CHECK(sz <= TRAPFRAME, "the size %p overlaps the trapframe", (void *)sz);
  char *q = (char *)PGROUNDDOWN(sz - 1);
  *q = 3;                                  // the highest lazy page works
  CHECK(*q == 3, "the highest lazy page did not hold its value");
}

// ---------------------------------------------------------------- processes

// fork returns twice, wait returns each child exactly once, then -1.
static void
forkwait(char *s)
{
  int pids[10], seen[10] = {0};
  for(int i = 0; i < 10; i++){
    pids[i] = xfork();
    if(pids[i] == 0)
      exit(i);
  }
  for(int i = 0; i < 10; i++){
    int st = -100, pid = wait(&st);
    int k;
    for(k = 0; k < 10 && pids[k] != pid; k++)
      ;
    CHECK(k < 10, "wait returned %d, not one of our children", pid);
    CHECK(!seen[k], "wait returned child %d twice", pid);
    CHECK(st == k, "child %d exited with %d, wait reported %d", pid, k, st);
    seen[k] = 1;
  }
  CHECK(wait(0) == -1, "wait with no children left did not return -1");
}

// Exit statuses arrive intact, negative ones included; wait(0) ignores the status.
static void
exitstatus(char *s)
{
  int vals[] = { 0, 1, 2, 42, 255, 256, 1000, -2, -100, 0x7fffffff, -0x7fffffff - 1 };
  for(int i = 0; i < NELEM(vals); i++){
    int pid = xfork();
    if(pid == 0)
      exit(vals[i]);
    int st = waitfor(pid);
    CHECK(st == vals[i], "exit(%d) arrived as %d", vals[i], st);
  }
  int pid = xfork();
  if(pid == 0)
    exit(9);
  CHECK(wait(0) == pid, "wait(0) did not return the child");
}

static void
waitnochild(char *s)
{
  int st = 5;
  CHECK(wait(&st) == -1, "wait with no children did not return -1");
  CHECK(st == 5, "a failed wait wrote the status");
  CHECK(wait(0) == -1, "wait(0) with no children did not return -1");
}

// A grandchild outlives its parent (it is handed to init) and keeps working.
static void
reparent(char *s)
{
  int p[2];
  char c = 0;

  CHECK(pipe(p) == 0, "pipe failed");
  int pid = xfork();
  if(pid == 0){
    if(fork() == 0){
      close(p[0]);
      pause(5);                        // by now the middle process has exited
      write(p[1], "g", 1);
      exit(0);
    }
    exit(0);
  }
  close(p[1]);
  CHECK(waitfor(pid) == 0, "the middle process failed");
  CHECK(read(p[0], &c, 1) == 1 && c == 'g', "the orphaned grandchild did not report");
  CHECK(read(p[0], &c, 1) == 0, "no EOF after the grandchild exited");
  CHECK(wait(0) == -1, "we were handed someone else's orphan");
  close(p[0]);
}

// Many orphans at once, from several processes: init must reap them all.
static void
reparentmany(char *s)
{
  for(int k = 0; k < 4; k++){
    if(xfork() == 0){
      for(int i = 0; i < 40; i++){
        int pid = patientfork();
        if(pid < 0)
          exit(1);
        if(pid == 0){
          if(patientfork() < 0)
            exit(1);
          exit(0);                     // the grandchild, if any, is orphaned
        }
        if(waitfor(pid) != 0)
          exit(1);
      }
      exit(0);
    }
  }
  for(int k = 0; k < 4; k++){
    int st;
    CHECK(wait(&st) > 0 && st == 0, "a forking child failed (status %d)", st);
  }
}

// Fills the process table; children wait on a pipe until the parent lets them go.
// Returns how many forks succeeded.
static int
fillproc(void)
{
  int p[2], n = 0;
  CHECK(pipe(p) == 0, "pipe failed");
  for(;;){
    int pid = fork();
    if(pid < 0)
      break;
    if(pid == 0){
      char c;
      close(p[1]);
      read(p[0], &c, 1);
      exit(0);
    }
    n++;
    CHECK(n < NPROC, "fork succeeded %d times, more than NPROC", n);
  }
  close(p[0]);
  close(p[1]);
  for(int i = 0; i < n; i++){
    int st;
    CHECK(wait(&st) > 0, "wait lost a child");
    CHECK(st == 0, "a waiting child exited with %d", st);
  }
  CHECK(wait(0) == -1, "more children than forks");
  return n;
}

// fork fails cleanly when the process table is full, and the table is usable afterwards.
static void
forkfull(char *s)
{
  // Orphans of earlier tests (reparentmany's) hold slots until init reaps them, and on one
  // hart init runs only when this process gives the CPU up: let it drain the table first.
  int n1 = fillproc();
  for(int tries = 0; n1 <= NPROC / 2 && tries < 10; tries++){
    pause(TICKHZ / 10);
    n1 = fillproc();
  }
  CHECK(n1 > NPROC / 2, "only %d forks succeeded", n1);
  // Not equal: orphans of earlier tests that init reaps meanwhile free slots, so a later
  // round may fit more. A leaked slot makes a round fit fewer.
  int n2 = fillproc();
  CHECK(n2 >= n1, "the second round forked %d, the first %d: slots leaked", n2, n1);
  int pid = xfork();
  if(pid == 0)
    exit(0);
  CHECK(waitfor(pid) == 0, "fork after a full table failed");
}

// The same, many times over, with the children exiting in parallel.
static void
forkfullmany(char *s)
{
  int n1 = fillproc();
  for(int i = 0; i < 30; i++){
    int n = fillproc();
    CHECK(n >= n1, "round %d forked %d, the first round %d: slots leaked", i, n, n1);
  }
}

// kill wakes a process sleeping in pause, and it dies promptly.
static void
killsleep(char *s)
{
  int pid = xfork();
  if(pid == 0){
    pause(1000000);
    exit(0);
  }
  pause(2);
  int t0 = uptime();
  CHECK(kill(pid) == 0, "kill(%d) failed", pid);
  int st = waitfor(pid);
  CHECK(st == -1, "the killed sleeper exited with %d, expected -1", st);
  CHECK(uptime() - t0 < 5 * TICKHZ, "the killed sleeper took %d ticks to die", uptime() - t0);
}

// kill stops a process that never makes a system call.
static void
killspin(char *s)
{
  int pid = xfork();
  if(pid == 0){
    for(;;)
      sink++;
  }
  pause(2);
  CHECK(kill(pid) == 0, "kill failed");
  int st = waitfor(pid);
  CHECK(st == -1, "the killed spinner exited with %d, expected -1", st);
}

// kill wakes a process blocked reading an empty pipe, and one blocked in wait.
static void
killpipe(char *s)
{
  int p[2], q[2];
  CHECK(pipe(p) == 0 && pipe(q) == 0, "pipe failed");
  int pid = xfork();
  if(pid == 0){
    char c;
    close(p[1]);                       // EOF, not a hang, if the parent fails and exits
    read(p[0], &c, 1);                 // nobody ever writes
    exit(0);
  }
  pause(2);
  kill(pid);
  CHECK(waitfor(pid) == -1, "the killed reader did not die with -1");
  pid = xfork();
  if(pid == 0){
    if(fork() == 0){                   // the grandchild waits for the pipe to close
      char c;
      close(q[1]);
      read(q[0], &c, 1);
      exit(0);
    }
    close(q[1]);                       // only the parent's end keeps the grandchild waiting
    wait(0);
    exit(0);
  }
  pause(2);
  kill(pid);
  CHECK(waitfor(pid) == -1, "the killed waiter did not die with -1");
  close(q[1]);                         // releases the grandchild, reaped by init
  close(q[0]);
  close(p[0]);
  close(p[1]);
}

// kill of a non-existent pid fails and hurts no one; a process can kill itself.
static void
killbad(char *s)
{
  int pids[] = { -1, 0, -100, 1 << 20, 0x7fffffff };
  for(int i = 0; i < NELEM(pids); i++)
    CHECK(kill(pids[i]) == -1, "kill(%d) returned success", pids[i]);
  for(int i = 0; i < 8; i++){          // new processes must not inherit a stray kill
    int pid = xfork();
    if(pid == 0){
      pause(1);
      exit(7);
    }
    int st = waitfor(pid);
    CHECK(st == 7, "a fresh child exited with %d, expected 7", st);
  }
  int pid = xfork();
  if(pid == 0){
    kill(getpid());
    for(int i = 0; i < 1000; i++)
      getpid();
    exit(0);
  }
  CHECK(waitfor(pid) == -1, "a process that killed itself survived");
}

// kill(1) is refused: init is not killable (a killed init would exit, and the kernel cannot go
// on without it). Afterwards init still adopts orphans: the reparent test must pass.
static void
killinit(char *s)
{
  int r = kill(1);
  CHECK(r == -1, "kill(1) returned %d, expected -1 (init is not killable)", r);
  CHECK((r = kill(1)) == -1, "a second kill(1) returned %d, expected -1", r);
  pause(2);                            // a killed init would be gone (or the kernel) by now
  reparent(s);
}

// kill of each kind of target: the caller's parent (asleep in wait), a zombie (its exit status
// survives), a pid that has been reaped (-1), and a process killed twice (0 both times).
static void
killtargets(char *s)
{
  int p[2], r;
  char c = 0;

  CHECK(pipe(p) == 0, "pipe failed");
  int mid = xfork();
  if(mid == 0){
    int me = getpid();
    if(fork() == 0){                   // the grandchild kills its parent and lives on under init
      close(p[0]);
      int k = kill(me);
      pause(3);
      write(p[1], k == 0 ? "k" : "f", 1);
      exit(0);
    }
    close(p[0]);
    close(p[1]);
    wait(0);                           // killed while asleep here
    exit(5);
  }
  close(p[1]);
  CHECK((r = waitfor(mid)) == -1, "a process killed by its child exited with %d, expected -1", r);
  CHECK(read(p[0], &c, 1) == 1, "the child that killed its parent died with it");
  CHECK(c == 'k', "kill of the parent returned -1");
  close(p[0]);

  // A zombie: EOF on the pipe means the child is inside exit() and never returns to user mode.
  CHECK(pipe(p) == 0, "pipe failed");
  int z = xfork();
  if(z == 0){
    close(p[0]);
    exit(5);
  }
  close(p[1]);
  CHECK(read(p[0], &c, 1) == 0, "no EOF from an exiting child");
  close(p[0]);
  pause(1);
  CHECK((r = kill(z)) == 0, "kill of an unreaped zombie returned %d, expected 0", r);
  CHECK((r = waitfor(z)) == 5, "killing a zombie changed its exit status from 5 to %d", r);
  CHECK((r = kill(z)) == -1, "kill of a reaped pid returned %d, expected -1", r);

  int k = xfork();
  if(k == 0){
    pause(1000000);
    exit(0);
  }
  CHECK((r = kill(k)) == 0, "kill of a sleeping child returned %d", r);
  CHECK((r = kill(k)) == 0, "a second kill of an unreaped child returned %d, expected 0", r);
  CHECK((r = waitfor(k)) == -1, "a child killed twice exited with %d, expected -1", r);
  CHECK((r = kill(k)) == -1, "kill after reaping returned %d, expected -1", r);
  CHECK((r = kill(-0x7fffffff - 1)) == -1, "kill(INT_MIN) returned %d, expected -1", r);
}

// The system call itself, with a number the C wrappers cannot produce.
static uint64
rawsyscall(uint64 num, uint64 arg0)
{
  register uint64 a0 asm("a0") = arg0;
  register uint64 a7 asm("a7") = num;
  asm volatile("ecall" : "+r"(a0) : "r"(a7) : "memory");
  return a0;
}

// Unknown system-call numbers (0, past the table, negative, a known number with high bits
// set) return -1 and change nothing; the full 64-bit a7 is the number.
static void
syscallnum(char *s)
{
  uint64 bad[] = { 0, 1000, -1UL, (1UL << 32) + SYS_getpid };
  char *old = sbrk(0);
  for(int i = 0; i < NELEM(bad); i++){
    uint64 r = rawsyscall(bad[i], 0);
    CHECK(r == -1UL, "system call %p returned %p, expected -1", (void *)bad[i], (void *)r);
  }
  CHECK(sbrk(0) == old, "an unknown system call changed the size");
  CHECK(rawsyscall(SYS_getpid, 0) == getpid(), "getpid through ecall failed");
}

// pause at its limits: INT_MIN returns at once, INT_MAX sleeps until killed.
static void
pauselimits(char *s)
{
  int t0 = uptime(), r;
  CHECK((r = pause(-0x7fffffff - 1)) == 0, "pause(INT_MIN) returned %d", r);
  CHECK(uptime() - t0 < 2 * TICKHZ, "pause(INT_MIN) slept %d ticks", uptime() - t0);
  int pid = xfork();
  if(pid == 0){
    pause(0x7fffffff);
    exit(0);
  }
  pause(2);
  CHECK((r = kill(pid)) == 0, "kill of a child in pause(INT_MAX) returned %d", r);
  CHECK((r = waitfor(pid)) == -1, "a child in pause(INT_MAX) exited with %d after kill", r);
}

// sbrk(n) with n below -size changes nothing and returns the size, in both modes, as xv6
// does; n == -size does shrink to 0 (and the child, left without its code, is killed).
static void
sbrkunder(char *s)
{
  char *old = sbrk(0), *r;
  int sz = (int)(uint64)old;
  int below[] = { -sz - 1, -sz - PGSIZE, -0x7fffffff, -0x7fffffff - 1 };
  for(int i = 0; i < NELEM(below); i++){
    CHECK((r = sbrk(below[i])) == old, "sbrk(%d) at size %p returned %p, expected %p",
          below[i], old, r, old);
    CHECK(sbrk(0) == old, "sbrk(%d) changed the size to %p", below[i], sbrk(0));
    CHECK((r = sys_sbrk(below[i], SBRK_LAZY)) == old, "sbrklazy(%d) at size %p returned %p",
          below[i], old, r);
    CHECK(sbrk(0) == old, "sbrklazy(%d) changed the size to %p", below[i], sbrk(0));
  }
  sink = old[-1];                      // the top of memory is still there
  int modes[] = { SBRK_EAGER, SBRK_LAZY };
  for(int i = 0; i < NELEM(modes); i++){
    int pid = xfork();
    if(pid == 0){
      sys_sbrk(-sz, modes[i]);
      exit(0);                         // unreachable: the code is gone
    }
    int st = waitfor(pid);
    CHECK(st == -1,
          "after sbrk(-size) (mode %d) the child exited with %d, expected -1", modes[i], st);
  }
}

// memstat writes every byte of its struct and nothing around it: the buffer is filled with
// one pattern, then another; a byte the kernel skipped shows its pattern both times. The
// values must be counts, not stale kernel data.
static void
memstatfill(char *s)
{
  enum { PAD = 16, N = sizeof(struct memstat) };
  static unsigned char b1[N + 2*PAD], b2[N + 2*PAD];
  struct memstat m;

  CHECK(__builtin_offsetof(struct memstat, diskwrites) + sizeof(uint64) == N,
        "struct memstat has padding or fields after diskwrites");
  memset(b1, 0xa5, sizeof b1);
  memset(b2, 0x5a, sizeof b2);
  CHECK(memstat((struct memstat *)(b1 + PAD)) == 0, "memstat failed");
  CHECK(memstat((struct memstat *)(b2 + PAD)) == 0, "memstat failed");
  for(int i = 0; i < (int)sizeof b1; i++){
    int inside = i >= PAD && i < PAD + N;
    int kept = b1[i] == 0xa5 && b2[i] == 0x5a;
    CHECK(inside || kept, "memstat wrote byte %d outside its struct", i - PAD);
    CHECK(!inside || !kept, "memstat left byte %d of its struct unwritten", i - PAD);
  }
  memmove(&m, b1 + PAD, N);
  uint64 maxpages = (PHYSTOP - KERNBASE) / PGSIZE;
  CHECK(m.totalpages > 0 && m.totalpages <= maxpages, "totalpages %p", (void *)m.totalpages);
  CHECK(m.freepages <= m.totalpages, "freepages %p > totalpages", (void *)m.freepages);
  CHECK(m.sharedpages <= m.totalpages, "sharedpages %p > totalpages", (void *)m.sharedpages);
  uint64 counts[] = { m.cowfaults, m.cowcopies, m.cowreuses, m.cowshared, m.diskreads,
                      m.diskwrites };
  for(int i = 0; i < NELEM(counts); i++)
    CHECK(counts[i] < 0x80000000UL, "counter %d is %p: not a count (stale kernel data?)",
          i, (void *)counts[i]);
  char *top = heaptop();                 // a struct that would run off the end of memory
  CHECK(memstat((struct memstat *)(top - 8)) == -1, "memstat across the end of memory succeeded");
}

// Spinning processes (more than harts) all make progress: the timer preempts them.
static void
preempt(char *s)
{
  enum { NSPIN = NCPU + 2, REPORTS = 3 };
  int p[2], pids[NSPIN], count[NSPIN] = {0};
  CHECK(pipe(p) == 0, "pipe failed");
  for(int i = 0; i < NSPIN; i++){
    pids[i] = xfork();
    if(pids[i] == 0){
      char id = i;
      close(p[0]);
      for(int r = 0; ; r++){
        for(volatile int k = 0; k < 200000; k++)
          ;
        if(r < REPORTS)
          write(p[1], &id, 1);
      }
    }
  }
  close(p[1]);
  int done, bad = -1;
  for(done = 0; done < NSPIN * REPORTS; done++){
    char id;
    if(read(p[0], &id, 1) != 1)
      break;                           // every spinner is gone
    if((uchar)id >= NSPIN){
      bad = (uchar)id;
      break;
    }
    count[(uchar)id]++;
  }
  for(int i = 0; i < NSPIN; i++)       // spinners never stop by themselves: kill them first
    kill(pids[i]);
  int reaped = 0;
  while(wait(0) > 0)
    reaped++;
  close(p[0]);
  CHECK(bad < 0, "bad report %d", bad);
  CHECK(done == NSPIN * REPORTS, "the spinners died after %d of %d reports", done,
        NSPIN * REPORTS);
  for(int i = 0; i < NSPIN; i++)
    CHECK(count[i] == REPORTS, "spinner %d reported %d times", i, count[i]);
  CHECK(reaped == NSPIN, "reaped %d spinners, expected %d", reaped, NSPIN);
}

// Several processes fork and reap concurrently.
static void
concfork(char *s)
{
  for(int k = 0; k < 4; k++){
    if(xfork() == 0){
      for(int i = 0; i < 60; i++){
        int pid = fork();
        if(pid < 0)
          exit(1);
        if(pid == 0)
          exit(i & 0x7f);
        int st;
        if(wait(&st) != pid || st != (i & 0x7f))
          exit(2);
      }
      exit(0);
    }
  }
  for(int k = 0; k < 4; k++){
    int st;
    CHECK(wait(&st) > 0, "wait failed");
    CHECK(st == 0, "a forking child failed with %d", st);
  }
}

// Every process has its own pid, the one fork reported.
static void
getpidtest(char *s)
{
  int pids[12], me = getpid();
  CHECK(me > 0, "getpid returned %d", me);
  for(int i = 0; i < 12; i++){
    pids[i] = xfork();
    if(pids[i] == 0)
      exit(getpid());
    CHECK(pids[i] != me, "a child got the parent's pid");
    for(int j = 0; j < i; j++)
      CHECK(pids[j] != pids[i], "two live children share pid %d", pids[i]);
  }
  for(int i = 0; i < 12; i++){
    int st = 0, pid = wait(&st);
    CHECK(pid > 0, "wait failed");
    CHECK(st == pid, "child %d reported getpid() = %d", pid, st);
  }
}

// pause sleeps at least as long as asked; pause(0) and pause(-1) return at once.
static void
pausetime(char *s)
{
  int t0 = uptime();
  CHECK(pause(5) == 0, "pause(5) failed");
  int t1 = uptime();
  CHECK(t1 - t0 >= 5, "pause(5) slept only %d ticks", t1 - t0);
  CHECK(t1 - t0 < 10 * TICKHZ, "pause(5) slept %d ticks", t1 - t0);
  pause(0);
  int pid = xfork();
  if(pid == 0){
    pause(-1);
    exit(0);
  }
  pause(30);
  kill(pid);
  CHECK(waitfor(pid) == 0, "pause(-1) did not return promptly");
}

// ---------------------------------------------------------------- files and directories

// 1 if directory dir has an entry called name.
static int
hasentry(char *dir, char *name)
{
  struct dirent de;
  int fd = open(dir, O_RDONLY), found = 0, n = strlen(name);
  CHECK(fd >= 0, "cannot open directory %s", dir);
  while(read(fd, &de, sizeof de) == sizeof de)
    if(de.inum != 0 && n <= DIRSIZ && memcmp(de.name, name, n) == 0
       && (n == DIRSIZ || de.name[n] == 0))
      found = 1;
  close(fd);
  return found;
}

// Number of used entries in directory dir, "." and ".." included.
static int
countentries(char *dir)
{
  struct dirent de;
  int fd = open(dir, O_RDONLY), n = 0;
  CHECK(fd >= 0, "cannot open directory %s", dir);
  while(read(fd, &de, sizeof de) == sizeof de)
    if(de.inum != 0)
      n++;
  close(fd);
  return n;
}

static uint
inum(char *path)
{
  struct stat st;
  CHECK(stat(path, &st) == 0, "stat %s failed", path);
  return st.ino;
}

// The file holds exactly the n bytes of want.
static void
expectfile(char *name, char *want, int n)
{
  int fd = open(name, O_RDONLY);
  CHECK(fd >= 0, "cannot open %s", name);
  int r = readall(fd, buf, BUFSZ);
  close(fd);
  CHECK(r == n, "%s holds %d bytes, expected %d", name, r, n);
  CHECK(memcmp(buf, want, n) == 0, "%s holds the wrong data", name);
}

// Create, write, read back, unlink.
static void
smallfile(char *s)
{
  int fd;
  unlink("utsmall");
  fd = open("utsmall", O_CREATE | O_RDWR);
  CHECK(fd >= 0, "create utsmall failed");
  for(int i = 0; i < 100; i++)
    CHECK(write(fd, "0123456789", 10) == 10, "write %d to utsmall failed", i);
  close(fd);
  fd = open("utsmall", O_RDONLY);
  CHECK(fd >= 0, "open utsmall failed");
  CHECK(readall(fd, buf, BUFSZ) == 1000, "utsmall does not hold 1000 bytes");
  for(int i = 0; i < 1000; i++)
    CHECK(buf[i] == '0' + i % 10, "utsmall byte %d wrong", i);
  close(fd);
  CHECK(unlink("utsmall") == 0, "unlink utsmall failed");
  CHECK(open("utsmall", O_RDONLY) == -1, "utsmall still opens after unlink");
  CHECK(unlink("utsmall") == -1, "a second unlink succeeded");
}

// A file of exactly MAXFILE blocks can be written and read back; one byte more cannot be written.
static void
bigfile(char *s)
{
  int fd, r;
  unlink("utbig");
  fd = open("utbig", O_CREATE | O_RDWR);
  CHECK(fd >= 0, "create utbig failed");
  for(int b = 0; b < MAXFILE; b++){
    memset(buf, 'a' + b % 26, BSIZE);
    *(int *)buf = b;
    CHECK((r = write(fd, buf, BSIZE)) == BSIZE, "write of block %d returned %d", b, r);
  }
  CHECK((r = write(fd, buf, 1)) != 1, "a write beyond MAXFILE blocks succeeded");
  CHECK((r = write(fd, buf, BSIZE)) != BSIZE, "a block write beyond MAXFILE succeeded");
  CHECK(fdsize(fd) == MAXFILE*BSIZE, "size %d, expected %d", fdsize(fd), (int)(MAXFILE*BSIZE));
  close(fd);
  fd = open("utbig", O_RDONLY);
  for(int b = 0; b < MAXFILE; b++){
    CHECK((r = read(fd, buf, BSIZE)) == BSIZE, "read of block %d returned %d", b, r);
    CHECK(*(int *)buf == b && buf[BSIZE-1] == 'a' + b % 26, "block %d holds the wrong data", b);
  }
  CHECK(read(fd, buf, 1) == 0, "no EOF after MAXFILE blocks");
  close(fd);
  CHECK(unlink("utbig") == 0, "unlink utbig failed");
}

// Single writes of many sizes, some spanning several blocks and transactions.
static void
bigwrite(char *s)
{
  int sizes[] = { 1, 511, 1023, 1024, 1025, 3*1024 + 7, 5000, 10000, 12*1024, 20000 };
  for(int i = 0; i < 20000; i++)
    buf[i] = pat(i);
  for(int k = 0; k < NELEM(sizes); k++){
    int fd = open("utbw", O_CREATE | O_TRUNC | O_RDWR), r;
    CHECK(fd >= 0, "create utbw failed");
    CHECK((r = write(fd, buf, sizes[k])) == sizes[k], "write(%d) returned %d", sizes[k], r);
    close(fd);
    fd = open("utbw", O_RDONLY);
    static char back[20000];
    CHECK((r = readall(fd, back, sizeof back)) == sizes[k],
          "read back %d bytes, expected %d", r, sizes[k]);
    CHECK(memcmp(back, buf, sizes[k]) == 0, "write(%d) stored the wrong data", sizes[k]);
    close(fd);
  }
  unlink("utbw");
}

// O_TRUNC empties a file; offsets beyond the new end read EOF; a plain reopen overwrites in place.
static void
truncate(char *s)
{
  int fd1, fd2, r;
  unlink("uttr");
  mkfile("uttr", "0123456789abcdefghij", 20);
  fd1 = open("uttr", O_RDWR);
  CHECK(read(fd1, buf, 20) == 20, "read failed");
  fd2 = open("uttr", O_RDWR | O_TRUNC);
  CHECK(fd2 >= 0, "open with O_TRUNC failed");
  CHECK(fdsize(fd2) == 0, "O_TRUNC left %d bytes", fdsize(fd2));
  CHECK((r = read(fd1, buf, 10)) == 0, "read at an offset past the truncated end returned %d", r);
  r = write(fd1, "X", 1);              // offset 20 of an empty file: refused, or a zero-filled hole
  CHECK(r == -1 || r == 1, "write past the end returned %d", r);
  CHECK(write(fd2, "abc", 3) == 3, "write after truncate failed");
  close(fd1);
  close(fd2);
  if(r == -1)
    expectfile("uttr", "abc", 3);
  else
    expectfile("uttr", "abc\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0X", 21);
  // reopening without O_TRUNC overwrites the start and keeps the size
  mkfile("uttr", "0123456789", 10);
  fd1 = open("uttr", O_RDWR);
  CHECK(write(fd1, "AB", 2) == 2, "overwrite failed");
  close(fd1);
  expectfile("uttr", "AB23456789", 10);
  // truncating a multi-block file frees its blocks for reuse
  for(int i = 0; i < 3; i++){
    fd1 = open("uttr", O_RDWR | O_TRUNC);
    for(int k = 0; k < 40; k++)
      CHECK(write(fd1, buf, BSIZE) == BSIZE, "write of block %d failed", k);
    close(fd1);
  }
  CHECK(unlink("uttr") == 0, "unlink failed");
}

// Opening a missing file fails unless O_CREATE; O_CREATE of an existing file keeps it.
static void
openmissing(char *s)
{
  unlink("utnope");
  CHECK(open("utnope", O_RDONLY) == -1, "open of a missing file succeeded");
  CHECK(open("utnope", O_RDWR) == -1, "open(O_RDWR) of a missing file succeeded");
  CHECK(open("utnope/x", O_CREATE | O_RDWR) == -1, "create under a missing directory succeeded");
  CHECK(open("/utnodir/x", O_CREATE | O_RDWR) == -1, "create under a missing directory succeeded");
  mkfile("utexist", "hello", 5);
  int fd = open("utexist", O_CREATE | O_RDWR);
  CHECK(fd >= 0, "O_CREATE of an existing file failed");
  CHECK(fdsize(fd) == 5, "O_CREATE of an existing file changed its size to %d", fdsize(fd));
  close(fd);
  unlink("utexist");
}

// The access mode is enforced.
static void
openflags(char *s)
{
  mkfile("utfl", "abc", 3);
  int fd = open("utfl", O_RDONLY);
  CHECK(write(fd, "x", 1) == -1, "write to an O_RDONLY file succeeded");
  CHECK(read(fd, buf, 3) == 3, "read of an O_RDONLY file failed");
  close(fd);
  fd = open("utfl", O_WRONLY);
  CHECK(read(fd, buf, 3) == -1, "read of an O_WRONLY file succeeded");
  CHECK(write(fd, "x", 1) == 1, "write to an O_WRONLY file failed");
  close(fd);
  fd = open("utfl", O_RDWR);
  CHECK(write(fd, "y", 1) == 1 && read(fd, buf, 2) == 2, "O_RDWR file not readable and writable");
  close(fd);
  expectfile("utfl", "ybc", 3);
  unlink("utfl");
}

// Directories: create, nest, refuse to unlink while non-empty, navigate with "..".
static void
dirbasic(char *s)
{
  struct stat st;
  int fd;
  CHECK(mkdir("utd") == 0, "mkdir utd failed");
  CHECK(mkdir("utd") == -1, "mkdir of an existing directory succeeded");
  CHECK(mkdir("utd/a") == 0, "mkdir utd/a failed");
  mkfile("utd/a/f", "data", 4);
  fd = open("utd", O_RDONLY);
  CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.type == T_DIR, "utd is not a directory");
  close(fd);
  CHECK(hasentry("utd", ".") && hasentry("utd", "..") && hasentry("utd", "a"),
        "utd lacks ., .. or a");
  CHECK(unlink("utd") == -1, "unlink of a non-empty directory succeeded");
  CHECK(unlink("utd/a") == -1, "unlink of a non-empty directory succeeded");
  CHECK(unlink("utd/a/.") == -1, "unlink of . succeeded");
  CHECK(unlink("utd/a/..") == -1, "unlink of .. succeeded");
  CHECK(mkdir("utd/a/f/x") == -1, "mkdir under a file succeeded");
  CHECK(open("utd/a/f/x", O_CREATE | O_RDWR) == -1, "create under a file succeeded");
  CHECK(chdir("utd/a") == 0, "chdir utd/a failed");
  expectfile("f", "data", 4);
  expectfile("../a/f", "data", 4);
  expectfile("../../utd/a/f", "data", 4);
  expectfile("./../a/./f", "data", 4);
  expectfile("..//a///f", "data", 4);
  CHECK(chdir("..") == 0, "chdir .. failed");
  expectfile("a/f", "data", 4);
  CHECK(chdir("/") == 0, "chdir / failed");
  CHECK(unlink("utd/a/f") == 0, "unlink utd/a/f failed");
  CHECK(unlink("utd/a") == 0, "unlink of the emptied utd/a failed");
  CHECK(unlink("utd") == 0, "unlink of the emptied utd failed");
  CHECK(open("utd", O_RDONLY) == -1, "utd still exists");
  CHECK(mkdir("utd") == 0 && unlink("utd") == 0, "utd cannot be made again");
}

// ".." of the root is the root; ".." of a subdirectory is its parent.
static void
dotdot(char *s)
{
  uint root = inum("/");
  CHECK(root == ROOTINO, "/ is inode %d, expected ROOTINO", root);
  CHECK(inum("/..") == root && inum("/.") == root, "/.. or /. is not the root");
  CHECK(chdir("/..") == 0 && inum(".") == root, "chdir /.. did not stay at the root");
  CHECK(mkdir("utdd") == 0, "mkdir utdd failed");
  uint d = inum("utdd");
  CHECK(inum("utdd/..") == root && inum("utdd/.") == d, "utdd/.. or utdd/. wrong");
  CHECK(chdir("utdd") == 0, "chdir utdd failed");
  CHECK(inum("..") == root && inum(".") == d, ". and .. wrong inside utdd");
  mkfile("../utdd/../utdd/./x", "1", 1);
  CHECK(chdir("..") == 0 && inum(".") == root, "chdir .. did not return to the root");
  expectfile("utdd/x", "1", 1);
  CHECK(unlink("utdd/x") == 0 && unlink("utdd") == 0, "cleanup of utdd failed");
}

// A removed directory leads nowhere, even for a process still inside it or holding it open:
// not through "..", whose inode may be freed and reused, nor through "."; and it takes no new
// names (they would be unreachable).
static void
removeddir(char *s)
{
  struct stat st;
  int fd, r, in[2], out[2];
  char c;

  CHECK(mkdir("/utrd") == 0 && mkdir("/utrd/b") == 0, "mkdir /utrd/b failed");
  CHECK(chdir("/utrd/b") == 0, "chdir /utrd/b failed");
  fd = open(".", O_RDONLY);
  CHECK(fd >= 0, "open . failed");
  CHECK(unlink("/utrd/b") == 0, "unlink of the (empty) current directory failed");
  CHECK(unlink("/utrd") == 0, "unlink of its emptied parent failed");
  CHECK((r = chdir("..")) == -1, "chdir .. from a removed directory returned %d", r);
  mkfile("/utrdnew", "reused", 6);     // likely gets the parent's freed inode number
  CHECK((r = open("..", O_RDONLY)) == -1, "open .. in a removed directory returned %d", r);
  CHECK((r = open(".", O_RDONLY)) == -1, "open . in a removed directory returned %d", r);
  CHECK(chdir(".") == -1, "chdir . in a removed directory succeeded");
  CHECK(mkdir("x") == -1, "mkdir in a removed directory succeeded");
  CHECK(open("x", O_CREATE | O_RDWR) == -1, "create in a removed directory succeeded");
  CHECK(mknod("x", CONSOLE, 0) == -1, "mknod in a removed directory succeeded");
  CHECK(link("/utrdnew", "x") == -1, "link into a removed directory succeeded");
  CHECK(unlink(".") == -1 && unlink("..") == -1 && unlink("x") == -1,
        "unlink in a removed directory succeeded");
  CHECK(fstat(fd, &st) == 0 && st.type == T_DIR && st.nlink == 0,
        "fstat of the open removed directory: type %d nlink %d", st.type, st.nlink);
  close(fd);
  CHECK(chdir("/") == 0, "chdir / failed");
  CHECK(stat("/utrdnew", &st) == 0 && st.nlink == 1, "/utrdnew has nlink %d, expected 1", st.nlink);
  expectfile("/utrdnew", "reused", 6);
  CHECK(unlink("/utrdnew") == 0, "unlink /utrdnew failed");

  // another process is inside the directory we remove
  CHECK(mkdir("/utrd") == 0, "mkdir /utrd failed");
  CHECK(pipe(in) == 0 && pipe(out) == 0, "pipe failed");
  int pid = xfork();
  if(pid == 0){
    CHECK(chdir("/utrd") == 0, "child: chdir /utrd failed");
    CHECK(write(out[1], "i", 1) == 1 && read(in[0], &c, 1) == 1, "child: pipe failed");
    CHECK(chdir("..") == -1, "child: chdir .. from the removed directory succeeded");
    CHECK(open("f", O_CREATE | O_RDWR) == -1, "child: create in the removed directory succeeded");
    CHECK(mkdir("d") == -1, "child: mkdir in the removed directory succeeded");
    CHECK(chdir("/") == 0, "child: chdir / failed");
    exit(0);
  }
  CHECK(read(out[0], &c, 1) == 1, "the child did not report");
  CHECK(unlink("/utrd") == 0, "unlink of a directory another process is in failed");
  CHECK(mkdir("/utrd") == 0, "mkdir of the freed name /utrd failed");
  CHECK(write(in[1], "g", 1) == 1, "pipe write failed");
  CHECK(waitfor(pid) == 0, "the child in the removed directory failed");
  CHECK(countentries("/utrd") == 2,
        "the new /utrd has %d entries, expected 2", countentries("/utrd"));
  CHECK(unlink("/utrd") == 0, "unlink /utrd failed");
  close(in[0]);
  close(in[1]);
  close(out[0]);
  close(out[1]);
}

// Does directory dir hold two entries with the same name?
static int
dupnames(char *dir)
{
  static struct dirent de[256];
  int fd = open(dir, O_RDONLY), n = 0;
  CHECK(fd >= 0, "cannot open directory %s", dir);
  while(n < NELEM(de) && read(fd, &de[n], sizeof de[n]) == sizeof de[n])
    if(de[n].inum != 0)
      n++;
  close(fd);
  for(int i = 0; i < n; i++)
    for(int j = i + 1; j < n; j++)
      if(memcmp(de[i].name, de[j].name, DIRSIZ) == 0)   // the kernel pads names with NULs
        return 1;
  return 0;
}

static void rmnames(char *prefix, int n);

// With the in-memory inode table (NINODE) full of open files, an operation that would need one
// more inode fails and changes nothing: a name that exists is never taken for a missing one.
static void
itablefull(char *s)
{
  enum { PERKID = 10, NKID = NINODE / PERKID + 2 };
  int ready[2], go[2], kids = 0, full = 0, fd;
  char name[12], c;
  struct stat st;

  CHECK(mkdir("utif") == 0 && chdir("utif") == 0, "mkdir/chdir utif failed");
  for(int i = 0; i < NKID * PERKID; i++){
    mkname(name, "h", i);
    fd = open(name, O_CREATE);        // read-only: closing it needs no commit
    CHECK(fd >= 0, "create %s failed", name);
    close(fd);
  }
  mkfile("dup", "original", 8);
  CHECK(mkdir("sub") == 0, "mkdir sub failed");
  int before = countentries(".");
  CHECK(pipe(ready) == 0 && pipe(go) == 0, "pipe failed");
  // Children hold distinct files open, one child after the other, until an open fails.
  while(kids < NKID && !full){
    if(xfork() == 0){
      int n;
      close(ready[0]);
      close(go[1]);
      for(n = 0; n < PERKID; n++){
        mkname(name, "h", kids * PERKID + n);
        if(open(name, O_RDONLY) < 0)
          break;
      }
      c = n < PERKID ? 'f' : 'o';
      write(ready[1], &c, 1);
      read(go[0], &c, 1);             // hold the files until the parent is done
      exit(0);
    }
    kids++;
    CHECK(read(ready[0], &c, 1) == 1, "a child did not report");
    full = (c == 'f');
  }
  CHECK(full, "%d files open without filling the inode table (NINODE %d)", kids * PERKID, NINODE);
  // h0 is open in a child, so it is in the table; dup and sub are not and cannot be loaded.
  CHECK(link("h0", "dup") == -1,
        "link onto the existing name dup succeeded with the inode table full");
  CHECK(open("dup", O_CREATE | O_RDWR) == -1,
        "open(dup, O_CREATE) succeeded with the inode table full");
  CHECK(open("dup", O_RDONLY) == -1, "open(dup) succeeded with the inode table full");
  CHECK(unlink("dup") == -1, "unlink(dup) succeeded with the inode table full");
  CHECK(mkdir("sub") == -1, "mkdir of the existing name sub succeeded");
  CHECK(mkdir("new") == -1, "mkdir succeeded with the inode table full");
  CHECK(open("new", O_CREATE | O_RDWR) == -1, "create succeeded with the inode table full");
  CHECK(chdir("sub") == -1, "chdir sub succeeded with the inode table full");
  close(go[1]);
  for(int k = 0; k < kids; k++)
    CHECK(wait(0) > 0, "wait failed");
  close(ready[0]);
  close(ready[1]);
  close(go[0]);

  CHECK(!dupnames("."), "a directory holds two entries with the same name");
  CHECK(countentries(".") == before,
        "the directory has %d entries, expected %d", countentries("."), before);
  CHECK(stat("h0", &st) == 0 && st.nlink == 1, "h0 has nlink %d, expected 1", st.nlink);
  expectfile("dup", "original", 8);
  CHECK(unlink("dup") == 0 && open("dup", O_RDONLY) == -1, "dup is still there after unlink");
  CHECK(unlink("sub") == 0, "unlink sub failed");
  rmnames("h", NKID * PERKID);
  CHECK(chdir("..") == 0 && unlink("utif") == 0, "cleanup failed");
}

// link() into a removed directory fails and leaves the target's link count alone; so does a
// link racing with the removal of its directory.
static void
linkremoved(char *s)
{
  struct stat st;
  mkfile("/utlrf", "x", 1);
  CHECK(mkdir("/utlrd") == 0 && chdir("/utlrd") == 0, "mkdir/chdir /utlrd failed");
  CHECK(unlink("/utlrd") == 0, "unlink of the current directory failed");
  CHECK(link("/utlrf", "new") == -1, "link into a removed directory succeeded");
  CHECK(stat("/utlrf", &st) == 0 && st.nlink == 1, "the target has nlink %d, expected 1", st.nlink);
  CHECK(chdir("/") == 0, "chdir / failed");
  int pid = xfork();
  if(pid == 0){
    for(int i = 0; i < 200; i++)
      if(mkdir("/utlrd") == 0)
        unlink("/utlrd");             // fails while a link is inside: that is fine
    exit(0);
  }
  for(int i = 0; i < 200; i++)
    if(link("/utlrf", "/utlrd/l") == 0)
      CHECK(unlink("/utlrd/l") == 0, "unlink of a link just made failed");
  CHECK(waitfor(pid) == 0, "the mkdir/unlink child failed");
  unlink("/utlrd");
  CHECK(stat("/utlrf", &st) == 0 && st.nlink == 1,
        "after the race the target has nlink %d, expected 1", st.nlink);
  CHECK(unlink("/utlrf") == 0, "unlink /utlrf failed");
}

// stat and fstat write every byte of struct stat, padding included, and nothing beyond it.
static void
statpad(char *s)
{
  static char *paths[] = { "/", "/usertests", "/console" };
  uint64 a64[sizeof(struct stat) / 8 + 2], b64[sizeof(struct stat) / 8 + 2];
  uchar *a = (uchar *)a64, *b = (uchar *)b64;
  uint padfrom = __builtin_offsetof(struct stat, nlink) + sizeof(short);
  uint padto = __builtin_offsetof(struct stat, size);

  CHECK(padfrom < padto, "internal: struct stat has no padding to check");
  for(int k = 0; k < NELEM(paths); k++){
    int fd = open(paths[k], O_RDONLY);
    CHECK(fd >= 0, "cannot open %s", paths[k]);
    memset(a, 0xa5, sizeof a64);
    memset(b, 0x5a, sizeof b64);
    CHECK(fstat(fd, (struct stat *)a) == 0 && stat(paths[k], (struct stat *)b) == 0,
          "stat %s failed", paths[k]);
    close(fd);
    for(int i = 0; i < sizeof(struct stat); i++)
      CHECK(a[i] == b[i], "%s: byte %d of struct stat was not written (0x%c%c)", paths[k], i,
            "0123456789abcdef"[a[i] >> 4], "0123456789abcdef"[a[i] & 15]);
    for(int i = padfrom; i < padto; i++)
      CHECK(a[i] == 0, "%s: padding byte %d of struct stat is %d, expected 0", paths[k], i, a[i]);
    for(int i = sizeof(struct stat); i < sizeof a64; i++)
      CHECK(a[i] == 0xa5 && b[i] == 0x5a, "%s: fstat wrote byte %d, past struct stat", paths[k], i);
  }
}

// A write that would pass the largest file size writes what fits and returns that count;
// -1 only when not one byte fits.
static void
writemax(char *s)
{
  int max = MAXFILE * BSIZE, fd, r;
  char *big = sbrk(max + BSIZE);
  CHECK(big != SBRK_ERROR, "sbrk failed");
  for(int i = 0; i < max + BSIZE; i++)
    big[i] = pat(i);
  fd = open("utwm", O_CREATE | O_TRUNC | O_RDWR);
  CHECK(fd >= 0, "create utwm failed");
  CHECK((r = write(fd, big, max + BSIZE)) == max,
        "write of %d bytes to an empty file returned %d, expected %d",
        max + BSIZE, r, max);
  CHECK((r = write(fd, big, 1)) == -1, "write at the size limit returned %d, expected -1", r);
  CHECK((r = write(fd, big, 0)) == 0, "write of 0 bytes at the size limit returned %d", r);
  close(fd);
  fd = open("utwm", O_TRUNC | O_RDWR);
  CHECK((r = write(fd, big, 270000)) == 270000, "write of 270000 bytes returned %d", r);
  CHECK((r = write(fd, big + 270000, 10000)) == max - 270000,
        "write of 10000 bytes at 270000 returned %d, expected %d",
        r, max - 270000);
  CHECK(fdsize(fd) == max, "size %d, expected %d", fdsize(fd), max);
  close(fd);
  fd = open("utwm", O_RDONLY);
  for(int off = 0; off < max; off += BSIZE){
    CHECK((r = read(fd, buf, BSIZE)) == BSIZE, "read at %d returned %d", off, r);
    CHECK(memcmp(buf, big + off, BSIZE) == 0, "wrong data in the block at %d", off);
  }
  CHECK(read(fd, buf, 1) == 0, "no end of file at %d", max);
  close(fd);
  CHECK(unlink("utwm") == 0, "unlink utwm failed");
}

// A zero-length read of a file or directory returns 0 at once and moves nothing.
static void
readzero(char *s)
{
  int r;
  mkfile("utrz", "abc", 3);
  int fd = open("utrz", O_RDWR);
  CHECK((r = read(fd, buf, 0)) == 0, "read(file, 0) at offset 0 returned %d", r);
  CHECK(read(fd, buf, 2) == 2, "read failed");
  CHECK((r = read(fd, buf, 0)) == 0, "read(file, 0) at offset 2 returned %d", r);
  CHECK(read(fd, buf, 5) == 1 && buf[0] == 'c', "a zero-length read moved the offset");
  CHECK((r = read(fd, buf, 0)) == 0, "read(file, 0) at the end returned %d", r);
  CHECK((r = write(fd, buf, 0)) == 0 && fdsize(fd) == 3, "write(file, 0) returned %d", r);
  close(fd);
  fd = open(".", O_RDONLY);
  CHECK((r = read(fd, buf, 0)) == 0, "read(directory, 0) returned %d", r);
  close(fd);
  CHECK(unlink("utrz") == 0, "unlink utrz failed");
}

// path, of exactly len characters: slashes, then name (an absolute path to /name).
static char *
slashpath(char *path, int len, char *name)
{
  int n = strlen(name);
  memset(path, '/', len - n);
  strcpy(path + len - n, name);
  return path;
}

// Every path call at the length limits: MAXPATH-1 characters work, MAXPATH do not (no room for
// the terminating NUL). An empty path names nothing. mknod's device numbers at their limits.
static void
pathlimits(char *s)
{
  char ok[MAXPATH + 1], ok2[MAXPATH + 1], no[MAXPATH + 2];
  char *argv[] = { "usertests", "-exit", "42", 0 };
  int fd;

  unlink("/utpl");
  fd = open(slashpath(ok, MAXPATH - 1, "utpl"), O_CREATE | O_RDWR);
  CHECK(fd >= 0, "open(O_CREATE) of a %d-character path failed", MAXPATH - 1);
  close(fd);
  CHECK(open(slashpath(no, MAXPATH, "utpl"), O_RDONLY) == -1,
        "open of a %d-character path succeeded", MAXPATH);
  CHECK(link(ok, slashpath(ok2, MAXPATH - 1, "utpk")) == 0,
        "link of %d-character paths failed", MAXPATH - 1);
  CHECK(link(no, "/utpm") == -1 && link("/utpl", slashpath(no, MAXPATH, "utpm")) == -1,
        "link of a %d-character path succeeded", MAXPATH);
  CHECK(unlink(slashpath(no, MAXPATH, "utpk")) == -1,
        "unlink of a %d-character path succeeded", MAXPATH);
  CHECK(unlink(ok2) == 0 && unlink(ok) == 0, "unlink of a %d-character path failed", MAXPATH - 1);
  CHECK(mkdir(slashpath(no, MAXPATH, "utpd")) == -1,
        "mkdir of a %d-character path succeeded", MAXPATH);
  CHECK(mkdir(slashpath(ok, MAXPATH - 1, "utpd")) == 0,
        "mkdir of a %d-character path failed", MAXPATH - 1);
  CHECK(chdir(no) == -1, "chdir to a %d-character path succeeded", MAXPATH);
  CHECK(chdir(ok) == 0 && chdir("/") == 0, "chdir to a %d-character path failed", MAXPATH - 1);
  CHECK(unlink(ok) == 0, "unlink of the directory failed");
  CHECK(mknod(slashpath(no, MAXPATH, "utpn"), CONSOLE, 0) == -1,
        "mknod of a %d-character path succeeded", MAXPATH);
  CHECK(mknod(slashpath(ok, MAXPATH - 1, "utpn"), CONSOLE, 0) == 0,
        "mknod of a %d-character path failed", MAXPATH - 1);
  CHECK(unlink(ok) == 0, "unlink of the device node failed");
  CHECK(exec(slashpath(no, MAXPATH, "usertests"), argv) == -1,
        "exec of a %d-character path returned", MAXPATH);
  int pid = xfork();
  if(pid == 0){
    exec(slashpath(ok, MAXPATH - 1, "usertests"), argv);
    exit(1);
  }
  CHECK(waitfor(pid) == 42, "exec of a %d-character path failed", MAXPATH - 1);

  CHECK(open("", O_RDONLY) == -1, "open of the empty path succeeded");
  CHECK(open("", O_CREATE | O_RDWR) == -1, "open(O_CREATE) of the empty path succeeded");
  CHECK(chdir("") == -1, "chdir to the empty path succeeded");
  CHECK(mkdir("") == -1 && mknod("", CONSOLE, 0) == -1,
        "mkdir or mknod of the empty path succeeded");
  CHECK(unlink("") == -1, "unlink of the empty path succeeded");
  CHECK(link("", "/utpl") == -1 && link("/usertests", "") == -1,
        "link with an empty path succeeded");
  CHECK(open("/utpl", O_RDONLY) == -1, "a failed link made /utpl");

  short majors[] = { -1, NDEV, 0x7fff }, minors[] = { -1, -0x8000 };
  for(int i = 0; i < NELEM(majors); i++)
    CHECK(mknod("/utpn", majors[i], 0) == -1, "mknod with major %d succeeded", majors[i]);
  for(int i = 0; i < NELEM(minors); i++)
    CHECK(mknod("/utpn", CONSOLE, minors[i]) == -1, "mknod with minor %d succeeded", minors[i]);
  CHECK(open("/utpn", O_RDONLY) == -1, "a failed mknod made /utpn");
  CHECK(mknod("/utpn", NDEV - 1, 0x7fff) == 0, "mknod with major %d minor 0x7fff failed", NDEV - 1);
  CHECK(unlink("/utpn") == 0, "unlink /utpn failed");
}

// A deep chain of directories, walked down and up, by relative and absolute paths.
static void
deeppath(char *s)
{
  enum { DEPTH = 40 };
  char path[2*DEPTH + 16];
  uint top;
  CHECK(mkdir("/utdeep") == 0, "mkdir /utdeep failed");
  CHECK(chdir("/utdeep") == 0, "chdir /utdeep failed");
  top = inum(".");
  for(int i = 0; i < DEPTH; i++){
    CHECK(mkdir("x") == 0, "mkdir at depth %d failed", i);
    CHECK(chdir("x") == 0, "chdir at depth %d failed", i);
  }
  mkfile("f", "deep", 4);
  for(int i = 0; i < DEPTH; i++)
    CHECK(chdir("..") == 0, "chdir .. failed");
  CHECK(inum(".") == top, "%d times .. did not lead back up", DEPTH);
  strcpy(path, "/utdeep");
  for(int i = 0; i < DEPTH; i++)
    strcpy(path + strlen(path), "/x");
  strcpy(path + strlen(path), "/f");
  expectfile(path, "deep", 4);
  // remove bottom-up, by relative paths of shrinking length
  for(int k = DEPTH; k >= 1; k--){
    strcpy(path, "x");
    for(int i = 1; i < k; i++)
      strcpy(path + strlen(path), "/x");
    if(k == DEPTH){
      int n = strlen(path);
      strcpy(path + n, "/f");
      CHECK(unlink(path) == 0, "unlink of the deep file failed");
      path[n] = 0;
    }
    CHECK(unlink(path) == 0, "unlink of the directory at depth %d failed", k);
  }
  CHECK(chdir("/") == 0 && unlink("/utdeep") == 0, "unlink /utdeep failed");
}

// Names of exactly DIRSIZ characters work; longer names are refused or cut to DIRSIZ.
static void
dirsiz(char *s)
{
  char n14[DIRSIZ + 1], n15[DIRSIZ + 2], d14[DIRSIZ + 1];
  struct stat st;
  int fd;

  memmove(n14, "utabcdefghijkl", DIRSIZ);
  n14[DIRSIZ] = 0;
  memmove(n15, n14, DIRSIZ);
  n15[DIRSIZ] = 'z';
  n15[DIRSIZ + 1] = 0;
  unlink(n14);
  mkfile(n14, "fourteen", 8);
  CHECK(hasentry(".", n14), "no directory entry for the %d-character name", DIRSIZ);
  expectfile(n14, "fourteen", 8);
  fd = open(n15, O_RDONLY);
  if(fd >= 0){                         // cut to DIRSIZ: must be the same file
    CHECK(fstat(fd, &st) == 0 && st.ino == inum(n14), "the long name opened a different file");
    close(fd);
  }
  fd = open(n15, O_CREATE | O_RDWR);
  if(fd >= 0){
    CHECK(fstat(fd, &st) == 0 && st.ino == inum(n14),
          "creating the long name made a different file");
    close(fd);
  }
  CHECK(unlink(n14) == 0, "unlink of the %d-character name failed", DIRSIZ);
  memmove(d14, "utdirsizdirect", DIRSIZ);
  d14[DIRSIZ] = 0;
  CHECK(mkdir(d14) == 0, "mkdir of a %d-character name failed", DIRSIZ);
  CHECK(chdir(d14) == 0, "chdir to a %d-character name failed", DIRSIZ);
  mkfile(n14, "x", 1);
  CHECK(chdir("..") == 0, "chdir .. failed");
  char path[2*DIRSIZ + 2];
  strcpy(path, d14);
  strcpy(path + DIRSIZ, "/");
  strcpy(path + DIRSIZ + 1, n14);
  expectfile(path, "x", 1);
  CHECK(unlink(path) == 0, "unlink %s failed", path);
  CHECK(unlink(d14) == 0, "unlink of the emptied directory %s failed", d14);
}

// Directories cannot be written or opened for writing.
static void
opendirwrite(char *s)
{
  int fd;
  CHECK(open("/", O_RDWR) == -1, "open(/, O_RDWR) succeeded");
  CHECK(open("/", O_WRONLY) == -1, "open(/, O_WRONLY) succeeded");
  fd = open("/", O_RDONLY);
  CHECK(fd >= 0, "open(/, O_RDONLY) failed");
  CHECK(write(fd, "x", 1) == -1, "write to a directory succeeded");
  close(fd);
  CHECK(mkdir("utdw") == 0, "mkdir utdw failed");
  CHECK(open("utdw", O_CREATE | O_RDWR) == -1, "open(dir, O_CREATE|O_RDWR) succeeded");
  CHECK(open("utdw", O_WRONLY | O_TRUNC) == -1, "open(dir, O_WRONLY|O_TRUNC) succeeded");
  CHECK(link("utdw", "utdw2") == -1, "link to a directory succeeded");
  CHECK(hasentry("utdw", ".") && countentries("utdw") == 2, "the directory was changed");
  CHECK(unlink("utdw") == 0, "unlink utdw failed");
}

// A file is not a directory: chdir, mkdir and create through it fail.
static void
chdirfile(char *s)
{
  mkfile("utcf", "f", 1);
  CHECK(chdir("utcf") == -1, "chdir into a file succeeded");
  CHECK(chdir("utcf/x") == -1, "chdir through a file succeeded");
  CHECK(chdir("utmissingdir") == -1, "chdir to a missing directory succeeded");
  CHECK(mkdir("utcf/x") == -1, "mkdir through a file succeeded");
  CHECK(open("utcf/x", O_CREATE | O_RDWR) == -1, "create through a file succeeded");
  CHECK(unlink("utcf/x") == -1, "unlink through a file succeeded");
  CHECK(link("utcf", "utcf/x") == -1, "link through a file succeeded");
  CHECK(unlink("utcf") == 0, "unlink utcf failed");
}

// mknod makes a working console device node.
static void
console(char *s)
{
  struct stat st;
  char *msg = "(usertests: console device write)\n";
  unlink("utcons");
  CHECK(mknod("utcons", CONSOLE, 0) == 0, "mknod failed");
  CHECK(mknod("utcons", CONSOLE, 0) == -1, "mknod over an existing name succeeded");
  int fd = open("utcons", O_WRONLY);
  CHECK(fd >= 0, "open of the console node failed");
  CHECK(fstat(fd, &st) == 0 && st.type == T_DEVICE, "the node is not a device");
  CHECK(write(fd, msg, strlen(msg)) == strlen(msg), "write to the console node failed");
  close(fd);
  CHECK(unlink("utcons") == 0, "unlink of the device node failed");
}

// Device nodes with majors no driver serves: open, read and write fail instead of crashing.
static void
badmajor(char *s)
{
  short majors[] = { 0, NDEV - 1, NDEV, BADMAJOR, -1, -32768 };
  for(int i = 0; i < NELEM(majors); i++){
    unlink("utbadmaj");
    if(mknod("utbadmaj", majors[i], 0) < 0)
      continue;
    int fd = open("utbadmaj", O_RDWR);
    if(fd >= 0){
      CHECK(read(fd, buf, 1) == -1, "read of a device with major %d succeeded", majors[i]);
      CHECK(write(fd, "x", 1) == -1, "write of a device with major %d succeeded", majors[i]);
      close(fd);
    }
    CHECK(unlink("utbadmaj") == 0, "unlink of the device node failed");
  }
}

// Hard links share the inode; the data lives until the last name is gone.
static void
linkbasic(char *s)
{
  struct stat st;
  unlink("utl1");
  unlink("utl2");
  mkfile("utl1", "hello", 5);
  CHECK(link("utl1", "utl2") == 0, "link failed");
  CHECK(inum("utl1") == inum("utl2"), "the link names a different inode");
  CHECK(stat("utl1", &st) == 0 && st.nlink == 2, "nlink is %d after link, expected 2", st.nlink);
  expectfile("utl2", "hello", 5);
  CHECK(link("utl1", "utl2") == -1, "link over an existing name succeeded");
  CHECK(link("utmissing", "utl3") == -1, "link of a missing file succeeded");
  CHECK(link("utl1", "utnodir/utl3") == -1, "link into a missing directory succeeded");
  CHECK(unlink("utl1") == 0, "unlink utl1 failed");
  CHECK(open("utl1", O_RDONLY) == -1, "utl1 still opens");
  expectfile("utl2", "hello", 5);
  CHECK(stat("utl2", &st) == 0 && st.nlink == 1, "nlink is %d after unlink, expected 1", st.nlink);
  CHECK(mkdir("utld") == 0, "mkdir failed");
  CHECK(link("utl2", "utld/l") == 0, "link into a subdirectory failed");
  expectfile("utld/l", "hello", 5);
  CHECK(unlink("utld") == -1, "unlink of a non-empty directory succeeded");
  CHECK(unlink("utld/l") == 0 && unlink("utld") == 0 && unlink("utl2") == 0, "cleanup failed");
}

// An unlinked file stays readable and writable through descriptors still open.
static void
unlinkopen(char *s)
{
  struct stat st;
  mkfile("utuo", "hello", 5);
  int fd = open("utuo", O_RDWR);
  CHECK(fd >= 0, "open failed");
  CHECK(unlink("utuo") == 0, "unlink of an open file failed");
  CHECK(open("utuo", O_RDONLY) == -1, "the unlinked name still opens");
  mkfile("utuo", "bye", 3);            // a new file under the old name
  CHECK(read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0,
        "the open unlinked file lost its data");
  CHECK(write(fd, "more", 4) == 4, "write to the unlinked file failed");
  CHECK(fstat(fd, &st) == 0 && st.nlink == 0 && st.size == 9, "unlinked file: nlink %d size %d",
        st.nlink, (int)st.size);
  close(fd);
  expectfile("utuo", "bye", 3);
  CHECK(unlink("utuo") == 0, "unlink failed");
}

// A process has NOFILE descriptors; the open after that fails, and closing frees the slots.
static void
nofile(char *s)
{
  int fds[NOFILE + 1], n = 0, fd;
  mkfile("utnof", "x", 1);
  for(;;){
    fd = open("utnof", O_RDONLY);
    if(fd < 0)
      break;
    CHECK(fd < NOFILE, "open returned fd %d, NOFILE is %d", fd, NOFILE);
    fds[n++] = fd;
  }
  CHECK(fds[n-1] == NOFILE - 1, "the last fd opened was %d, expected %d", fds[n-1], NOFILE - 1);
  CHECK(dup(0) == -1, "dup succeeded with all descriptors in use");
  int p[2];
  CHECK(pipe(p) == -1, "pipe succeeded with all descriptors in use");
  for(int i = 0; i < n; i++)
    CHECK(close(fds[i]) == 0, "close failed");
  fd = open("utnof", O_RDONLY);
  CHECK(fd == fds[0], "after closing, open returned %d, expected %d", fd, fds[0]);
  close(fd);
  unlink("utnof");
}

// Several processes open files until the system-wide table (NFILE) runs out.
// Returns the total opened.
static int
fillfiles(void)
{
  enum { NKID = 10 };
  int ready[2], go[2], total = 0;
  char c;
  CHECK(pipe(ready) == 0 && pipe(go) == 0, "pipe failed");
  for(int k = 0; k < NKID; k++){
    if(xfork() == 0){
      int n = 0;
      close(ready[0]);
      close(go[1]);
      while(open("utnfile", O_RDONLY) >= 0)
        n++;
      write(ready[1], "r", 1);
      read(go[0], &c, 1);              // hold the files until the parent says go
      exit(n);
    }
  }
  close(ready[1]);
  close(go[0]);
  for(int k = 0; k < NKID; k++)
    CHECK(read(ready[0], &c, 1) == 1, "a child did not report");
  close(go[1]);
  for(int k = 0; k < NKID; k++){
    int st;
    CHECK(wait(&st) > 0, "wait failed");
    total += st;
  }
  close(ready[0]);
  return total;
}

static void
nfile(char *s)
{
  mkfile("utnfile", "x", 1);
  int t1 = fillfiles();
  CHECK(t1 <= NFILE, "%d files open at once, NFILE is %d", t1, NFILE);
  CHECK(t1 > NFILE / 2, "only %d files could be opened", t1);
  int t2 = fillfiles();
  CHECK(t2 == t1, "first round opened %d files, second %d: file table entries leaked", t1, t2);
  int fd = open("utnfile", O_RDONLY);
  CHECK(fd >= 0, "open fails after the table was full");
  close(fd);
  unlink("utnfile");
}

// fstat and stat report type, size, link count and inode.
static void
fstatbasic(char *s)
{
  struct stat st, st2;
  mkfile("utfs", buf, 1234);
  int fd = open("utfs", O_RDONLY);
  CHECK(fstat(fd, &st) == 0, "fstat failed");
  CHECK(st.type == T_FILE && st.size == 1234 && st.nlink == 1, "fstat: type %d size %d nlink %d",
        st.type, (int)st.size, st.nlink);
  CHECK(stat("utfs", &st2) == 0 && st2.ino == st.ino && st2.dev == st.dev,
        "stat and fstat disagree");
  close(fd);
  CHECK(stat("/", &st) == 0 && st.type == T_DIR && st.ino == ROOTINO, "stat / wrong");
  CHECK(stat("utmissing", &st) == -1, "stat of a missing file succeeded");
  unlink("utfs");
}

// sync() returns 0, with and without changes to commit, and changes nothing a program sees.
// That the changes are then on disk only a crash can show: tools/crashtest.py.
static void
syncbasic(char *s)
{
  struct stat st;
  CHECK(sync() == 0, "sync() returned non-zero");
  CHECK(sync() == 0, "sync() with nothing to commit returned non-zero");
  mkfile("utsync", buf, 3000);
  CHECK(sync() == 0, "sync() after a close returned non-zero");
  int fd = open("utsync", O_RDWR);
  CHECK(fd >= 0 && write(fd, buf, 100) == 100, "rewrite failed");
  CHECK(sync() == 0, "sync() with a file open for writing returned non-zero");
  close(fd);
  CHECK(stat("utsync", &st) == 0 && st.size == 3000, "size %d after sync, expected 3000",
        (int)st.size);
  CHECK(unlink("utsync") == 0, "unlink failed");
  CHECK(sync() == 0, "sync() after unlink returned non-zero");
}

#define SYNCBUSY_WRITERS 6
#define SYNCBUSY_LIMIT (10 * TICKHZ)   // ticks (10 s) sync() may take while writers run

// A child that changes the file system without end: link and unlink one name, so that its
// operations overlap the other writers' and the log never fills (no forced commit).
static void
syncbusywriter(uint64 i)
{
  char name[16], other[16];
  mkname(name, "utsbf", i);
  mkname(other, "utsbl", i);
  unlink(other);
  mkfile(name, "x", 1);
  for(;;){
    link(name, other);
    unlink(other);
  }
}

// sync() returns while other processes keep the file system busy: operations that begin after
// it must not postpone its commit forever. A watchdog bounds the wait, so a sync() that
// cannot finish fails the test instead of hanging it.
static void
syncbusy(char *s)
{
  int p[2], pids[SYNCBUSY_WRITERS];
  CHECK(pipe(p) == 0, "pipe failed");
  for(int i = 0; i < SYNCBUSY_WRITERS; i++){
    if((pids[i] = xfork()) == 0)
      syncbusywriter(i);
  }
  pause(2);
  int watchdog = xfork();
  if(watchdog == 0){
    pause(SYNCBUSY_LIMIT);
    write(p[1], "T", 1);
    exit(0);
  }
  int syncer = xfork();
  if(syncer == 0){
    for(int i = 0; i < 10; i++){
      if(sync() != 0){
        write(p[1], "E", 1);
        exit(1);
      }
    }
    write(p[1], "S", 1);
    exit(0);
  }
  char c = 0;
  read(p[0], &c, 1);
  for(int i = 0; i < SYNCBUSY_WRITERS; i++)
    kill(pids[i]);
  kill(watchdog);
  kill(syncer);
  for(int i = 0; i < SYNCBUSY_WRITERS + 2; i++)
    wait(0);
  close(p[0]);
  close(p[1]);
  char name[16];
  for(int i = 0; i < SYNCBUSY_WRITERS; i++){
    mkname(name, "utsbf", i);
    unlink(name);
    mkname(name, "utsbl", i);
    unlink(name);
  }
  CHECK(c != 'T', "10 sync() calls did not return within %d ticks while %d processes kept "
        "changing the file system", SYNCBUSY_LIMIT, SYNCBUSY_WRITERS);
  CHECK(c == 'S', "sync() returned non-zero while other processes wrote");
}

// dup'd and inherited descriptors share one offset.
static void
sharedoffset(char *s)
{
  unlink("utso");
  int fd = open("utso", O_CREATE | O_RDWR);
  CHECK(write(fd, "a", 1) == 1, "write failed");
  int pid = xfork();
  if(pid == 0){
    CHECK(write(fd, "bbbb", 4) == 4, "child write failed");
    exit(0);
  }
  CHECK(waitfor(pid) == 0, "child failed");
  CHECK(write(fd, "c", 1) == 1, "write failed");
  int fd2 = dup(fd);
  CHECK(write(fd2, "d", 1) == 1, "write via dup failed");
  close(fd);
  close(fd2);
  expectfile("utso", "abbbbcd", 7);
  fd = open("utso", O_RDONLY);
  CHECK(read(fd, buf, 2) == 2, "read failed");
  pid = xfork();
  if(pid == 0){
    CHECK(read(fd, buf, 2) == 2 && memcmp(buf, "bb", 2) == 0, "child read wrong data");
    exit(0);
  }
  CHECK(waitfor(pid) == 0, "child failed");
  CHECK(read(fd, buf, 3) == 3 && memcmp(buf, "bcd", 3) == 0,
        "the child's read did not move our offset");
  close(fd);
  unlink("utso");
}

// Four processes write four files at once.
static void
fourfiles(char *s)
{
  char name[8];
  for(int k = 0; k < 4; k++){
    if(xfork() == 0){
      mkname(name, "utff", k);
      int fd = open(name, O_CREATE | O_TRUNC | O_RDWR);
      if(fd < 0)
        exit(1);
      memset(buf, '0' + k, 500);
      for(int i = 0; i < 12; i++)
        if(write(fd, buf, 500) != 500)
          exit(2);
      exit(0);
    }
  }
  for(int k = 0; k < 4; k++){
    int st;
    CHECK(wait(&st) > 0 && st == 0, "a writer failed with %d", st);
  }
  for(int k = 0; k < 4; k++){
    mkname(name, "utff", k);
    int fd = open(name, O_RDONLY);
    int n = readall(fd, buf, BUFSZ);
    close(fd);
    CHECK(n == 6000, "%s holds %d bytes, expected 6000", name, n);
    for(int i = 0; i < n; i++)
      CHECK(buf[i] == '0' + k, "%s byte %d is %c", name, i, buf[i]);
    unlink(name);
  }
}

// Four processes write records through one shared descriptor: nothing is lost or overwritten.
static void
sharedfd(char *s)
{
  int count[4] = {0};
  unlink("utsfd");
  int fd = open("utsfd", O_CREATE | O_RDWR);
  for(int k = 0; k < 4; k++){
    if(xfork() == 0){
      char rec[10];
      memset(rec, 'a' + k, sizeof rec);
      for(int i = 0; i < 100; i++)
        if(write(fd, rec, sizeof rec) != sizeof rec)
          exit(1);
      exit(0);
    }
  }
  for(int k = 0; k < 4; k++){
    int st;
    CHECK(wait(&st) > 0 && st == 0, "a writer failed");
  }
  close(fd);
  fd = open("utsfd", O_RDONLY);
  int n = readall(fd, buf, BUFSZ);
  close(fd);
  CHECK(n == 4000, "the shared file holds %d bytes, expected 4000", n);
  for(int i = 0; i < n; i++){
    CHECK(buf[i] >= 'a' && buf[i] < 'a' + 4, "garbage byte %d", i);
    count[buf[i] - 'a']++;
  }
  for(int k = 0; k < 4; k++)
    CHECK(count[k] == 1000, "writer %d has %d bytes, expected 1000", k, count[k]);
  unlink("utsfd");
}

// Four processes create and delete the same names in one directory at once.
static void
concreate(char *s)
{
  char name[8];
  CHECK(mkdir("utconc") == 0, "mkdir failed");
  for(int k = 0; k < 4; k++){
    if(xfork() == 0){
      if(chdir("utconc") < 0)
        exit(1);
      for(int i = 0; i < 60; i++){
        mkname(name, "c", (i * 7 + k * 13) % 20);
        if((i + k) % 3 == 0){
          unlink(name);
        } else {
          int fd = open(name, O_CREATE | O_RDWR);
          if(fd < 0){
            printf("%s: create %s failed\n", s, name);
            exit(2);
          }
          write(fd, "x", 1);
          close(fd);
        }
      }
      exit(0);
    }
  }
  for(int k = 0; k < 4; k++){
    int st;
    CHECK(wait(&st) > 0 && st == 0, "a creating child failed with %d", st);
  }
  CHECK(chdir("utconc") == 0, "chdir failed");
  for(int j = 0; j < 20; j++){
    struct stat st;
    mkname(name, "c", j);
    if(stat(name, &st) == 0){
      CHECK(st.type == T_FILE && st.nlink == 1, "%s: type %d nlink %d", name, st.type, st.nlink);
      CHECK(unlink(name) == 0, "unlink %s failed", name);
    }
  }
  CHECK(countentries(".") == 2, "the directory still has %d entries", countentries("."));
  CHECK(chdir("..") == 0 && unlink("utconc") == 0, "cleanup failed");
}

// Each of four processes creates its own files and deletes every other one.
static void
createdelete(char *s)
{
  char name[12];
  for(int k = 0; k < 4; k++){
    if(xfork() == 0){
      for(int i = 0; i < 20; i++){
        mkname(name, "utcd", k * 100 + i);
        int fd = open(name, O_CREATE | O_RDWR);
        if(fd < 0)
          exit(1);
        close(fd);
        if(i % 2 == 0 && unlink(name) != 0)
          exit(2);
      }
      exit(0);
    }
  }
  for(int k = 0; k < 4; k++){
    int st;
    CHECK(wait(&st) > 0 && st == 0, "a child failed with %d", st);
  }
  for(int k = 0; k < 4; k++)
    for(int i = 0; i < 20; i++){
      mkname(name, "utcd", k * 100 + i);
      int fd = open(name, O_RDONLY);
      CHECK((fd >= 0) == (i % 2 == 1), "%s %s", name, fd >= 0 ? "exists" : "is missing");
      if(fd >= 0){
        close(fd);
        unlink(name);
      }
    }
}

static uint
rnd(uint *x)
{
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

// Two processes race link, unlink and create over five names.
static void
linkunlink(char *s)
{
  char a[8], b[8];
  int pid = xfork();
  uint x = pid ? 12345 : 67890;
  for(int i = 0; i < 300; i++){
    mkname(a, "utlu", rnd(&x) % 5);
    mkname(b, "utlu", rnd(&x) % 5);
    switch(rnd(&x) % 3){
    case 0: { int fd = open(a, O_CREATE | O_RDWR); if(fd >= 0) close(fd); break; }
    case 1: link(a, b); break;
    case 2: unlink(a); break;
    }
  }
  if(pid == 0)
    exit(0);
  CHECK(waitfor(pid) == 0, "child failed");
  for(int i = 0; i < 5; i++){
    mkname(a, "utlu", i);
    unlink(a);
    CHECK(open(a, O_RDONLY) == -1, "%s survived its unlink", a);
  }
}

// Many files in one directory.
static void
manyfiles(char *s)
{
  char name[12];
  CHECK(mkdir("utmany") == 0 && chdir("utmany") == 0, "mkdir/chdir utmany failed");
  for(int i = 0; i < 60; i++){
    mkname(name, "m", i);
    mkfile(name, name, strlen(name));
  }
  CHECK(countentries(".") == 62, "%d entries, expected 62", countentries("."));
  for(int i = 0; i < 60; i++){
    mkname(name, "m", i);
    expectfile(name, name, strlen(name));
    CHECK(unlink(name) == 0, "unlink %s failed", name);
  }
  CHECK(countentries(".") == 2, "%d entries left", countentries("."));
  CHECK(chdir("..") == 0 && unlink("utmany") == 0, "cleanup failed");
}

// Creates empty files in the current directory until that fails; returns how many.
static int
fillinodes(void)
{
  char name[12];
  int n;
  for(n = 0; n < 1000; n++){
    mkname(name, "i", n);
    int fd = open(name, O_CREATE | O_RDWR);
    if(fd < 0)
      break;
    close(fd);
  }
  CHECK(n < 1000, "1000 files created without running out of inodes");
  return n;
}

static void
rmnames(char *prefix, int n)
{
  char name[12];
  for(int i = 0; i < n; i++){
    mkname(name, prefix, i);
    CHECK(unlink(name) == 0, "unlink %s failed", name);
  }
}

// Running out of inodes is an error, and freeing them makes them usable again.
static void
inodes(char *s)
{
  CHECK(mkdir("utino") == 0 && chdir("utino") == 0, "mkdir/chdir utino failed");
  int n1 = fillinodes();
  CHECK(n1 > 20, "only %d files could be created", n1);
  CHECK(mkdir("more") == -1, "mkdir succeeded with no inodes left");
  rmnames("i", n1);
  int n2 = fillinodes();
  CHECK(n2 == n1, "first round made %d files, second %d: inodes leaked", n1, n2);
  rmnames("i", n2);
  mkfile("after", "ok", 2);
  expectfile("after", "ok", 2);
  CHECK(unlink("after") == 0, "unlink failed");
  CHECK(chdir("..") == 0 && unlink("utino") == 0, "cleanup failed");
}

// Writes files until the disk is full; returns the number of blocks written and the file count.
static int
filldisk(int *nfiles)
{
  char name[12];
  int blocks = 0, full = 0, f;
  memset(buf, 'D', BSIZE);
  for(f = 0; !full && f < 100; f++){
    mkname(name, "f", f);
    int fd = open(name, O_CREATE | O_RDWR);
    if(fd < 0)
      break;
    for(int b = 0; b < MAXFILE; b++){
      if(write(fd, buf, BSIZE) != BSIZE){
        full = 1;
        break;
      }
      blocks++;
    }
    close(fd);
  }
  CHECK(full || f < 100, "the disk never filled");
  *nfiles = f;
  return blocks;
}

// Running out of disk blocks is an error, and deleting files gives the blocks back.
static void
diskfull(char *s)
{
  int nf1, nf2;
  CHECK(mkdir("utfull") == 0 && chdir("utfull") == 0, "mkdir/chdir utfull failed");
  int b1 = filldisk(&nf1);
  CHECK(b1 > 100, "only %d blocks could be written", b1);
  int fd = open("x", O_CREATE | O_RDWR);   // may fail; must not hurt
  if(fd >= 0){
    write(fd, buf, BSIZE);
    close(fd);
    unlink("x");
  }
  rmnames("f", nf1);
  int b2 = filldisk(&nf2);
  CHECK(b2 + 8 >= b1, "first fill wrote %d blocks, second %d: blocks leaked", b1, b2);
  rmnames("f", nf2);
  mkfile("after", buf, 10*BSIZE);
  CHECK(unlink("after") == 0, "unlink failed");
  CHECK(chdir("..") == 0 && unlink("utfull") == 0, "cleanup failed");
}

// A directory with hundreds of names (links to one file).
static void
bigdir(char *s)
{
  enum { N = 400 };
  char name[12];
  struct stat st;
  CHECK(mkdir("utbigdir") == 0 && chdir("utbigdir") == 0, "mkdir/chdir failed");
  mkfile("target", "t", 1);
  for(int i = 0; i < N; i++){
    mkname(name, "x", i);
    CHECK(link("target", name) == 0, "link %s failed", name);
  }
  CHECK(stat("target", &st) == 0 && st.nlink == N + 1, "nlink %d, expected %d", st.nlink, N + 1);
  for(int i = 0; i < N; i++){
    mkname(name, "x", i);
    expectfile(name, "t", 1);
  }
  rmnames("x", N);
  CHECK(stat("target", &st) == 0 && st.nlink == 1,
        "nlink %d after unlinking, expected 1", st.nlink);
  CHECK(unlink("target") == 0 && countentries(".") == 2, "directory not empty");
  CHECK(chdir("..") == 0 && unlink("utbigdir") == 0, "cleanup failed");
}

// ---------------------------------------------------------------- pipes

static uchar
pipebyte(uint i)
{
  return (i * 13 + (i >> 10)) & 0xff;
}

// 1 MiB through a pipe in odd-sized pieces arrives complete and in order.
static void
pipebig(char *s)
{
  enum { TOTAL = 1024*1024 };
  int sizes[] = { 1, 100, 4096, 333, 2065, 512, 7, 8000 };
  int p[2];
  CHECK(pipe(p) == 0, "pipe failed");
  int pid = xfork();
  if(pid == 0){
    close(p[0]);
    uint sent = 0;
    for(int k = 0; sent < TOTAL; k++){
      int n = sizes[k % NELEM(sizes)];
      if(n > TOTAL - sent)
        n = TOTAL - sent;
      for(int i = 0; i < n; i++)
        buf[i] = pipebyte(sent + i);
      if(write(p[1], buf, n) != n)
        exit(1);
      sent += n;
    }
    exit(0);
  }
  close(p[1]);
  uint got = 0;
  int r;
  for(int k = 0; ; k++){
    r = read(p[0], buf, sizes[(k + 3) % NELEM(sizes)]);
    if(r <= 0)
      break;
    for(int i = 0; i < r; i++)
      CHECK((uchar)buf[i] == pipebyte(got + i), "byte %d wrong", got + i);
    got += r;
  }
  CHECK(r == 0, "pipe read failed with %d", r);
  CHECK(got == TOTAL, "received %d bytes, expected %d", got, TOTAL);
  CHECK(waitfor(pid) == 0, "the writer failed");
  close(p[0]);
}

// The reader sees EOF once every write end, in every process, is closed.
static void
pipeeof(char *s)
{
  int p[2];
  CHECK(pipe(p) == 0, "pipe failed");
  for(int k = 0; k < 3; k++){
    if(xfork() == 0){
      close(p[0]);
      pause(k);
      write(p[1], "w", 1);
      exit(0);
    }
  }
  close(p[1]);
  CHECK(readall(p[0], buf, 100) == 3, "did not get one byte from each writer");
  CHECK(read(p[0], buf, 1) == 0, "no EOF after all writers exited");
  CHECK(read(p[0], buf, 1) == 0, "EOF not repeated");
  for(int k = 0; k < 3; k++)
    CHECK(wait(0) > 0, "wait failed");
  close(p[0]);
}

// Writing to a pipe nobody reads fails (or kills the writer), even for a writer already blocked.
static void
pipeclosed(char *s)
{
  int p[2];
  CHECK(pipe(p) == 0, "pipe failed");
  close(p[0]);
  int pid = xfork();
  if(pid == 0){
    int r = write(p[1], "x", 1);
    exit(r == -1 ? 0 : 2);
  }
  int st = waitfor(pid);
  CHECK(st == 0 || st == -1, "write to a pipe without readers: child status %d", st);
  close(p[1]);
  CHECK(pipe(p) == 0, "pipe failed");
  pid = xfork();
  if(pid == 0){
    close(p[0]);
    for(int total = 0; total < 64*1024*1024; total += BUFSZ){
      int r = write(p[1], buf, BUFSZ);   // fills the pipe, whatever its size, then blocks
      if(r != BUFSZ)
        exit(r == -1 || (r >= 0 && r < BUFSZ) ? 0 : 2);
    }
    exit(3);                             // 64 MiB vanished into a pipe nobody reads
  }
  close(p[1]);
  pause(5);
  close(p[0]);
  st = waitfor(pid);
  CHECK(st == 0 || st == -1, "blocked writer whose reader left: child status %d", st);
}

// Pipes until descriptors run out; a failed pipe() leaks nothing; all of it comes back.
static void
manypipes(char *s)
{
  uint64 f0 = 0;
  for(int round = 0; round < 2; round++){
    int fds[NOFILE + 2], n = 0, p[2];
    if(round == 1)
      f0 = freepages();
    while(pipe(p) == 0){
      CHECK(n + 2 <= NOFILE, "more pipes than descriptors");
      fds[n++] = p[0];
      fds[n++] = p[1];
    }
    int d = dup(0);                    // a failed pipe() must not hold on to a lone descriptor
    if(d >= 0){
      CHECK(dup(0) == -1, "two descriptors were free, yet pipe() failed");
      close(d);
    }
    CHECK(write(fds[n-1], "ok", 2) == 2 && read(fds[n-2], buf, 2) == 2,
          "the last pipe does not work");
    for(int i = 0; i < n; i++)
      close(fds[i]);
    CHECK(pipe(p) == 0, "pipe fails after closing everything");
    close(p[0]);
    close(p[1]);
  }
  uint64 f1 = freepages();
  CHECK(f1 == f0, "pipes leaked %d pages", (int)(f0 - f1));
}

// A read into a bad buffer fails and leaves the data in the pipe for the next read.
static void
pipebadread(char *s)
{
  uint64 bad[MAXBAD];
  int n = badaddrs(bad), p[2], r;
  CHECK(pipe(p) == 0, "pipe failed");
  CHECK(write(p[1], "hello", 5) == 5, "write failed");
  for(int i = 0; i < n; i++)
    CHECK((r = read(p[0], (char *)bad[i], 5)) == -1,
          "read(pipe, %p) returned %d, expected -1", (void *)bad[i], r);
  CHECK((r = read(p[0], (char *)(uint64)textvictim, 5)) == -1,
        "read(pipe) into text returned %d", r);
  char *top = heaptop();
  r = read(p[0], top - 2, 5);          // only two bytes of room before unmapped memory
  if(r == -1){
    CHECK(read(p[0], buf, 5) == 5 && memcmp(buf, "hello", 5) == 0,
          "a failed read consumed pipe data");
  } else {
    CHECK(r == 2 && memcmp(top - 2, "he", 2) == 0, "read crossing the heap end returned %d", r);
    CHECK(read(p[0], buf, 3) == 3 && memcmp(buf, "llo", 3) == 0,
          "the short read consumed more than it returned");
  }
  CHECK(write(p[1], "world", 5) == 5, "write failed");
  char *l = sbrklazy(2*PGSIZE);
  CHECK(l != SBRK_ERROR, "sbrklazy failed");
  CHECK((r = read(p[0], l + PGSIZE, 5)) == 5, "read into an untouched lazy page returned %d", r);
  CHECK(memcmp(l + PGSIZE, "world", 5) == 0, "read into a lazy page got wrong data");
  close(p[0]);
  close(p[1]);
}

// Runs fn(arg) in a child that a second child kills if it has not exited within ticks.
// Returns the first child's exit status: -1 means it was still blocked when killed.
static int
inchild_within(void (*fn)(uint64), uint64 arg, int ticks)
{
  int pid = xfork();
  if(pid == 0){
    fn(arg);
    exit(0);
  }
  int dog = xfork();
  if(dog == 0){
    pause(ticks);
    kill(pid);
    exit(0);
  }
  int status = 12345;
  for(int i = 0; i < 2; i++){
    int st = 12345, r = wait(&st);
    CHECK(r == pid || r == dog, "wait returned %d, expected %d or %d", r, pid, dog);
    if(r == pid){
      status = st;
      kill(dog);                       // done early: no need to wait out the watchdog
    }
  }
  return status;
}

static void
zeroread(uint64 fd)
{
  int r = read((int)fd, buf, 0);
  if(r != 0){
    printf("%s: read(fd %d, buf, 0) returned %d, expected 0\n", tname, (int)fd, r);
    exit(1);
  }
}

// A zero-length read returns 0 at once: from an empty pipe whose writer is still open,
// from a pipe holding data (which it leaves there), and from the console.
static void
pipezeroread(char *s)
{
  int p[2], st;
  CHECK(pipe(p) == 0, "pipe failed");
  st = inchild_within(zeroread, p[0], 3 * TICKHZ);
  CHECK(st == 0, "read(empty pipe, buf, 0) %s", st == -1 ? "blocked" : "failed");
  CHECK(write(p[1], "data", 4) == 4, "pipe write failed");
  st = inchild_within(zeroread, p[0], 3 * TICKHZ);
  CHECK(st == 0, "read(pipe with data, buf, 0) %s", st == -1 ? "blocked" : "failed");
  CHECK(read(p[0], buf, 10) == 4 && memcmp(buf, "data", 4) == 0,
        "a zero-length read consumed data");
  close(p[0]);
  close(p[1]);
  unlink("utcons0");
  CHECK(mknod("utcons0", CONSOLE, 0) == 0, "mknod of a console node failed");
  int fd = open("utcons0", O_RDONLY);
  CHECK(fd >= 0, "open of the console node failed");
  st = inchild_within(zeroread, fd, 3 * TICKHZ);
  CHECK(st == 0, "read(console, buf, 0) %s", st == -1 ? "blocked" : "failed");
  close(fd);
  CHECK(unlink("utcons0") == 0, "unlink of the console node failed");
}

// Pipe writes are all or nothing with respect to the source: a source that runs into
// unmapped memory makes write return -1 with nothing written, even when the good part
// alone would fill the ring several times over.
static void
pipebadwrite(char *s)
{
  int p[2], r;
  char *top = heaptop();
  CHECK(sbrk(17*PGSIZE) != SBRK_ERROR, "sbrk failed");
  top += 17*PGSIZE;                    // [top - 18 pages, top) is mapped, top is not
  memset(top - 18*PGSIZE, 'w', 18*PGSIZE);
  CHECK(pipe(p) == 0, "pipe failed");
  r = write(p[1], top - PGSIZE, PGSIZE + 10);
  CHECK(r == -1, "write(pipe) of a good page then unmapped memory returned %d, expected -1", r);
  int pid = xfork();
  if(pid == 0){                        // drains the pipe, so a big write could not block
    close(p[1]);
    int got = readall(p[0], buf, BUFSZ);
    if(got != 1 || buf[0] != 'z'){
      printf("%s: failed writes left %d bytes in the pipe, expected only \"z\"\n", tname, got - 1);
      exit(1);
    }
    exit(0);
  }
  close(p[0]);
  r = write(p[1], top - 18*PGSIZE, 18*PGSIZE + 10);
  CHECK(r == -1, "write(pipe) of 18 good pages then unmapped memory returned %d, expected -1", r);
  r = write(p[1], top - PGSIZE, 0x7fffffff);
  CHECK(r == -1, "write(pipe, heap end - 4096, INT_MAX) returned %d, expected -1", r);
  CHECK(write(p[1], "z", 1) == 1, "write(pipe, \"z\") failed");
  close(p[1]);
  CHECK(waitfor(pid) == 0, "the reader saw bytes of failed writes");
}

// A pipe read whose destination runs into unmapped memory returns -1 and consumes
// nothing, even when the first part of the destination was good.
static void
pipebadbuf(char *s)
{
  int p[2], r;
  char *top = heaptop();
  for(int i = 0; i < 2*PGSIZE; i++)
    buf[i] = pat(i);
  CHECK(pipe(p) == 0, "pipe failed");
  CHECK(write(p[1], buf, 2*PGSIZE) == 2*PGSIZE, "pipe write failed");
  r = read(p[0], top - PGSIZE, 2*PGSIZE);
  CHECK(r == -1, "read(pipe) into a good page then unmapped memory returned %d, expected -1", r);
  r = read(p[0], top - PGSIZE, 0x7fffffff);
  CHECK(r == -1, "read(pipe, heap end - 4096, INT_MAX) returned %d, expected -1", r);
  memset(buf, 0, 2*PGSIZE);
  close(p[1]);
  r = readall(p[0], buf, BUFSZ);
  CHECK(r == 2*PGSIZE, "after failed reads the pipe held %d bytes, expected %d", r, 2*PGSIZE);
  for(int i = 0; i < 2*PGSIZE; i++)
    CHECK(buf[i] == pat(i), "byte %d read back wrong after failed reads", i);
  close(p[0]);
}

// Console writes are all or nothing with respect to the source, like pipe writes: a
// source that runs into unmapped memory prints nothing and returns -1.
static void
consbadwrite(char *s)
{
  static const char msg[] = "(usertests consbadwrite: this line must not be printed)";
  int r;
  char *top = heaptop();
  memset(top - PGSIZE, ' ', PGSIZE);
  for(int off = PGSIZE; off > 0; off -= 64){  // a line every 64 bytes, if printed
    memmove(top - off, msg, sizeof msg - 1);
    top[-off + 63] = '\n';
  }
  unlink("utcons1");
  CHECK(mknod("utcons1", CONSOLE, 0) == 0, "mknod of a console node failed");
  int fd = open("utcons1", O_WRONLY);
  CHECK(fd >= 0, "open of the console node failed");
  CHECK((r = write(fd, top - 128, 0)) == 0, "write(console, buf, 0) returned %d, expected 0", r);
  r = write(fd, top - 128, 200);
  CHECK(r == -1,
        "write(console) of 128 good bytes then unmapped memory returned %d, expected -1", r);
  r = write(fd, top - PGSIZE, 0x7fffffff);
  CHECK(r == -1, "write(console, heap end - 4096, INT_MAX) returned %d, expected -1", r);
  close(fd);
  CHECK(unlink("utcons1") == 0, "unlink of the console node failed");
}

static uint malloc_seed = 12345;

static uint
malloc_rand(void)
{
  malloc_seed = malloc_seed * 1103515245 + 12345;
  return (malloc_seed >> 8) & 0xffffff;
}

// The user heap: blocks never overlap, hold what was written, are aligned, and freed
// neighbours merge so that freed space can be handed out again as one larger block.
static void
mallocstress(char *s)
{
  enum { NSLOT = 150, STEPS = 4000 };
  static char *slot[NSLOT];
  static uint size[NSLOT];

  free(0);
  CHECK(malloc(0xffffffff) == 0, "malloc(0xffffffff) succeeded");
  CHECK(malloc(0x80000000) == 0, "malloc(2 GiB) succeeded");
  for(int step = 0; step < STEPS; step++){
    int i = malloc_rand() % NSLOT;
    if(slot[i]){
      for(uint k = 0; k < size[i]; k++)
        CHECK(slot[i][k] == (char)(i + k), "block %d (size %d) changed at byte %d", i, size[i], k);
      free(slot[i]);
      slot[i] = 0;
      continue;
    }
    uint r = malloc_rand();
    size[i] = r % 8 == 0 ? r % 20000 : r % 600;   // mostly small, some large, some 0
    slot[i] = malloc(size[i]);
    CHECK(slot[i] != 0, "malloc(%d) failed", size[i]);
    CHECK(((uint64)slot[i] & 7) == 0, "malloc returned %p, not 8-byte aligned", slot[i]);
    for(uint k = 0; k < size[i]; k++)
      slot[i][k] = (char)(i + k);
  }
  for(int i = 0; i < NSLOT; i++){
    for(uint k = 0; slot[i] && k < size[i]; k++)
      CHECK(slot[i][k] == (char)(i + k), "block %d (size %d) changed at byte %d", i, size[i], k);
    free(slot[i]);
    slot[i] = 0;
  }

  // 100 blocks of 1000 bytes, freed in an interleaved order, must merge again: a
  // 90000-byte block then fits without the heap growing.
  for(int i = 0; i < 100; i++)
    CHECK((slot[i] = malloc(1000)) != 0, "malloc(1000) failed");
  for(int i = 0; i < 100; i += 2)
    free(slot[i]);
  for(int i = 99; i > 0; i -= 2)
    free(slot[i]);
  char *top = sbrk(0);
  char *big = malloc(90000);
  CHECK(big != 0, "malloc(90000) failed");
  CHECK(sbrk(0) == top, "malloc(90000) grew the heap by %d bytes: freed blocks did not merge",
        (int)(sbrk(0) - top));
  free(big);
}

// Bytes go back and forth between two processes, one at a time.
static void
pingpong(char *s)
{
  int a[2], b[2];
  uchar c;
  CHECK(pipe(a) == 0 && pipe(b) == 0, "pipe failed");
  int pid = xfork();
  if(pid == 0){
    close(a[1]);                       // else our own copy would keep EOF from ever coming
    close(b[0]);
    for(;;){
      if(read(a[0], &c, 1) != 1)
        exit(0);
      c++;
      if(write(b[1], &c, 1) != 1)
        exit(1);
    }
  }
  close(a[0]);
  close(b[1]);
  c = 0;
  for(int i = 0; i < 1000; i++){
    uchar want = c + 1;
    CHECK(write(a[1], &c, 1) == 1, "write failed");
    CHECK(read(b[0], &c, 1) == 1 && c == want, "round %d: got %d, expected %d", i, c, want);
  }
  close(a[1]);
  CHECK(waitfor(pid) == 0, "the echo process failed");
  close(b[0]);
}

// Several writers share one pipe; every byte arrives.
static void
pipewriters(char *s)
{
  int p[2], count[4] = {0}, r;
  CHECK(pipe(p) == 0, "pipe failed");
  for(int k = 0; k < 4; k++){
    if(xfork() == 0){
      char rec[8];
      close(p[0]);
      memset(rec, 'a' + k, sizeof rec);
      for(int i = 0; i < 250; i++)
        if(write(p[1], rec, sizeof rec) != sizeof rec)
          exit(1);
      exit(0);
    }
  }
  close(p[1]);
  while((r = read(p[0], buf, 300)) > 0)
    for(int i = 0; i < r; i++){
      CHECK(buf[i] >= 'a' && buf[i] < 'a' + 4, "garbage in the pipe");
      count[buf[i] - 'a']++;
    }
  for(int k = 0; k < 4; k++){
    int st;
    CHECK(wait(&st) > 0 && st == 0, "a writer failed");
    CHECK(count[k] == 2000, "writer %d delivered %d bytes, expected 2000", k, count[k]);
  }
  close(p[0]);
}

// ---------------------------------------------------------------- the runner

struct test {
  void (*fn)(char *);
  char *name;
  int quick;                           // 0: slow (exhausts memory or disk, or takes long)
};

static struct test tests[] = {
  { copyin,       "copyin",       1 },
  { copyout,      "copyout",      1 },
  { copyinstr,    "copyinstr",    1 },
  { pathlong,     "pathlong",     1 },
  { rwsizes,      "rwsizes",      1 },
  { badfd,        "badfd",        1 },
  { sbrkbad,      "sbrkbad",      1 },
  { execargs,     "execargs",     1 },
  { execbad,      "execbad",      1 },
  { execevil,     "execevil",     1 },
  { execok,       "execok",       1 },
  { sbrkbasic,    "sbrkbasic",    1 },
  { sbrkmuch,     "sbrkmuch",     1 },
  { sbrkneg,      "sbrkneg",      1 },
  { sbrklast,     "sbrklast",     1 },
  { sbrkarg,      "sbrkarg",      1 },
  { sbrklazy1,    "sbrklazy",     1 },
  { lazyio,       "lazyio",       1 },
  { lazybounds,   "lazybounds",   1 },
  { lazyfork,     "lazyfork",     1 },
  { stackguard,   "stackguard",   1 },
  { textwrite,    "textwrite",    1 },
  { copyoutcow,   "copyoutcow",   1 },
  { copyoutbad,   "copyoutbad",   1 },
  { kernmem,      "kernmem",      1 },
  { maxva,        "maxva",        1 },
  { memfree,      "memfree",      1 },
  { vmqbad,       "vmqbad",       1 },
  { vmqrange,     "vmqrange",     1 },
  { vmqholes,     "vmqholes",     1 },
  { vmqfork,      "vmqfork",      1 },
  { vmqtext,      "vmqtext",      1 },
  { forkmem,      "forkmem",      1 },
  { forkwait,     "forkwait",     1 },
  { exitstatus,   "exitstatus",   1 },
  { waitnochild,  "waitnochild",  1 },
  { reparent,     "reparent",     1 },
  { reparentmany, "reparentmany", 1 },
  { forkfull,     "forkfull",     1 },
  { killsleep,    "killsleep",    1 },
  { killspin,     "killspin",     1 },
  { killpipe,     "killpipe",     1 },
  { killbad,      "killbad",      1 },
  { killinit,     "killinit",     1 },
  { killtargets,  "killtargets",  1 },
  { syscallnum,   "syscallnum",   1 },
  { pauselimits,  "pauselimits",  1 },
  { sbrkunder,    "sbrkunder",    1 },
  { memstatfill,  "memstatfill",  1 },
  { preempt,      "preempt",      1 },
  { concfork,     "concfork",     1 },
  { getpidtest,   "getpid",       1 },
  { pausetime,    "pausetime",    1 },
  { smallfile,    "smallfile",    1 },
  { bigfile,      "bigfile",      1 },
  { bigwrite,     "bigwrite",     1 },
  { truncate,     "truncate",     1 },
  { openmissing,  "openmissing",  1 },
  { openflags,    "openflags",    1 },
  { dirbasic,     "dirbasic",     1 },
  { dotdot,       "dotdot",       1 },
  { removeddir,   "removeddir",   1 },
  { itablefull,   "itablefull",   1 },
  { linkremoved,  "linkremoved",  1 },
  { statpad,      "statpad",      1 },
  { writemax,     "writemax",     1 },
  { readzero,     "readzero",     1 },
  { pathlimits,   "pathlimits",   1 },
  { deeppath,     "deeppath",     1 },
  { dirsiz,       "dirsiz",       1 },
  { opendirwrite, "opendirwrite", 1 },
  { chdirfile,    "chdirfile",    1 },
  { console,      "console",      1 },
  { badmajor,     "badmajor",     1 },
  { linkbasic,    "linkbasic",    1 },
  { unlinkopen,   "unlinkopen",   1 },
  { nofile,       "nofile",       1 },
  { nfile,        "nfile",        1 },
  { fstatbasic,   "fstat",        1 },
  { syncbasic,    "syncbasic",    1 },
  { syncbusy,     "syncbusy",     1 },
  { sharedoffset, "sharedoffset", 1 },
  { fourfiles,    "fourfiles",    1 },
  { sharedfd,     "sharedfd",     1 },
  { concreate,    "concreate",    1 },
  { createdelete, "createdelete", 1 },
  { linkunlink,   "linkunlink",   1 },
  { manyfiles,    "manyfiles",    1 },
  { pipebig,      "pipebig",      1 },
  { pipeeof,      "pipeeof",      1 },
  { pipeclosed,   "pipeclosed",   1 },
  { manypipes,    "manypipes",    1 },
  { pipebadread,  "pipebadread",  1 },
  { pipezeroread, "pipezeroread", 1 },
  { pipebadwrite, "pipebadwrite", 1 },
  { pipebadbuf,   "pipebadbuf",   1 },
  { consbadwrite, "consbadwrite", 1 },
  { mallocstress, "mallocstress", 1 },
  { pingpong,     "pingpong",     1 },
  { pipewriters,  "pipewriters",  1 },
  { oom,          "oom",          0 },
  { sbrkmaxva,    "sbrkmaxva",    0 },
  { forkfullmany, "forkfullmany", 0 },
  { inodes,       "inodes",       0 },
  { diskfull,     "diskfull",     0 },
  { bigdir,       "bigdir",       0 },
};

// Runs one test in its own child; returns 1 if it passed.
static int
runtest(struct test *t)
{
  int pid = fork();
  if(pid < 0){
    printf("test %s: FAILED (the runner could not fork)\n", t->name);
    return 0;
  }
  if(pid == 0){
    tname = t->name;
    t->fn(t->name);
    exit(0);
  }
  int st = 1;
  if(wait(&st) != pid)
    st = 1;
  printf("test %s: %s\n", t->name, st == 0 ? "OK" : "FAILED");
  return st == 0;
}

// Pages still missing from the free list after the run are leaks. Orphans are reaped by init
// in its own time, so give it a moment before concluding.
static int
checkfree(uint64 before)
{
  struct memstat ms;
  for(int i = 0; i < 50; i++){
    if(memstat(&ms) < 0){
      printf("test freepages: FAILED (memstat failed)\n");
      return 0;
    }
    if(ms.freepages == before)
      break;
    pause(2);
  }
  if(ms.freepages != before){
    printf("freepages: %d free before the run, %d after\n", (int)before, (int)ms.freepages);
    printf("test freepages: FAILED\n");
    return 0;
  }
  printf("test freepages: OK\n");
  return 1;
}

static void
usage(void)
{
  fprintf(2, "usage: usertests [-q] [test ...]\ntests:");
  for(int i = 0; i < NELEM(tests); i++)
    fprintf(2, " %s%s", tests[i].name, tests[i].quick ? "" : "(slow)");
  fprintf(2, " freepages\n");
  exit(1);
}

static int
parseint(char *p)
{
  int neg = (*p == '-');
  if(neg)
    p++;
  int v = atoi(p);
  return neg ? -v : v;
}

int
main(int argc, char *argv[])
{
  static char selected[NELEM(tests)];
  int quick = 0, named = 0, ok = 1;
  struct memstat ms;

  // hidden helper modes, for the exec tests
  if(argc >= 2 && strcmp(argv[1], "-exit") == 0)
    exit(argc >= 3 ? parseint(argv[2]) : 0);
  if(argc >= 2 && strcmp(argv[1], "-argcheck") == 0)
    exit(argcheck(argc, argv));

  for(int i = 1; i < argc; i++){
    if(strcmp(argv[i], "-q") == 0){
      quick = 1;
      continue;
    }
    if(strcmp(argv[i], "freepages") == 0){
      named = 1;
      continue;
    }
    int k;
    for(k = 0; k < NELEM(tests) && strcmp(tests[k].name, argv[i]) != 0; k++)
      ;
    if(k == NELEM(tests)){
      fprintf(2, "usertests: no test named %s\n", argv[i]);
      usage();
    }
    selected[k] = 1;
    named = 1;
  }
  if(memstat(&ms) < 0){
    printf("usertests: memstat failed\n");
    exit(1);
  }
  printf("usertests starting\n");
  for(int i = 0; i < NELEM(tests); i++){
    if(named ? !selected[i] : (quick && !tests[i].quick))
      continue;
    if(!runtest(&tests[i]))
      ok = 0;
  }
  if(!checkfree(ms.freepages))
    ok = 0;
  printf(ok ? "ALL TESTS PASSED\n" : "SOME TESTS FAILED\n");
  exit(ok ? 0 : 1);
}
