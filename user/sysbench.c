// sysbench: times the kernel's common paths side by side in one run -- system-call round
// trip, a pipe between two processes, a user-space memcpy (the physical reference), small
// file writes and reads, fork+exec+exit -- and counts the disk requests of the file tests.
//
//   sysbench        the full run: 16 MiB through pipe and memcpy, a 200 KiB file
//   sysbench -q     quick (make check): 1 MiB and 20 KiB; checks every byte and exit status
//                   and ends "sysbench: OK", or "sysbench: FAIL ..." (exit 1)
//   sysbench -exit  exit at once (the program fork+exec runs)
//
// Prints a table, then one machine-readable "sysbench,NAME,VALUE,UNIT" line per number.
// Times come from the time CSR (10 MHz on QEMU virt; the kernel sets scounteren.TM so
// user mode may read it). Disk requests are memstat()'s diskreads + diskwrites (bio.c
// counts every block the buffer cache reads or writes). The numbers are reported, never
// judged: only -q's correctness checks can fail.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "kernel/memstat.h"
#include "user/user.h"

#define KIB        1024
#define MIB        (1024 * 1024)
#define TICKS_US   10            // time CSR ticks per microsecond
#define CHUNK      (64 * KIB)    // pipe reads and writes
#define NOCOUNT    ((uint64)-1)  // memstat() filled no disk counters (an older kernel)

static int quick;
static int failed;

static void
fail(const char *what)
{
  printf("sysbench: FAIL %s\n", what);
  failed = 1;
}

// Disk blocks read plus written since boot, or NOCOUNT if the kernel does not say.
static uint64
diskreqs(void)
{
  struct memstat m;
  memset(&m, 0xff, sizeof(m));
  if(memstat(&m) < 0 || m.diskreads == NOCOUNT)
    return NOCOUNT;
  return m.diskreads + m.diskwrites;
}

static uint64
since(uint64 d0)
{
  uint64 d1 = diskreqs();
  return (d0 == NOCOUNT || d1 == NOCOUNT) ? NOCOUNT : d1 - d0;
}

// printf has no %f: print v/1000 with three decimals.
static void
milli(uint64 v)
{
  printf("%d.%d%d%d", (int)(v / 1000), (int)(v / 100 % 10), (int)(v / 10 % 10), (int)(v % 10));
}

static void
row(const char *name, const char *what, uint64 ticks, uint64 bytes, uint64 reqs)
{
  printf("%s  %s  ", name, what);
  milli(ticks * 1000 / (TICKS_US * 1000));
  printf(" ms");
  if(bytes && ticks)
    printf("  %d MiB/s", (int)(bytes * TICKS_US * 1000000 / MIB / ticks));
  if(reqs != NOCOUNT)
    printf("  %d disk requests", (int)reqs);
  printf("\n");
}

static void
csv(const char *name, uint64 value, const char *unit)
{
  printf("sysbench,%s,%d,%s\n", name, (int)value, unit);
}

// The physical reference: a plain 8-byte-word copy, the loop a kernel copy would use.
static void
wordcopy(void *dst, const void *src, uint n)
{
  uint64 *d = dst;
  const uint64 *s = src;
  for(uint i = 0; i < n / 8; i += 4){
    d[i] = s[i];
    d[i + 1] = s[i + 1];
    d[i + 2] = s[i + 2];
    d[i + 3] = s[i + 3];
  }
}

static char
pattern(uint64 i)
{
  return (char)(i * 7 + (i >> 12));
}

static char *
grow(int n)
{
  char *p = sbrk(n);
  if(p == SBRK_ERROR){
    printf("sysbench: out of memory\n");
    exit(1);
  }
  return p;
}

static uint64
bench_syscall(int n)
{
  uint64 t0 = rdtime();
  for(int i = 0; i < n; i++)
    getpid();
  return rdtime() - t0;
}

static uint64
bench_memcpy(char *dst, char *src, int n)
{
  uint64 t0 = rdtime();
  wordcopy(dst, src, n);
  uint64 t = rdtime() - t0;
  if(memcmp(dst, src, n) != 0)
    fail("memcpy copied wrong bytes");
  return t;
}

// n bytes of src from a child, through a pipe, into dst in the parent.
static uint64
bench_pipe(char *dst, char *src, int n)
{
  int fds[2];
  if(pipe(fds) < 0){
    fail("pipe");
    return 0;
  }
  int pid = fork();
  if(pid < 0){
    fail("fork");
    return 0;
  }
  if(pid == 0){
    close(fds[0]);
    for(int off = 0; off < n; off += CHUNK)
      if(write(fds[1], src + off, CHUNK) != CHUNK)
        exit(1);
    exit(0);
  }
  close(fds[1]);
  memset(dst, 0, n);        // resolve fork's copy-on-write faults before the clock starts
  uint64 t0 = rdtime();
  int got = 0, r;
  while(got < n && (r = read(fds[0], dst + got, n - got < CHUNK ? n - got : CHUNK)) > 0)
    got += r;
  uint64 t = rdtime() - t0;
  close(fds[0]);
  int status = -1;
  wait(&status);
  if(got != n || status != 0)
    fail("pipe transfer short or writer failed");
  else if(memcmp(dst, src, n) != 0)
    fail("pipe delivered wrong bytes");
  return t;
}

