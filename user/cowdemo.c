// cowdemo: copy-on-write fork, live, one step at a time. Each step shows what the kernel
// did to the pages involved, as the page table says (vmquery(), kernel/vmquery.h) and as
// cowstat's counters say (memstat()), and checks it. A failed check prints FAIL with the
// claim it expected and ends the program; all checks passed ends with one "cowdemo: OK".
//
// On a kernel whose fork copies every page (eager) it tells that story instead, with the
// eager checks. Which kernel runs is observed, not assumed: does the child map the
// parent's physical page right after fork, or a page of its own?
//
// The demo page is alone in its own 2 MiB page-table page (an untouched lazy gap lies
// below it), so a kernel that resolves several COW pages per fault (the neighbours in the
// same table) still copies or reuses exactly this one page. Counters are checked as "at
// least" the expected number, which is printed: another process faulting at the same
// moment would add to them (the shell is waiting, so normally nothing else runs).
#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/memstat.h"
#include "kernel/vmquery.h"
#include "user/user.h"

#define TABLESPAN (1L << PXSHIFT(1))   // bytes one last-level page table maps: 2 MiB
#define RWU (VMP_MAPPED | VMP_R | VMP_W | VMP_U)
#define RU  (VMP_MAPPED | VMP_R | VMP_U)
#define RXU (VMP_MAPPED | VMP_R | VMP_X | VMP_U)
#define PERMS (VMP_MAPPED | VMP_R | VMP_W | VMP_X | VMP_U)
#define MAXLOW 56   // pages below the gap that fit a view each in one page of buffer

// What the child reports after fork (step 2) and after its write (step 3).
struct report {
  struct vmpage page, text;
  struct memstat before, after;   // step 3: around the child's write
};

static int nlow;                // pages of the views: [0, nlow*PGSIZE), below the gap
static struct vmpage *pre;      // the parent's view before fork
static struct vmpage *cview;    // the child's view right after fork
static struct vmpage *pview;    // the parent's view after fork
static uint64 textva;           // a page of text (main's)

static void
query(uint64 va, int n, struct vmpage *v)
{
  if(vmquery(va, n, v) < 0){
    printf("cowdemo: FAIL: vmquery(%p, %d) failed\n", (void *)va, n);
    exit(1);
  }
}

static struct vmpage
query1(uint64 va)
{
  struct vmpage v;
  query(va, 1, &v);
  return v;
}

// Read-only with the kernel's mark in a software bit: copy-on-write (vmquery.h).
static int
marked(struct vmpage *v)
{
  return VMP_ISCOW(v->flags);
}

// One page as a line: who, which page, where it lives, how, and how many map it.
static void
show(char *who, char *what, struct vmpage *v)
{
  static char spaces[] = "        ";
  char perm[] = "----";
  int digits = 1;
  for(uint64 x = v->va; x >= 16; x >>= 4)
    digits++;
  if(v->flags & VMP_R) perm[0] = 'r';
  if(v->flags & VMP_W) perm[1] = 'w';
  if(v->flags & VMP_X) perm[2] = 'x';
  if(v->flags & VMP_U) perm[3] = 'u';
  printf("   %s %s 0x%lx%s -> phys 0x%lx  %s %s count %d\n", who, what, v->va,
         spaces + (digits < 8 ? digits : 8), v->pa, perm, marked(v) ? "cow" : "   ", v->refs);
}

// The claim about the lines just shown: ok, or FAIL and the end of the program.
static void
check(int ok, char *claim)
{
  if(ok){
    printf("   ok: %s\n", claim);
    return;
  }
  printf("   FAIL: expected %s; the lines above show what the kernel did\n", claim);
  printf("cowdemo: FAIL\n");
  exit(1);
}

static int
is(struct vmpage *v, int perms, int mark, int refs)
{
  return (v->flags & PERMS) == perms && marked(v) == mark && v->refs == refs;
}

