// cowtest: tests of copy-on-write fork, checked through memory contents, wait status and
// the kernel's memstat() counters. Prints "NAME: ok" or "NAME: FAILED (...)" per test.
//
//   cowtest              every test
//   cowtest NAME ...     only those tests (the leak test always runs)
//
// The tests run in a child ("runner") so that the final leak test can compare free pages
// before and after with the runner's whole address space, page tables included, gone.
#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memstat.h"
#include "kernel/vmquery.h"
#include "user/user.h"

#define PAGE 4096
#define NELEM(x) ((int)(sizeof(x) / sizeof((x)[0])))
#define PAGEUP(a) (((a) + PAGE - 1) & ~(uint64)(PAGE - 1))

// ---------------------------------------------------------------- helpers

static int
ok(const char *name)
{
  printf("%s: ok\n", name);
  return 0;
}

static int
failed(const char *name, const char *expected, long saw)
{
  printf("%s: FAILED (expected %s, saw %ld)\n", name, expected, saw);
  return 1;
}

static struct memstat
stats(void)
{
  struct memstat st;
  if(memstat(&st) < 0){
    printf("cowtest: memstat failed\n");
    exit(1);
  }
  return st;
}

// A page-aligned region of npages pages from sbrk (eager: every page allocated now).
struct region {
  char *base;    // page-aligned start
  int npages;
  int total;     // bytes taken from sbrk, padding included
};

static int
grab(struct region *r, int npages)
{
  char *cur = sbrk(0);
  int pad = PAGEUP((uint64)cur) - (uint64)cur;
  r->total = pad + npages * PAGE;
  if(sbrk(r->total) == SBRK_ERROR)
    return -1;
  r->base = cur + pad;
  r->npages = npages;
  return 0;
}

static void
release(struct region *r)
{
  sbrk(-r->total);
}

// The first word of page i of r.
static uint64 *
word(struct region *r, int i)
{
  return (uint64 *)(r->base + (uint64)i * PAGE);
}

static void
fill(struct region *r, uint64 seed)
{
  for(int i = 0; i < r->npages; i++)
    *word(r, i) = seed + i;
}

// Index of the first page whose first word is not seed+i, or -1 if all match.
static int
firstbad(struct region *r, uint64 seed)
{
  for(int i = 0; i < r->npages; i++)
    if(*word(r, i) != seed + i)
      return i;
  return -1;
}

// How n children ended, as wait() told it: with status 0, killed by the kernel (status
// -1), with another status, or not waited for at all (wait failed: a child is missing).
struct reaped {
  int fine, killed, other, missing;
  int status;    // the first status other than 0 and -1
};

static struct reaped
reap(int n)
{
  struct reaped r = { 0, 0, 0, 0, 0 };
  for(int i = 0; i < n; i++){
    int st;
    if(wait(&st) < 0)
      r.missing++;
    else if(st == 0)
      r.fine++;
    else if(st == -1)
      r.killed++;
    else if(r.other++ == 0)
      r.status = st;
  }
  return r;
}

static int
allfine(struct reaped *r)
{
  return r->killed + r->other + r->missing == 0;
}

// The FAILED line for children that did not all exit 0: what was expected of them, and
// how they ended, the kernel's kills first since those say the most.
static int
failedkids(const char *name, const char *expected, struct reaped *r)
{
  printf("%s: FAILED (expected %s, saw ", name, expected);
  if(r->killed)
    printf("%d killed by the kernel)\n", r->killed);
  else if(r->other)
    printf("%d exit with status %d%s)\n", r->other, r->status, r->other > 1 ? " or other" : "");
  else
    printf("wait() fail for %d)\n", r->missing);
  return 1;
}

// Reaps the one child a test forked, which should exit 0; 0 if it did, else prints why not.
static int
failedkid(const char *name, const char *expected)
{
  struct reaped r = reap(1);
  return allfine(&r) ? 0 : failedkids(name, expected, &r);
}

// ---------------------------------------------------------------- tests
//
// A child that waits on a pipe closes the pipe's write end first, so that if its parent
// dies the read ends (EOF) instead of blocking forever: a failed test must not leave
// processes behind that hold pages and fail the leak test too.

