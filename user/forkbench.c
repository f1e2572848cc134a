// forkbench: what fork costs as a process grows, with a copy-on-write fork or an eager
// (copying) one. Prints a table and one machine-readable "forkbench," line per heap size.
//
//   forkbench            heaps of 0 1 4 16 64 MiB
//   forkbench -q         quick: heaps of 0 and 1 MiB, 3 repetitions (make check uses it)
//   forkbench MIB...     these heap sizes (at most MAXSIZES)
//   forkbench -exit      exits at once: the program the exec column runs
//
// For each heap size every heap page is written first (touched, so it is mapped), then:
//   fork       fork + the child exits at once + the parent waits
//   forkwrite  fork + the child writes one byte to every heap page + exits + parent waits
//   reuse      the parent writes every heap page right after a fork whose child has exited
//              (COW: each page is still marked COW with count 1, so each write takes the
//              fault's REUSE path, no copy; eager: plain stores)
//   touch      the parent writes every heap page with no fork in between (plain stores)
//   pages      free pages before fork minus free pages after it (memstat), while the child
//              is parked on a pipe: what the fork itself allocated
//   exec       fork + the child execs "forkbench -exit" + the parent waits (fork-then-exec)
//   random     fork + the child writes one byte to RANDOM_PCT% of the heap pages, each once,
//              in random order + exits + parent waits
//   written, allocated  pages the random child writes, and free pages before its writes
//              minus after them (memstat, the child parked on a pipe before and after)
// Times are medians of several repetitions, read from the RISC-V time CSR (10 MHz on QEMU's
// virt machine; the kernel sets scounteren.TM so user mode may read it). A fork that fails
// (the eager kernel out of memory) is printed as "fork failed" and as -1 in the CSV line.
// Timings are reported, never judged: this is a benchmark, not a test.
#include "kernel/types.h"
#include "kernel/memstat.h"
#include "user/user.h"

#define PAGE       4096
#define MIB        (1024 * 1024)
#define TICKS_US   10         // time CSR ticks per microsecond (QEMU virt: 10 MHz)
#define MAXREPS    15
#define MAXSIZES   8
#define MAXMIB     1024
#define FAILED     ((uint64)-1)  // a time that could not be measured: a fork failed
#define RANDOM_PCT 10         // percent of the heap pages the random child writes

static char *heap;            // start of the heap this program grows and shrinks
static int heapbytes;         // current heap size
static char *self;            // this program's path (argv[0]), for the exec child

// What a forked child does before it exits.
enum work { EXIT, WRITEALL, WRITERANDOM, EXEC };

// Repetitions for a heap of mib MiB: fewer for the big ones (an eager fork of 64 MiB
// copies 16384 pages each time).
static int
repsfor(int mib, int quick)
{
  if(quick)
    return 3;
  if(mib <= 4)
    return MAXREPS;
  if(mib <= 16)
    return 7;
  return 5;
}

static uint64
median(uint64 *v, int n)
{
  for(int i = 1; i < n; i++){           // insertion sort: n is small
    uint64 x = v[i];
    int j = i;
    for(; j > 0 && v[j-1] > x; j--)
      v[j] = v[j-1];
    v[j] = x;
  }
  return v[n / 2];
}

// Grow or shrink the heap to mib MiB. 0, or -1 if sbrk failed.
static int
setheap(int mib)
{
  int want = mib * MIB;
  if(want != heapbytes){
    if(sbrk(want - heapbytes) == SBRK_ERROR)
      return -1;
    heapbytes = want;
  }
  return 0;
}

// Write one byte to every heap page; the value varies so no pass is a no-op.
static void
touch(char *mem, int bytes, int val)
{
  for(int off = 0; off < bytes; off += PAGE)
    mem[off] = (char)(val + off / PAGE);
}

// How many heap pages the random child writes.
static int
randomcount(void)
{
  return heapbytes / PAGE * RANDOM_PCT / 100;
}

// Write one byte to randomcount() distinct heap pages in a random order: the pages a
// full-period linear congruential sequence modulo a power of two visits first, skipping
// numbers past the heap.
static void
touchrandom(void)
{
  uint npages = heapbytes / PAGE, m = 1, x = 0;
  while(m < npages)
    m *= 2;
  for(int left = randomcount(); left > 0; ){
    x = (1103515245 * x + 12345) & (m - 1);   // period m: the multiplier is 1 mod 4
    if(x < npages){
      heap[(uint64)x * PAGE] = (char)x;
      left--;
    }
  }
}