static void
xwrite(int fd, void *p, int n)
{
  if(write(fd, p, n) != n){
    printf("cowdemo: FAIL: write to a pipe failed\n");
    exit(1);
  }
}

static void
xread(int fd, void *p, int n)
{
  int got = 0, r;
  while(got < n && (r = read(fd, (char *)p + got, n - got)) > 0)
    got += r;
  if(got != n){
    printf("cowdemo: FAIL: the child sent %d of %d bytes\n", got, n);
    exit(1);
  }
}

// The child: report right after fork, wait, write the page, report again, wait, exit.
// It writes nothing the parent will look at before it is told to, and does not print.
static void
child(char *page, int up, int down)
{
  struct report r;
  char go;

  memset(&r, 0, sizeof r);
  r.page = query1((uint64)page);
  r.text = query1(textva);
  query(0, nlow, cview);
  xwrite(up, &r, sizeof r);
  xwrite(up, cview, nlow * sizeof(struct vmpage));
  if(read(down, &go, 1) != 1)
    exit(1);

  memstat(&r.before);
  page[0] = 'c';                // the one write: a store page fault on a COW kernel
  memstat(&r.after);
  r.page = query1((uint64)page);
  r.text = query1(textva);
  xwrite(up, &r, sizeof r);
  read(down, &go, 1);           // returns at EOF: the parent has looked
  exit(page[0] == 'c' ? 0 : 1);
}

// Counter changes between two memstat() snapshots, printed next to what one page per
// fault gives, and checked as "at least".
static void
counters(struct memstat *a, struct memstat *b, int faults, int copies, int reuses)
{
  int f = b->cowfaults - a->cowfaults, c = b->cowcopies - a->cowcopies;
  int r = b->cowreuses - a->cowreuses;
  printf("   cowstat: faults +%d, copies +%d, reuses +%d (expected %d, %d, %d)\n", f, c, r,
         faults, copies, reuses);
  check(f >= faults && c >= copies && r >= reuses, "counters at least as expected");
}

// An eager kernel counts no COW activity at all.
static void
nocounters(struct memstat *a, struct memstat *b)
{
  printf("   cowstat: faults +%d, copies +%d, reuses +%d, fork shared +%d\n",
         (int)(b->cowfaults - a->cowfaults), (int)(b->cowcopies - a->cowcopies),
         (int)(b->cowreuses - a->cowreuses), (int)(b->cowshared - a->cowshared));
  check(b->cowfaults == a->cowfaults && b->cowcopies == a->cowcopies &&
        b->cowreuses == a->cowreuses && b->cowshared == a->cowshared,
        "no copy-on-write activity: nothing is shared, so nothing is counted");
}

// Step 2 on a COW kernel, for every page below the gap: the child maps what the parent
// mapped; a page they still share is read-only in both, count 2, and marked COW exactly
// when it was writable before fork; a page that is not shared any more is one the child
// has written, so it is the child's own writable copy.
static void
checkshared(void)
{
  int shared = 0, cow = 0, own = 0, ok = 1;
  for(int i = 0; i < nlow; i++){
    struct vmpage *b = &pre[i], *c = &cview[i], *p = &pview[i];
    if(!(b->flags & VMP_MAPPED)){
      ok &= !(c->flags & VMP_MAPPED);
      continue;
    }
    if(c->pa == p->pa){
      int was = b->flags & PERMS, ro = was & ~VMP_W, mark = (was & VMP_W) != 0;
      ok &= c->pa == b->pa && is(c, ro, mark, 2) && is(p, ro, mark, 2);
      shared++;
      cow += mark;
    } else {
      ok &= is(c, b->flags & PERMS, 0, 1) && (c->flags & VMP_W);
      own++;
    }
  }
  printf("   its other pages: %d shared with the parent (%d of them COW), %d copied already\n"
         "   (the child has written those: its stack, the buffer it reports in)\n",
         shared, cow, own);
  check(ok, "every shared page read-only in both, count 2, COW iff it was writable");
}

