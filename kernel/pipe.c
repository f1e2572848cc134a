// Pipes: a ring of PIPEPAGES kalloc'd pages shared by a read end and a write end (two struct
// files); data moves a page run at a time. Several pages, because each time the ring fills or
// drains the two sides sleep and wake each other, which costs far more than copying a page. A
// pipe takes PIPEPAGES+1 pages; at most NFILE/2 pipes exist: under 4 MiB in all.
//
// A bad user buffer: read consumes bytes only once their copy out has succeeded, so a failed
// copy returns -1 and the pipe keeps every byte. Write checks its whole source first
// (userrange), so an unreadable one returns -1 with nothing written. A write cut off by the
// read end closing or the writer being killed returns -1 too; what went in stays.
//
// pi->lock guards all fields. copyin/copyout run with it held (defs.h: pipe->lock -> kmem.lock).

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
#include "kernel/param.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/fs.h"
#include "kernel/sleeplock.h"
#include "kernel/file.h"

#define PIPEPAGES 16
#define PIPESIZE  (PIPEPAGES * PGSIZE)

struct pipe {
  struct spinlock lock;
  uint head;       // ring index of the oldest unread byte, always < PIPESIZE
  uint count;      // bytes in the ring, 0..PIPESIZE; the next write goes at head + count
  int readopen;    // read end still open?
  int writeopen;   // write end still open?
  char *page[PIPEPAGES];   // the ring: index i is byte i % PGSIZE of page[i / PGSIZE]
};

// Sleep channels. A reader sleeps only while the ring is empty and a writer only while it is
// full, so each side wakes the other exactly when it makes the ring non-empty or non-full.
#define DATA_CHAN(pi)  ((void *)&(pi)->count)
#define SPACE_CHAN(pi) ((void *)&(pi)->head)

static void
pipefree(struct pipe *pi)
{
  for(int i = 0; i < PIPEPAGES; i++)
    if(pi->page[i])
      kfree(pi->page[i]);
  kfree((char *)pi);
}

// Create a pipe with a read end *rf and a write end *wf. Returns 0, or -1 with nothing left
// allocated.
int
pipealloc(struct file **rf, struct file **wf)
{
  struct pipe *pi = kalloc();
  int ok = pi != 0;
  if(ok){
    *pi = (struct pipe){ .readopen = 1, .writeopen = 1 };  // page[] 0: pipefree can undo
    for(int i = 0; ok && i < PIPEPAGES; i++)
      ok = (pi->page[i] = kalloc()) != 0;
  }
  *rf = ok ? filealloc() : 0;
  *wf = (*rf != 0) ? filealloc() : 0;
  if(*wf == 0){
    if(*rf != 0)
      fileclose(*rf);     // still FD_NONE: fileclose only gives the slot back
    if(pi != 0)
      pipefree(pi);
    *rf = 0;
    return -1;
  }
  initlock(&pi->lock, "pipe");
  (*rf)->type = (*wf)->type = FD_PIPE;   // filealloc() zeroed the rest
  (*rf)->pipe = (*wf)->pipe = pi;
  (*rf)->readable = (*wf)->writable = 1;
  return 0;
}

// Close one end, waking whoever waits on the other: readers must see end of file, writers
// the broken pipe. The last close frees the ring.
void
pipeclose(struct pipe *pi, int writable)
{
  acquire(&pi->lock);
  if(writable){
    pi->writeopen = 0;
    wakeup(DATA_CHAN(pi));
  } else {
    pi->readopen = 0;
    wakeup(SPACE_CHAN(pi));
  }
  int last = !pi->readopen && !pi->writeopen;
  release(&pi->lock);
  if(last)
    pipefree(pi);
}

// Move len bytes between the ring, starting at ring index i, and user address uva: ring to
// user if out, user to ring otherwise. The ring pages are not contiguous in memory, so this
// goes one page run at a time. Returns 0, or -1 if a copy failed (part may have moved).
// The caller holds pi->lock and decides what the copied bytes mean (head/count).
static int
ringcopy(struct pipe *pi, uint i, uint64 uva, uint len, int out)
{
  pagetable_t pt = myproc()->pagetable;

  while(len > 0){
    uint at = i % PIPESIZE;
    char *ka = pi->page[at / PGSIZE] + at % PGSIZE;
    uint m = MIN(len, PGSIZE - at % PGSIZE);
    int r = out ? copyout(pt, uva, ka, m) : copyin(pt, ka, uva, m);
    if(r < 0)
      return -1;
    i += m;
    uva += m;
    len -= m;
  }
  return 0;
}

// Write n bytes from user address addr, sleeping while the ring is full. Returns n, or -1
// (see the rules at the top of this file).
int
pipewrite(struct pipe *pi, uint64 addr, int n)
{
  struct proc *p = myproc();
  int done = 0;

  if(n <= 0)
    return n == 0 ? 0 : -1;
  if(userrange(p->pagetable, addr, n, 0) < 0)
    return -1;

  acquire(&pi->lock);
  while(done < n){
    if(!pi->readopen || killed(p))
      break;
    if(pi->count == PIPESIZE){
      sleep(SPACE_CHAN(pi), &pi->lock);
      continue;
    }
    uint m = MIN((uint)(n - done), PIPESIZE - pi->count);
    // Bytes past count are not data yet, so a failed copy leaves the ring as it was.
    // userrange made that impossible; the check stays so a broken promise is an error.
    if(ringcopy(pi, pi->head + pi->count, addr + done, m, 0) < 0)
      break;
    if(pi->count == 0)
      wakeup(DATA_CHAN(pi));
    pi->count += m;
    done += m;
  }
  release(&pi->lock);
  return done == n ? n : -1;
}

// Read up to n bytes into user address addr. Sleeps until there is data or the write end is
// closed (then returns 0). Returns the count, or -1 if killed while waiting or the copy failed.
int
piperead(struct pipe *pi, uint64 addr, int n)
{
  if(n <= 0)
    return n == 0 ? 0 : -1;
  int r = -1;
  acquire(&pi->lock);
  while(pi->count == 0 && pi->writeopen && !killed(myproc()))
    sleep(DATA_CHAN(pi), &pi->lock);
  uint m = MIN((uint)n, pi->count);
  // Data, or end of file (m == 0); else killed while waiting.
  if((m > 0 || !pi->writeopen) && ringcopy(pi, pi->head, addr, m, 1) == 0){
    if(pi->count == PIPESIZE)
      wakeup(SPACE_CHAN(pi));
    pi->head = (pi->head + m) % PIPESIZE;
    pi->count -= m;
    r = m;
  }
  release(&pi->lock);
  return r;
}