// The child's part of one fork. Does not return.
static void
childwork(enum work work)
{
  char *argv[] = { self, "-exit", 0 };

  switch(work){
  case EXIT:
    break;
  case WRITEALL:
    touch(heap, heapbytes, 7);
    break;
  case WRITERANDOM:
    touchrandom();
    break;
  case EXEC:
    exec(self, argv);
    printf("forkbench: exec %s failed\n", self);
    exit(1);
  }
  exit(0);
}

// One fork whose child does work and exits; the parent waits. Elapsed ticks, or FAILED.
static uint64
forkonce(enum work work)
{
  uint64 t0 = rdtime();
  int pid = fork();
  if(pid < 0)
    return FAILED;
  if(pid == 0)
    childwork(work);
  int status = -1;
  wait(&status);
  uint64 t1 = rdtime();
  if(status != 0){
    printf("forkbench: child exited with status %d\n", status);
    return FAILED;
  }
  return t1 - t0;
}

// Median over reps of forkonce(work); FAILED if any fork failed.
static uint64
timefork(enum work work, int reps)
{
  uint64 t[MAXREPS];
  for(int i = 0; i < reps; i++)
    if((t[i] = forkonce(work)) == FAILED)
      return FAILED;
  return median(t, reps);
}

// Median time of a parent write pass over the heap, after a fork + exit + wait if
// afterfork (the COW reuse path), else with nothing in between. FAILED if a fork failed.
static uint64
timetouch(int afterfork, int reps)
{
  uint64 t[MAXREPS];
  for(int i = 0; i < reps; i++){
    if(afterfork && forkonce(EXIT) == FAILED)
      return FAILED;
    uint64 t0 = rdtime();
    touch(heap, heapbytes, i);
    t[i] = rdtime() - t0;
  }
  return median(t, reps);
}

