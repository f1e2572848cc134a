// vmmap: draw this process's address space from its page table (the vmquery() system
// call, kernel/vmquery.h): text, data, the stack's guard page, the stack, the heap, the
// unmapped gap, and the trapframe and trampoline at the top. One line per run of pages
// with the same attributes: address range, pages, permissions, COW mark, and how many of
// the pages are shared (their physical page's reference count is above 1).
//
//   vmmap      this process
//   vmmap -c   fork, then the child's view and the parent's side by side, both taken
//              while both processes exist; "same" counts the pages where the two map
//              the same physical page.
//
// vmmap's heap is the buffer the views are collected in (allocated before the fork), so
// in -c both processes write it: watch what that does to its line.
#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/riscv.h"
#include "kernel/memlayout.h"
#include "kernel/vmquery.h"
#include "user/user.h"

#define ATTRS (VMP_MAPPED | VMP_R | VMP_W | VMP_X | VMP_U | VMP_RSW0 | VMP_RSW1)

// Output columns: the range, the page count ending at PAGESEND, then per view its
// permissions, mark and shared count from SIDE + SIDEW*view, "same" ending at SAMEEND.
#define PAGESEND 35
#define SIDE     37
#define SIDEW    17
#define SAMEEND  (SIDE + 2*SIDEW + 4)

enum { TEXT, DATA, GUARD, STACK, HEAP, TOP };
static char *regions[] = { "text", "data", "guard page", "stack", "heap", "" };

// A view: every page of user memory [0, sz), then the trapframe and the trampoline.
struct view {
  int n;                // entries in pg
  struct vmpage *pg;
};

// ---- One output line, built with columns (printf has no field widths)

static char line[160];
static int len;

static void
add(char *s)
{
  while(*s && len < (int)sizeof(line) - 1)
    line[len++] = *s++;
}

static void
tab(int col)
{
  while(len < col && len < (int)sizeof(line) - 1)
    line[len++] = ' ';
}

// x in hex with 0x and exactly 10 digits: every user address fits (MAXVA is 0x4000000000).
static void
addhex(uint64 x)
{
  char s[13] = "0x";
  for(int i = 11; i >= 2; i--, x >>= 4)
    s[i] = "0123456789abcdef"[x & 0xf];
  s[12] = 0;
  add(s);
}

// x in decimal, right-aligned so that it ends at column col.
static void
adddec(uint64 x, int col)
{
  char s[24];
  int i = sizeof(s) - 1;
  s[i] = 0;
  do {
    s[--i] = '0' + x % 10;
    x /= 10;
  } while(x);
  tab(col - (int)(sizeof(s) - 1 - i));
  add(s + i);
}

static void
endline(void)
{
  while(len > 0 && line[len - 1] == ' ')
    len--;
  line[len++] = '\n';
  write(1, line, len);
  len = 0;
}

// ---- Collecting views

// Fill v with the caller's own pages: [0, sz) in as few calls as vmquery allows, then the
// two pages at the top.
static void
collect(struct view *v, uint64 sz)
{
  int n = sz / PGSIZE;
  for(int i = 0; i < n; i += VMQ_MAXPAGES){
    int k = n - i < VMQ_MAXPAGES ? n - i : VMQ_MAXPAGES;
    if(vmquery((uint64)i * PGSIZE, k, v->pg + i) < 0){
      fprintf(2, "vmmap: vmquery(%p, %d) failed\n", (void *)((uint64)i * PGSIZE), k);
      exit(1);
    }
  }
  if(vmquery(TRAPFRAME, 2, v->pg + n) < 0){
    fprintf(2, "vmmap: vmquery of the trapframe and trampoline failed\n");
    exit(1);
  }
  v->n = n + 2;
}

// Room for nviews views of this process, in its heap. Returns the heap's end (sz), which
// the views then cover.
static uint64
makeroom(struct view *views, int nviews)
{
  uint64 sz = PGROUNDUP((uint64)sbrk(0));
  int pages = 1;
  // The buffer is part of what it must describe: grow until it holds itself too.
  while((uint64)nviews * (sz / PGSIZE + pages + 2) * sizeof(struct vmpage) >
        (uint64)pages * PGSIZE)
    pages++;
  char *base = sbrk(sz - (uint64)sbrk(0) + pages * PGSIZE);
  if(base == SBRK_ERROR){
    fprintf(2, "vmmap: out of memory for %d pages of buffer\n", pages);
    exit(1);
  }
  sz += pages * PGSIZE;
  struct vmpage *p = (struct vmpage *)PGROUNDUP((uint64)base);
  for(int i = 0; i < nviews; i++)
    views[i].pg = p + i * (sz / PGSIZE + 2);
  return sz;
}

// ---- Drawing

// The index of the stack's guard page in v: exec (kernel/exec.c) maps the program's
// segments, then the guard page, the one page below sz without VMP_U, then USERSTACK
// stack pages; the heap follows, up to sz.
static int
findguard(struct view *v)
{
  int g;
  for(g = 0; g < v->n - 2; g++)
    if((v->pg[g].flags & (VMP_MAPPED | VMP_U)) == VMP_MAPPED)
      break;
  return g;
}

// The region page i of v belongs to, given the guard page's index.
static int
region(struct view *v, int i, int guard, uint64 sz)
{
  if(v->pg[i].va >= sz)
    return TOP;
  if(i < guard)
    return (v->pg[i].flags & VMP_X) ? TEXT : DATA;
  if(i == guard)
    return GUARD;
  return i <= guard + USERSTACK ? STACK : HEAP;
}