// A process holding more than half of free memory can fork (twice): only COW makes room.
static int
test_simple(void)
{
  struct region r;
  int n = stats().freepages * 6 / 10;
  if(grab(&r, n) < 0)
    return failed("simple", "sbrk of 60% of free memory to work", -1);
  fill(&r, 11);

  for(int round = 0; round < 2; round++){
    int pid = fork();
    if(pid < 0){
      release(&r);
      return failed("simple", "fork to succeed", pid);
    }
    if(pid == 0)
      exit(0);
    if(failedkid("simple", "the child to exit 0")){
      release(&r);
      return 1;
    }
  }
  int bad = firstbad(&r, 11);
  release(&r);
  if(bad >= 0)
    return failed("simple", "parent memory intact, bad page index", bad);
  return ok("simple");
}

// Three processes share a large region and rewrite it in several rounds.
#define THREE_ROUNDS 3

static int
three_work(struct region *r, int id)
{
  uint64 prev = 1;
  for(int round = 0; round < THREE_ROUNDS; round++){
    if(firstbad(r, prev) >= 0)
      return 1;
    prev = (uint64)(id + 1) * 1000000 + round * 100000;
    fill(r, prev);
  }
  return firstbad(r, prev) >= 0;
}

static int
test_three(void)
{
  struct region r;
  // A fifth of free memory: three sharers and the parent's last copy fit even when every
  // COPY leaks its old page (that is the leak test's failure, not this one's).
  if(grab(&r, stats().freepages / 5) < 0)
    return failed("three", "sbrk of 20% of free memory to work", -1);
  fill(&r, 1);

  for(int id = 1; id <= 2; id++){
    int pid = fork();
    if(pid < 0){
      reap(id - 1);
      release(&r);
      return failed("three", "fork to succeed", pid);
    }
    if(pid == 0)
      exit(three_work(&r, id));
  }
  int mine = three_work(&r, 0);
  struct reaped kids = reap(2);
  release(&r);
  if(mine)
    return failed("three", "parent's contents intact after each round", mine);
  if(!allfine(&kids))
    return failedkids("three", "both children to see their own contents (exit 0)", &kids);
  return ok("three");
}

// The kernel writes into COW pages (pipe read -> copyout): each process's read must not
// show in the other's copy, and both pages it straddles are made private.
#define FILE_N 256

static int
allsame(char *p, int n, char c)
{
  for(int i = 0; i < n; i++)
    if(p[i] != c)
      return 0;
  return 1;
}

// buf: two pages; the FILE_N bytes at off must be c, everything else 'A'.
static int
filecheck(char *buf, int off, char c)
{
  return allsame(buf, off, 'A') && allsame(buf + off, FILE_N, c) &&
         allsame(buf + off + FILE_N, 2 * PAGE - off - FILE_N, 'A');
}

static void
closeall(int *fds, int n)
{
  for(int i = 0; i < n; i++)
    close(fds[i]);
}

static int
test_file(void)
{
  struct region r;
  int tochild[2], toparent[2], readdone[2], checkdone[2];
  char data[FILE_N], c = 0;
  int off = PAGE - FILE_N / 2;

  if(grab(&r, 2) < 0)
    return failed("file", "sbrk to work", -1);
  memset(r.base, 'A', 2 * PAGE);
  if(pipe(tochild) < 0 || pipe(toparent) < 0 || pipe(readdone) < 0 || pipe(checkdone) < 0)
    return failed("file", "pipe to work", -1);
  int fds[] = { tochild[0], tochild[1], toparent[0], toparent[1],
                readdone[0], readdone[1], checkdone[0], checkdone[1] };
  memset(data, 'C', FILE_N);
  write(tochild[1], data, FILE_N);
  memset(data, 'P', FILE_N);
  write(toparent[1], data, FILE_N);

  int pid = fork();
  if(pid < 0){
    closeall(fds, NELEM(fds));
    release(&r);
    return failed("file", "fork to succeed", pid);
  }
  if(pid == 0){
    close(checkdone[1]);
    int n = read(tochild[0], r.base + off, FILE_N);
    write(readdone[1], "x", 1);
    read(checkdone[0], &c, 1);
    exit(n == FILE_N && filecheck(r.base, off, 'C') ? 0 : 1);
  }
  struct memstat before = stats();
  int n = read(toparent[0], r.base + off, FILE_N);
  struct memstat after = stats();
  close(readdone[1]);              // EOF, not a hang, if the child dies before its read
  read(readdone[0], &c, 1);
  int mine = filecheck(r.base, off, 'P');
  write(checkdone[1], "x", 1);
  struct reaped kid = reap(1);
  closeall(fds, NELEM(fds));
  release(&r);

  if(n != FILE_N)
    return failed("file", "parent's read to return 256", n);
  if(!mine)
    return failed("file", "parent's buffer to hold only its own read (status)", 1);
  if(!allfine(&kid))
    return failedkids("file", "the child's buffer to hold only its own read (exit 0)", &kid);
  // A kernel may resolve both pages in one fault (a batch), so count pages, not faults.
  long faults = after.cowfaults - before.cowfaults;
  long pages = (after.cowcopies + after.cowreuses) - (before.cowcopies + before.cowreuses);
  if(faults < 1)
    return failed("file", "read() into COW pages to take a COW fault", faults);
  if(pages < 2)
    return failed("file", "read() into two COW pages to copy or reuse both", pages);
  return ok("file");
}