// Pages one fork allocates, the child parked on a pipe meanwhile; -1 if fork failed.
static int
forkpages(void)
{
  struct memstat before, after;
  int fds[2];
  char c = 0;

  if(pipe(fds) < 0)
    return -1;
  if(memstat(&before) < 0)
    return -1;
  int pid = fork();
  if(pid < 0){
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if(pid == 0){
    close(fds[1]);
    read(fds[0], &c, 1);
    exit(0);
  }
  int r = memstat(&after);
  write(fds[1], &c, 1);
  close(fds[0]);
  close(fds[1]);
  wait(0);
  if(r < 0)
    return -1;
  return (int)(before.freepages - after.freepages);
}

// Pages the random child allocates while it writes (the free pages before its writes
// minus after them), or -1 if fork failed. Each process makes its stack page its own
// (a store, and a read into it) before the measurement, so only the heap writes count.
static int
randompages(void)
{
  struct memstat before, after;
  int ready[2], go[2];
  char c = 'r';

  if(pipe(ready) < 0)
    return -1;
  if(pipe(go) < 0){
    close(ready[0]);
    close(ready[1]);
    return -1;
  }
  int pid = fork();
  if(pid == 0){
    c = 'c';
    write(ready[1], &c, 1);
    read(go[0], &c, 1);
    touchrandom();
    write(ready[1], &c, 1);
    read(go[0], &c, 1);
    exit(0);
  }
  int r = -1;
  if(pid > 0){
    read(ready[0], &c, 1);
    memstat(&before);
    write(go[1], &c, 1);
    read(ready[0], &c, 1);
    memstat(&after);
    write(go[1], &c, 1);
    wait(0);
    r = (int)(before.freepages - after.freepages);
  }
  close(ready[0]);
  close(ready[1]);
  close(go[0]);
  close(go[1]);
  return r;
}

// Microseconds with one decimal, right-aligned in width columns; "-" for a failed fork.
static void
putus(uint64 ticks, int width)
{
  char buf[24];
  int n = 0;
  if(ticks == FAILED){
    buf[n++] = '-';
  } else {
    uint64 us = ticks / TICKS_US;
    char digits[20];
    int d = 0;
    do {
      digits[d++] = '0' + us % 10;
      us /= 10;
    } while(us > 0);
    while(d > 0)
      buf[n++] = digits[--d];
    buf[n++] = '.';
    buf[n++] = '0' + ticks % TICKS_US;
  }
  for(int i = n; i < width; i++)
    printf(" ");
  buf[n] = 0;
  printf("%s", buf);
}

// n right-aligned in width columns (the user printf has no field widths).
static void
putint(int n, int width)
{
  char buf[16];
  int d = 0, neg = n < 0;
  uint u = neg ? -n : n;
  do {
    buf[d++] = '0' + u % 10;
    u /= 10;
  } while(u > 0);
  if(neg)
    buf[d++] = '-';
  for(int i = d; i < width; i++)
    printf(" ");
  while(d > 0)
    printf("%c", buf[--d]);
}

// The CSV value: microseconds with one decimal, or -1 for a failed fork.
static void
csvus(uint64 ticks)
{
  if(ticks == FAILED)
    printf(",-1");
  else
    printf(",%lu.%lu", ticks / TICKS_US, ticks % TICKS_US);
}

static void
usage(void)
{
  fprintf(2, "usage: forkbench [-q] [MiB ...]  (at most %d sizes, each 0..%d), "
          "or forkbench -exit\n", MAXSIZES, MAXMIB);
  exit(1);
}

int
main(int argc, char *argv[])
{
  int sizes[MAXSIZES] = { 0, 1, 4, 16, 64 };
  int nsizes = 5, quick = 0, given = 0;

  if(argc == 2 && strcmp(argv[1], "-exit") == 0)
    exit(0);
  self = argv[0];
  for(int i = 1; i < argc; i++){
    if(strcmp(argv[i], "-q") == 0){
      quick = 1;
      continue;
    }
    if(argv[i][0] < '0' || argv[i][0] > '9' || given >= MAXSIZES)
      usage();
    int mib = atoi(argv[i]);
    if(mib > MAXMIB)
      usage();
    sizes[given++] = mib;
  }
  if(given)
    nsizes = given;
  else if(quick)
    nsizes = 2;                 // 0 and 1 MiB

  heap = sbrk(0);
  printf("forkbench: fork cost by heap size; times in us, median of several runs\n");
  printf("  heap  mapped       fork  forkwrite      reuse      touch   pages       exec"
         "     random  written allocated\n");
  printf("   MiB   pages                                               by fork\n");
  for(int s = 0; s < nsizes; s++){
    int mib = sizes[s], reps = repsfor(mib, quick);
    if(setheap(mib) < 0){
      putint(mib, 6);
      printf("  sbrk failed: not enough memory for this heap\n");
      printf("forkbench,%d,-1,-1,-1,-1,-1,-1,0,-1,-1,-1,-1\n", mib);
      continue;
    }
    touch(heap, heapbytes, 1);
    int mapped = (int)((uint64)sbrk(0) / PAGE);   // text, data, stack and heap pages
    uint64 tt = timetouch(0, reps);
    // The shapes that write few pages first: on QEMU, the traps that follow a pass over
    // every page run slower for a while (in every kernel), which would color them.
    uint64 tf = timefork(EXIT, reps);
    int ok = tf != FAILED;
    uint64 te = ok ? timefork(EXEC, reps) : FAILED;
    uint64 trand = ok ? timefork(WRITERANDOM, reps) : FAILED;
    int written = randomcount(), allocated = ok ? randompages() : -1;
    uint64 tr = ok ? timetouch(1, reps) : FAILED;
    uint64 tw = ok ? timefork(WRITEALL, reps) : FAILED;
    int pages = ok ? forkpages() : -1;

    putint(mib, 6);
    putint(mapped, 8);
    printf(" ");
    if(tf == FAILED){
      printf("  fork failed (out of memory?)\n");
    } else {
      putus(tf, 10);
      putus(tw, 11);
      putus(tr, 11);
      putus(tt, 11);
      putint(pages, 8);
      putus(te, 11);
      putus(trand, 11);
      putint(written, 9);
      putint(allocated, 10);
      printf("\n");
    }
    // forkbench,SIZE_MIB,fork_us,forkwrite_us,pages,reuse_us,touch_us,mapped_pages,reps,
    //   exec_us,random_us,random_written,random_allocated
    printf("forkbench,%d", mib);
    csvus(tf);
    csvus(tw);
    printf(",%d", pages);
    csvus(tr);
    csvus(tt);
    printf(",%d,%d", mapped, reps);
    csvus(te);
    csvus(trand);
    printf(",%d,%d\n", written, allocated);
  }
  setheap(0);
  printf("forkbench: done\n");
  exit(0);
}