static void
addperm(uint flags)
{
  char p[] = "----";
  if(!(flags & VMP_MAPPED)){
    add("    ");
    return;
  }
  if(flags & VMP_R) p[0] = 'r';
  if(flags & VMP_W) p[1] = 'w';
  if(flags & VMP_X) p[2] = 'x';
  if(flags & VMP_U) p[3] = 'u';
  add(p);
}

// One side's columns: permissions, COW mark, shared pages, starting at column col.
static void
addside(uint flags, int shared, int col)
{
  tab(col);
  addperm(flags);
  if(VMP_ISCOW(flags)){
    tab(col + 5);
    add("cow");
  }
  if(flags & VMP_MAPPED)
    adddec(shared, col + 15);
}

static char *
name(struct vmpage *pg, int reg)
{
  if(!(pg->flags & VMP_MAPPED))
    return "(not mapped)";
  if(reg != TOP)
    return regions[reg];
  return pg->va == TRAPFRAME ? "trapframe (kernel only)" : "trampoline (kernel only)";
}

// Print the views (1: this process; 2: child and parent) as runs of pages where the
// region and every view's attributes stay the same.
static void
draw(struct view *v, int nv, uint64 sz)
{
  int col = nv == 1 ? SIDE + SIDEW : SAMEEND + 2;   // where the region name goes
  int guard = findguard(&v[0]);

  if(nv == 2){
    tab(SIDE);
    add("child");
    tab(SIDE + SIDEW);
    add("parent");
    endline();
  }
  add("range");
  tab(PAGESEND - 5);
  add("pages");
  for(int s = 0; s < nv; s++){
    tab(SIDE + SIDEW * s);
    add("perm cow shared");
  }
  if(nv == 2){
    tab(SAMEEND - 4);
    add("same");
  }
  tab(col);
  add("region");
  endline();

  for(int i = 0; i < v[0].n; ){
    int reg = region(&v[0], i, guard, sz), j, shared[2] = {0, 0}, same = 0;
    for(j = i; j < v[0].n && region(&v[0], j, guard, sz) == reg; j++){
      int differs = 0;
      for(int s = 0; s < nv; s++)
        differs |= (v[s].pg[j].flags & ATTRS) != (v[s].pg[i].flags & ATTRS);
      if(differs || (j > i && v[0].pg[j].va != v[0].pg[j - 1].va + PGSIZE))
        break;
      for(int s = 0; s < nv; s++)
        shared[s] += v[s].pg[j].refs > 1;
      same += nv == 2 && v[0].pg[j].pa != 0 && v[0].pg[j].pa == v[1].pg[j].pa;
    }
    if(i > 0 && v[0].pg[i].va != v[0].pg[i - 1].va + PGSIZE){
      addhex(v[0].pg[i - 1].va + PGSIZE);
      add("-");
      addhex(v[0].pg[i].va);
      adddec((v[0].pg[i].va - v[0].pg[i - 1].va) / PGSIZE - 1, PAGESEND);
      tab(col);
      add("(not mapped)");
      endline();
    }
    addhex(v[0].pg[i].va);
    add("-");
    addhex(v[0].pg[j - 1].va + PGSIZE);
    adddec(j - i, PAGESEND);
    for(int s = 0; s < nv; s++)
      addside(v[s].pg[i].flags, shared[s], SIDE + SIDEW * s);
    if(nv == 2 && (v[0].pg[i].flags & VMP_MAPPED))
      adddec(same, SAMEEND);
    tab(col);
    add(name(&v[0].pg[i], reg));
    endline();
    i = j;
  }
}

// The child's view and the parent's, taken while both exist: the child collects its own
// and sends it, the parent collects its own once it has the child's, then lets it exit.
// Neither writes anything else (no printf) until both views are taken.
static void
forkviews(struct view *v, uint64 sz, int *childpid)
{
  int up[2], done[2];
  if(pipe(up) < 0 || pipe(done) < 0){
    fprintf(2, "vmmap: pipe failed\n");
    exit(1);
  }
  int pid = fork();
  if(pid < 0){
    fprintf(2, "vmmap: fork failed\n");
    exit(1);
  }
  if(pid == 0){
    char c;
    close(up[0]);
    close(done[1]);
    collect(&v[0], sz);
    int bytes = v[0].n * sizeof(struct vmpage);
    if(write(up[1], v[0].pg, bytes) != bytes)
      exit(1);
    read(done[0], &c, 1);   // returns at EOF: the parent has its view
    exit(0);
  }
  close(up[1]);
  close(done[0]);
  int want = (sz / PGSIZE + 2) * sizeof(struct vmpage), got = 0, r;
  while(got < want && (r = read(up[0], (char *)v[0].pg + got, want - got)) > 0)
    got += r;
  collect(&v[1], sz);
  close(done[1]);
  close(up[0]);
  wait(0);
  if(got != want){
    fprintf(2, "vmmap: the child sent %d of %d bytes of its view\n", got, want);
    exit(1);
  }
  v[0].n = v[1].n;
  *childpid = pid;
}

int
main(int argc, char *argv[])
{
  struct view v[2];
  int both = argc == 2 && strcmp(argv[1], "-c") == 0;

  if(argc > 2 || (argc == 2 && !both)){
    fprintf(2, "usage: vmmap [-c]\n");
    exit(1);
  }
  uint64 sz = makeroom(v, both ? 2 : 1);
  if(!both){
    collect(&v[0], sz);
    printf("vmmap: pid %d, %d pages of user memory (sz 0x%lx)\n", getpid(),
           (int)(sz / PGSIZE), sz);
    draw(v, 1, sz);
  } else {
    int child;
    forkviews(v, sz, &child);
    printf("vmmap -c: pid %d forked pid %d; both views taken after the fork\n",
           getpid(), child);
    draw(v, 2, sz);
  }
  exit(0);
}