// Many processes forking and exiting at once.
#define FF_CHILDREN 6
#define FF_ROUNDS   10

static int
test_forkfork(void)
{
  for(int i = 0; i < FF_CHILDREN; i++){
    int pid = fork();
    if(pid < 0){
      reap(i);
      return failed("forkfork", "fork to succeed", pid);
    }
    if(pid == 0){
      for(int j = 0; j < FF_ROUNDS; j++){
        int g = fork();
        if(g < 0)
          exit(2);
        if(g == 0)
          exit(0);
        int st;
        if(wait(&st) != g)
          exit(3);
        if(st != 0)
          exit(st == -1 ? 4 : 5);
      }
      exit(0);
    }
  }
  struct reaped kids = reap(FF_CHILDREN);
  if(!allfine(&kids))
    return failedkids("forkfork", "every child to fork and reap 10 grandchildren (exit 0; "
                      "2: a fork failed, 4: a grandchild was killed)", &kids);
  return ok("forkfork");
}

// Writes right after fork, by parent and by child, never show in the other process.
static int
test_isolation(void)
{
  struct region r;
  int ptoc[2], ctop[2];
  char c;

  if(grab(&r, 1) < 0)
    return failed("isolation", "sbrk to work", -1);
  volatile uint64 *v = (volatile uint64 *)r.base;
  v[0] = 1;
  v[1] = 1;
  if(pipe(ptoc) < 0 || pipe(ctop) < 0)
    return failed("isolation", "pipe to work", -1);
  int fds[] = { ptoc[0], ptoc[1], ctop[0], ctop[1] };

  int pid = fork();
  if(pid < 0){
    closeall(fds, NELEM(fds));
    release(&r);
    return failed("isolation", "fork to succeed", pid);
  }
  if(pid == 0){
    close(ptoc[1]);
    v[1] = 3;                  // the child's slot
    write(ctop[1], "x", 1);
    read(ptoc[0], &c, 1);
    exit(v[0] == 1 && v[1] == 3 ? 0 : 1);
  }
  close(ctop[1]);              // EOF, not a hang, if the child dies first
  v[0] = 2;                    // the parent's slot
  write(ptoc[1], "x", 1);
  read(ctop[0], &c, 1);
  uint64 saw0 = v[0], saw1 = v[1];
  struct reaped kid = reap(1);
  closeall(fds, NELEM(fds));
  release(&r);

  if(saw1 != 1)
    return failed("isolation", "child's write invisible to parent (1)", saw1);
  if(saw0 != 2)
    return failed("isolation", "parent's own write (2)", saw0);
  if(!allfine(&kid))
    return failedkids("isolation", "the parent's write invisible to the child (exit 0)", &kid);
  return ok("isolation");
}

// A store into text is fatal for the child and harmless for the parent.
__attribute__((noinline)) static int
victim(int x)
{
  return 3 * x + 1;
}

static int
test_textwrite(void)
{
  volatile uint *text = (volatile uint *)(uint64)victim;
  uint orig = *text;

  int pid = fork();
  if(pid < 0)
    return failed("textwrite", "fork to succeed", pid);
  if(pid == 0){
    *text = 0;
    exit(0);                   // must not get here
  }
  struct reaped kid = reap(1);
  if(kid.killed != 1){
    if(kid.fine)
      printf("textwrite: FAILED (expected the child killed for its store into text, "
             "saw it exit 0)\n");
    else
      failedkids("textwrite", "the child killed for its store into text", &kid);
    return 1;
  }
  if(*text != orig || victim(5) != 16)
    return failed("textwrite", "parent's text unchanged", *text);
  return ok("textwrite");
}