// Write a file of total bytes in KIB-sized write() calls (open to close), then read it
// back the same way and compare. Returns the two times and disk request counts.
static void
bench_file(int total, uint64 *wt, uint64 *wreqs, uint64 *rt, uint64 *rreqs)
{
  static char buf[KIB];
  char *name = "sysbench.tmp";

  unlink(name);
  uint64 d0 = diskreqs(), t0 = rdtime();
  int fd = open(name, O_CREATE | O_WRONLY | O_TRUNC);
  if(fd < 0){
    fail("create file");
    return;
  }
  for(int off = 0; off < total; off += KIB){
    for(int i = 0; i < KIB; i++)
      buf[i] = pattern(off + i);
    if(write(fd, buf, KIB) != KIB){
      fail("file write");
      break;
    }
  }
  close(fd);
  *wt = rdtime() - t0;
  *wreqs = since(d0);

  d0 = diskreqs();
  t0 = rdtime();
  int bad = 0, got = 0, r;
  if((fd = open(name, O_RDONLY)) < 0){
    fail("open file");
    return;
  }
  while((r = read(fd, buf, KIB)) > 0){
    for(int i = 0; i < r; i++)
      if(buf[i] != pattern(got + i))
        bad = 1;
    got += r;
  }
  close(fd);
  *rt = rdtime() - t0;
  *rreqs = since(d0);
  if(got != total || bad)
    fail("file read back wrong");
  unlink(name);
}

static uint64
bench_exec(int n)
{
  char *argv[] = { "sysbench", "-exit", 0 };
  uint64 t0 = rdtime();
  for(int i = 0; i < n; i++){
    int pid = fork();
    if(pid < 0){
      fail("fork");
      return 0;
    }
    if(pid == 0){
      exec("sysbench", argv);
      exit(2);
    }
    int status = -1;
    wait(&status);
    if(status != 0){
      fail("exec of sysbench -exit");
      return 0;
    }
  }
  return rdtime() - t0;
}

int
main(int argc, char **argv)
{
  if(argc > 1 && strcmp(argv[1], "-exit") == 0)
    exit(0);
  quick = argc > 1 && strcmp(argv[1], "-q") == 0;

  int nsys = quick ? 2000 : 50000;
  int nbytes = quick ? MIB : 16 * MIB;
  int fbytes = quick ? 20 * KIB : 200 * KIB;
  int nexec = quick ? 3 : 20;

  char *src = grow(nbytes), *dst = grow(nbytes);
  for(int i = 0; i < nbytes; i++)
    src[i] = pattern(i);
  memset(dst, 0, nbytes);

  uint64 tsys = bench_syscall(nsys);
  uint64 tcpy = bench_memcpy(dst, src, nbytes);
  uint64 tpipe = bench_pipe(dst, src, nbytes);
  uint64 tw = 0, tr = 0, wreqs = NOCOUNT, rreqs = NOCOUNT;
  bench_file(fbytes, &tw, &wreqs, &tr, &rreqs);
  uint64 texec = bench_exec(nexec);

  printf("sysbench%s: times from the time CSR, side by side in one run\n", quick ? " -q" : "");
  printf("syscall   getpid x %d: %d ns each\n", nsys, (int)(tsys * 100 / nsys));
  row("memcpy ", "user-space word copy of the buffer", tcpy, nbytes, NOCOUNT);
  row("pipe   ", "the same bytes child -> parent   ", tpipe, nbytes, NOCOUNT);
  if(tpipe)
    printf("pipe/memcpy throughput: %d%%\n", (int)(tcpy * 100 / tpipe));
  row("fwrite ", "create + 1 KiB writes + close    ", tw, fbytes, wreqs);
  row("fread  ", "open + 1 KiB reads + close       ", tr, fbytes, rreqs);
  printf("exec     fork+exec+exit+wait x %d: %d us each\n", nexec,
         nexec ? (int)(texec / TICKS_US / nexec) : 0);

  csv("syscall_ns", tsys * 100 / nsys, "ns");
  csv("memcpy_us", tcpy / TICKS_US, "us");
  csv("pipe_us", tpipe / TICKS_US, "us");
  csv("pipe_vs_memcpy_pct", tpipe ? tcpy * 100 / tpipe : 0, "percent");
  csv("filewrite_us", tw / TICKS_US, "us");
  csv("fileread_us", tr / TICKS_US, "us");
  if(wreqs != NOCOUNT){
    csv("filewrite_diskreqs", wreqs, "requests");
    csv("fileread_diskreqs", rreqs, "requests");
  }
  csv("exec_us", nexec ? texec / TICKS_US / nexec : 0, "us");
  csv("bytes_pipe_memcpy", nbytes, "bytes");
  csv("bytes_file", fbytes, "bytes");

  if(quick && !failed)
    printf("sysbench: OK\n");
  exit(failed);
}