// Step 2 on an eager kernel: every page below the gap is a copy: the child's page is not
// the parent's, both counts are 1, permissions as before fork, nothing marked.
static int
checkcopied(void)
{
  int copied = 0, ok = 1;
  for(int i = 0; i < nlow; i++){
    struct vmpage *b = &pre[i], *c = &cview[i], *p = &pview[i];
    if(!(b->flags & VMP_MAPPED)){
      ok &= !(c->flags & VMP_MAPPED);
      continue;
    }
    ok &= c->pa != b->pa && p->pa == b->pa && is(c, b->flags & PERMS, 0, 1) &&
          is(p, b->flags & PERMS, 0, 1);
    copied++;
  }
  printf("   its other pages: all %d are copies, at physical pages of its own\n", copied);
  check(ok, "fork copied every page: none shared, each count 1, none marked");
  return copied;
}

int
main(void)
{
  struct memstat m0, m1, m2, m3;
  struct report r;
  int up[2], down[2];
  char go = 'g';

  // The low heap: one page of buffer for the three views. Then the gap, then the page.
  char *buf = sbrk(PGSIZE);
  if(buf == SBRK_ERROR || (uint64)buf % PGSIZE != 0){
    printf("cowdemo: FAIL: sbrk did not give a page-aligned page\n");
    exit(1);
  }
  nlow = (uint64)sbrk(0) / PGSIZE;
  if(nlow > MAXLOW){
    printf("cowdemo: FAIL: %d pages below the gap, at most %d fit the buffer\n", nlow, MAXLOW);
    exit(1);
  }
  pre = (struct vmpage *)buf;
  cview = pre + MAXLOW;
  pview = cview + MAXLOW;
  uint64 top = (uint64)sbrk(0);
  uint64 va = (top + TABLESPAN - 1) & ~(TABLESPAN - 1);
  if(sbrklazy(va - top) == SBRK_ERROR || sbrk(PGSIZE) != (char *)va){
    printf("cowdemo: FAIL: could not place the demo page at 0x%lx\n", va);
    exit(1);
  }
  char *page = (char *)va;
  textva = PGROUNDDOWN((uint64)main);

  printf("cowdemo: copy-on-write fork, one page at a time (pid %d)\n", getpid());
  printf("1. The parent writes a heap page.\n");
  page[0] = 'P';
  struct vmpage p1 = query1(va), t1 = query1(textva);
  show("parent", "page", &p1);
  show("parent", "text", &t1);
  check(is(&p1, RWU, 0, 1) && is(&t1, RXU, 0, 1), "its own writable page, and read-only text");

  query(0, nlow, pre);
  int npages = 1;                                 // pages fork must share: the demo page,
  for(int i = 0; i < nlow; i++)                   // and every mapped page below the gap
    npages += (pre[i].flags & VMP_MAPPED) != 0;
  if(pipe(up) < 0 || pipe(down) < 0){
    printf("cowdemo: FAIL: pipe failed\n");
    exit(1);
  }
  memstat(&m0);
  int pid = fork();
  if(pid < 0){
    printf("cowdemo: FAIL: fork failed\n");
    exit(1);
  }
  if(pid == 0){
    close(up[0]);
    close(down[1]);
    child(page, up[1], down[0]);
  }
  close(up[1]);
  close(down[0]);
  xread(up[0], &r, sizeof r);
  xread(up[0], cview, nlow * sizeof(struct vmpage));
  query(0, nlow, pview);
  memstat(&m1);
  struct vmpage p2 = query1(va), t2 = query1(textva);
  int cowkernel = r.page.pa == p2.pa;

  printf("2. fork(): child pid %d. Free pages %ld -> %ld (%ld).\n", pid, m0.freepages,
         m1.freepages, (long)(m1.freepages - m0.freepages));
  show("parent", "page", &p2);
  show("child ", "page", &r.page);
  if(cowkernel){
    check(p2.pa == p1.pa && is(&p2, RU, 1, 2) && is(&r.page, RU, 1, 2),
          "one physical page for both, read-only and COW in both, count 2");
  } else {
    check(p2.pa == p1.pa && r.page.pa != p1.pa && is(&p2, RWU, 0, 1) && is(&r.page, RWU, 0, 1),
          "two physical pages: fork copied it; both writable, count 1, no COW");
  }
  show("parent", "text", &t2);
  show("child ", "text", &r.text);
  if(cowkernel)
    check(t2.pa == t1.pa && r.text.pa == t1.pa && is(&t2, RXU, 0, 2) && is(&r.text, RXU, 0, 2),
          "text shared as it is: the same page, read-only, count 2, never COW");
  else
    check(t2.pa == t1.pa && r.text.pa != t1.pa && is(&t2, RXU, 0, 1) && is(&r.text, RXU, 0, 1),
          "text copied too: a page of the child's own, count 1, no COW");
  int copied = 0;
  if(cowkernel){
    checkshared();
    printf("   cowstat: fork shared +%d page mappings (expected %d: every page of the parent)\n",
           (int)(m1.cowshared - m0.cowshared), npages);
    check(m1.cowshared - m0.cowshared >= npages, "the fork counter at least the pages shared");
  } else {
    copied = checkcopied() + 1;
    nocounters(&m0, &m1);
  }

  printf("3. The child writes its page: %s.\n",
         cowkernel ? "a store page fault; the kernel must COPY the page" :
                     "its own page already, so no fault");
  xwrite(down[1], &go, 1);
  struct vmpage c2 = r.page, ct2 = r.text;
  xread(up[0], &r, sizeof r);
  struct vmpage p3 = query1(va);
  show("child ", "page", &r.page);
  show("parent", "page", &p3);
  if(cowkernel){
    check(r.page.pa != p3.pa && is(&r.page, RWU, 0, 1),
          "the child's page is new: a copy, writable, count 1, no COW");
    check(p3.pa == p1.pa && is(&p3, RU, 1, 1),
          "the parent's page stays, still read-only COW, its count dropped to 1");
    counters(&r.before, &r.after, 1, 1, 0);
  } else {
    check(r.page.pa == c2.pa && is(&r.page, RWU, 0, 1) && p3.pa == p1.pa && is(&p3, RWU, 0, 1),
          "both pages as they were: no fault, no copy");
    nocounters(&r.before, &r.after);
  }
  check(page[0] == 'P', "the parent still reads its own data, not the child's");
  show("child ", "text", &r.text);
  check(r.text.pa == ct2.pa && is(&r.text, RXU, 0, cowkernel ? 2 : 1),
        "the child's text page unchanged by its write");

  close(down[1]);                                 // the child exits
  int st = -1;
  if(wait(&st) != pid || st != 0){
    printf("cowdemo: FAIL: the child exited with status %d\n", st);
    exit(1);
  }
  printf("4. The child has exited. The parent writes its page: %s.\n",
         cowkernel ? "a fault; count 1, so the kernel can REUSE it" : "writable, so no fault");
  memstat(&m2);
  page[0] = 'Q';
  memstat(&m3);
  struct vmpage p4 = query1(va);
  show("parent", "page", &p4);
  check(p4.pa == p1.pa && is(&p4, RWU, 0, 1) && page[0] == 'Q',
        cowkernel ? "no copy: the same page, write permission back, no COW, count 1" :
                    "the same page as ever, writable, count 1");
  if(cowkernel)
    counters(&m2, &m3, 1, 0, 1);
  else
    nocounters(&m2, &m3);

  printf("5. The text page, from start to end.\n");
  struct vmpage t5 = query1(textva);
  show("parent", "text", &t5);
  check(t5.pa == t1.pa && is(&t5, RXU, 0, 1),
        "the same physical page all along, never writable, never COW");

  if(cowkernel)
    printf("cowdemo: OK: fork shared %d pages; the child's write copied one, the parent's "
           "reused it\n", npages);
  else
    printf("cowdemo: OK: this kernel's fork is eager: it copied all %d pages at fork time\n",
           copied);
  exit(0);
}