// A region shared by dozens of processes; each writes its own copy. Whether every
// reference comes back afterwards is the leak test's to judge, not this one's.
#define MS_CHILDREN 40
#define MS_PAGES    8

static int
test_manyshare(void)
{
  struct region r;
  int go[2], done[2], quit[2];
  char c;

  if(grab(&r, MS_PAGES) < 0)
    return failed("manyshare", "sbrk to work", -1);
  fill(&r, 1000);
  if(pipe(go) < 0 || pipe(done) < 0 || pipe(quit) < 0)
    return failed("manyshare", "pipe to work", -1);
  struct memstat m0 = stats();

  int n;
  for(n = 0; n < MS_CHILDREN; n++){
    int pid = fork();
    if(pid < 0)
      break;
    if(pid == 0){
      close(go[1]);
      close(quit[1]);
      read(go[0], &c, 1);
      int good = firstbad(&r, 1000) < 0;
      fill(&r, (n + 1) * 100000);
      good = good && firstbad(&r, (n + 1) * 100000) < 0;
      write(done[1], good ? "y" : "n", 1);
      close(done[1]);          // the parent's reads end once every child wrote or died
      read(quit[0], &c, 1);
      exit(0);
    }
  }
  struct memstat m1 = stats();
  close(done[1]);
  for(int i = 0; i < n; i++)
    write(go[1], "g", 1);
  int goodkids = 0;
  while(read(done[0], &c, 1) == 1)
    goodkids += c == 'y';
  struct memstat m2 = stats();
  int parentbad = firstbad(&r, 1000);
  for(int i = 0; i < n; i++)
    write(quit[1], "q", 1);
  struct reaped kids = reap(n);
  close(go[0]); close(go[1]); close(done[0]);
  close(quit[0]); close(quit[1]);
  release(&r);

  if(n != MS_CHILDREN)
    return failed("manyshare", "40 forks", n);
  if(m1.sharedpages < m0.sharedpages + MS_PAGES)
    return failed("manyshare", "sharedpages to grow by >= 8 after the forks",
                  m1.sharedpages - m0.sharedpages);
  if(!allfine(&kids))
    return failedkids("manyshare", "every child to exit 0", &kids);
  if(goodkids != n)
    return failed("manyshare", "every child to see the parent's data, then its own (40)",
                  goodkids);
  if(m2.cowcopies - m1.cowcopies < MS_CHILDREN * MS_PAGES)
    return failed("manyshare", ">= 320 COW copies", m2.cowcopies - m1.cowcopies);
  if(parentbad >= 0)
    return failed("manyshare", "parent's data intact, bad page", parentbad);
  return ok("manyshare");
}

// Children of a big process write all of its pages until memory runs out: some are
// killed, the parent and the kernel carry on. The parent touches nothing new while
// memory is short, so its own COW faults cannot fail.
#define OOM_CHILDREN 3

static int
test_oom(void)
{
  struct region r;
  int go[2];
  char c;

  if(grab(&r, stats().freepages / 2) < 0)
    return failed("oom", "sbrk of half of free memory to work", -1);
  fill(&r, 7);
  if(pipe(go) < 0)
    return failed("oom", "pipe to work", -1);

  int n;
  for(n = 0; n < OOM_CHILDREN; n++){
    int pid = fork();
    if(pid < 0)
      break;
    if(pid == 0){
      close(go[1]);
      if(read(go[0], &c, 1) != 1)
        exit(2);
      fill(&r, 100);
      exit(0);
    }
  }
  // Make this stack page private now, while memory is plentiful.
  volatile struct reaped kids = { 0, 0, 0, 0, 0 };
  for(int i = 0; i < n; i++)
    write(go[1], "g", 1);
  kids = reap(n);
  close(go[0]);
  close(go[1]);
  int bad = firstbad(&r, 7);
  release(&r);

  struct reaped k = kids;
  if(n != OOM_CHILDREN)
    return failed("oom", "3 forks", n);
  if(k.other + k.missing)
    return failedkids("oom", "each child killed by the kernel or exiting 0", &k);
  if(k.killed == 0)
    return failed("oom", "at least one child killed by the kernel when memory ran out, "
                  "killed", 0);
  if(bad >= 0)
    return failed("oom", "parent's memory intact, bad page", bad);
  int pid = fork();
  if(pid < 0)
    return failed("oom", "a fork afterwards to succeed", pid);
  if(pid == 0)
    exit(0);
  if(failedkid("oom", "the child of a fork afterwards to exit 0"))
    return 1;
  return ok("oom");
}

// With the child gone, the parent's first writes find count 1: reuse, not copy.
#define REUSE_PAGES 16

static int
test_reuse(void)
{
  struct region r;
  if(grab(&r, REUSE_PAGES) < 0)
    return failed("reuse", "sbrk to work", -1);
  fill(&r, 5);

  int pid = fork();
  if(pid < 0){
    release(&r);
    return failed("reuse", "fork to succeed", pid);
  }
  if(pid == 0)
    exit(0);
  if(failedkid("reuse", "the child to exit 0")){
    release(&r);
    return 1;
  }
  struct memstat m0 = stats();
  fill(&r, 6);
  struct memstat m1 = stats();
  release(&r);

  if(m1.cowreuses - m0.cowreuses < REUSE_PAGES)
    return failed("reuse", ">= 16 reuses", m1.cowreuses - m0.cowreuses);
  if(m1.cowcopies != m0.cowcopies)
    return failed("reuse", "0 copies", m1.cowcopies - m0.cowcopies);
  return ok("reuse");
}

// One store in a child makes exactly the page it wrote private, as the lab says: a page
// is copied only when one of the processes writes to it. (A kernel may resolve several
// pages per fault for a run of writes, but a lone write, such as the stack page a
// fork-then-exec child writes, copies its own page only.) Checked in the child, through
// what vmquery() reports: the parent still maps every page meanwhile, so a shared page
// has count 2 and a private one count 1.
#define ONE_PAGES 64
#define ONE_AT    (ONE_PAGES / 2)   // the page the child writes

struct onereport {
  int query;      // vmquery's result
  uint flags;     // the written page's flags and count
  uint refs;
  int private;    // pages other than the written one with count 1
};

static int
test_onewrite(void)
{
  struct region r;
  struct onereport rep;
  int p[2];

  if(grab(&r, ONE_PAGES) < 0)
    return failed("onewrite", "sbrk to work", -1);
  fill(&r, 3);
  if(pipe(p) < 0){
    release(&r);
    return failed("onewrite", "pipe to work", -1);
  }

  int pid = fork();
  if(pid < 0){
    close(p[0]); close(p[1]);
    release(&r);
    return failed("onewrite", "fork to succeed", pid);
  }
  if(pid == 0){
    struct vmpage v[ONE_PAGES];   // on the stack, which the child has written already
    *word(&r, ONE_AT) = 4;
    memset(&rep, 0, sizeof rep);
    rep.query = vmquery((uint64)r.base, ONE_PAGES, v);
    rep.flags = v[ONE_AT].flags;
    rep.refs = v[ONE_AT].refs;
    for(int i = 0; i < ONE_PAGES; i++)
      rep.private += i != ONE_AT && v[i].refs == 1;
    write(p[1], &rep, sizeof rep);
    exit(0);
  }
  close(p[1]);
  int got = read(p[0], &rep, sizeof rep);
  close(p[0]);
  struct reaped kid = reap(1);
  release(&r);

  if(got != sizeof rep || !allfine(&kid))
    return failedkids("onewrite", "the child to report its pages (exit 0)", &kid);
  if(rep.query < 0)
    return failed("onewrite", "vmquery to work in the child", rep.query);
  if(!(rep.flags & VMP_W) || rep.refs != 1)
    return failed("onewrite", "the written page private (writable, count 1), saw count",
                  rep.refs);
  if(rep.private)
    return failed("onewrite", "0 of the 63 pages not written private (count 1)", rep.private);
  return ok("onewrite");
}

// Forking a process with NOCOPY_MB MiB touched costs far fewer pages than that.
#define NOCOPY_MB 8
#define NOCOPY_PAGES (NOCOPY_MB * 1024 * 1024 / PAGE)

static int
test_nocopy(void)
{
  struct region r;
  int p[2];
  char c;

  if(grab(&r, NOCOPY_PAGES) < 0)
    return failed("nocopy", "sbrk to work", -1);
  fill(&r, 9);
  if(pipe(p) < 0)
    return failed("nocopy", "pipe to work", -1);

  struct memstat m0 = stats();
  int pid = fork();
  if(pid < 0){
    close(p[0]); close(p[1]);
    release(&r);
    return failed("nocopy", "fork to succeed", pid);
  }
  if(pid == 0){
    close(p[1]);
    read(p[0], &c, 1);
    exit(0);
  }
  struct memstat m1 = stats();
  write(p[1], "x", 1);
  struct reaped kid = reap(1);
  close(p[0]);
  close(p[1]);
  release(&r);

  long used = (long)m0.freepages - (long)m1.freepages;
  if(used >= NOCOPY_PAGES / 8)
    return failed("nocopy", "fork of 8 MiB to use < 256 pages", used);
  if(!allfine(&kid))
    return failedkids("nocopy", "the child to exit 0", &kid);
  return ok("nocopy");
}

// Many harts change the reference counts of the same pages at once. Workers share one
// big region with this process and fork children over and over: each fork adds a
// reference to every page of the region, each child's exit drops them all again, and
// right after each fork worker and child both write the worker's own page of the
// region, so two harts fault on one shared page at the same moment. One lost update to a
// count shows as a page that never comes back (a count too high) or one freed while
// still mapped (too low: its data turns to junk, or the kernel panics when the count
// goes below 0). Forks and exits of a big region keep every hart busy changing counts,
// so that a kernel whose count updates are not atomic fails this test almost surely.
#define RACE_WORKERS 8      // more than harts, so every hart keeps forking
#define RACE_ROUNDS  100    // forks per worker
#define RACE_MAXPAGES 8192  // the region: 32 MiB, at most a quarter of free memory

// What worker id's page holds after round k (k = 0: before the first fork); round k's
// child writes one more.
static uint64
race_value(int id, int k)
{
  return ((uint64)id << 32) + 2 * (uint64)k;
}

// Stores v into p; 1 if it does not read back.
static int
race_store(uint64 *p, uint64 v)
{
  *(volatile uint64 *)p = v;
  return *(volatile uint64 *)p != v;
}

// One worker: rounds children. Returns how many times a child or the worker itself saw
// data in its page that was not its own.
static int
race_work(struct region *r, int id, int rounds)
{
  uint64 *mine = word(r, id);
  int bad = race_store(mine, race_value(id, 0));
  for(int k = 0; k < rounds; k++){
    int pid = fork();
    if(pid < 0)
      return bad + rounds - k;
    if(pid == 0){
      int wrong = *mine != race_value(id, k);
      exit(race_store(mine, race_value(id, k) + 1) + wrong);
    }
    bad += race_store(mine, race_value(id, k + 1));
    int st;
    if(wait(&st) != pid || st != 0)
      bad++;
  }
  return bad;
}

// How many of r's pages have a reference count other than 1, or -1 if vmquery fails.
static int
notsole(struct region *r)
{
  static struct vmpage v[VMQ_MAXPAGES];   // 24 KiB: too big for the one-page stack
  int n = 0;
  for(int i = 0; i < r->npages; i += VMQ_MAXPAGES){
    int k = r->npages - i < VMQ_MAXPAGES ? r->npages - i : VMQ_MAXPAGES;
    if(vmquery((uint64)word(r, i), k, v) < 0)
      return -1;
    for(int j = 0; j < k; j++)
      n += v[j].refs != 1;
  }
  return n;
}

// Whether r's counts or the free pages go wrong with one process at a time forking and
// writing, no concurrency at all: a leaked or a lost reference, which the leak test reports.
// Then the counts cannot show a race, and test_race judges the data only.
static int
race_wrong_alone(struct region *r)
{
  uint64 free0 = stats().freepages;
  int pid = fork();
  if(pid < 0)
    return 1;
  if(pid == 0){
    for(int k = 0; k < RACE_ROUNDS / 10; k++){   // one process at a time
      int child = fork();
      if(child == 0)
        exit(race_store(word(r, 0), race_value(0, k) + 1));
      if(child > 0)
        wait(0);
      race_store(word(r, 0), race_value(0, k + 1));
    }
    exit(0);
  }
  reap(1);
  return notsole(r) != 0 || stats().freepages != free0;
}

static int
test_race(void)
{
  struct region r;
  int npages = stats().freepages / 4;

  if(grab(&r, npages < RACE_MAXPAGES ? npages : RACE_MAXPAGES) < 0)
    return failed("race", "sbrk to work", -1);
  fill(&r, 13);
  int notone = notsole(&r);       // also makes notsole's buffer private before free0
  if(notone != 0){
    release(&r);
    return failed("race", "count 1 for every page of a fresh region", notone);
  }
  int alone = race_wrong_alone(&r);
  uint64 free0 = stats().freepages;

  int n, pid = 0;
  for(n = 0; n < RACE_WORKERS; n++){
    if((pid = fork()) < 0)
      break;
    if(pid == 0)
      exit(race_work(&r, n, RACE_ROUNDS));
  }
  struct reaped workers = reap(n);
  uint64 free1 = stats().freepages;
  notone = notsole(&r);
  int bad = firstbad(&r, 13);
  release(&r);

  if(n != RACE_WORKERS){
    printf("race: FAILED (expected 8 forks of a process holding a quarter of free memory, "
           "saw %d succeed)\n", n);
    return 1;
  }
  if(workers.killed + workers.missing)
    return failedkids("race", "every worker to exit 0", &workers);
  if(workers.other)
    return failed("race", "each worker's page to hold only its own data (exit 0), bad rounds",
                  workers.status);
  if(bad >= 0)
    return failed("race", "this process's data intact, bad page", bad);
  if(alone){
    printf("race: ok (data only: the counts go wrong with one worker too, see leak)\n");
    return 0;
  }
  if(notone)
    return failed("race", "count 1 for every page once the workers are gone, "
                  "pages not 1 (a lost count update?)", notone);
  if(free1 != free0)
    return failed("race", "free pages back once the workers are gone, pages lost",
                  (long)free0 - (long)free1);
  return ok("race");
}

// ---------------------------------------------------------------- driver

static struct test {
  int (*fn)(void);
  char *name;
} tests[] = {
  { test_simple,    "simple" },
  { test_three,     "three" },
  { test_file,      "file" },
  { test_forkfork,  "forkfork" },
  { test_isolation, "isolation" },
  { test_textwrite, "textwrite" },
  { test_manyshare, "manyshare" },
  { test_oom,       "oom" },
  { test_reuse,     "reuse" },
  { test_onewrite,  "onewrite" },
  { test_nocopy,    "nocopy" },
  { test_race,      "race" },
};

// Runs the tests named in argv (all of them if none); returns how many failed.
static int
runall(int argc, char *argv[])
{
  int fails = 0;
  for(int i = 0; i < NELEM(tests); i++){
    int chosen = argc <= 1;
    for(int a = 1; a < argc; a++)
      chosen |= strcmp(argv[a], tests[i].name) == 0;
    if(chosen)
      fails += tests[i].fn();
  }
  return fails;
}

int
main(int argc, char *argv[])
{
  for(int a = 1; a < argc; a++){
    int known = 0;
    for(int i = 0; i < NELEM(tests); i++)
      known |= strcmp(argv[a], tests[i].name) == 0;
    if(!known){
      fprintf(2, "usage: cowtest [test ...]; tests:");
      for(int i = 0; i < NELEM(tests); i++)
        fprintf(2, " %s", tests[i].name);
      fprintf(2, " (leak always runs)\n");
      exit(1);
    }
  }
  printf("cowtest: starting\n");
  uint64 before = stats().freepages;

  int pid = fork();
  if(pid < 0){
    printf("cowtest: fork failed\n");
    exit(1);
  }
  if(pid == 0)
    exit(runall(argc, argv) == 0 ? 0 : 1);

  int st;
  wait(&st);

  // Everything the run used should be back; give stray orphans a moment to be reaped.
  uint64 after = stats().freepages;
  for(int tries = 0; tries < 10 && after != before; tries++){
    sleep(TICKHZ / 2);
    after = stats().freepages;
  }
  int leak = after == before ? ok("leak")
                             : failed("leak", "free pages unchanged, pages lost",
                                      (long)before - (long)after);
  if(st == -1)
    printf("cowtest: the kernel killed the process running the tests\n");
  if(st != 0 || leak){
    printf("cowtest: SOME TESTS FAILED\n");
    exit(1);
  }
  printf("ALL COW TESTS PASSED\n");
  exit(0);
}
