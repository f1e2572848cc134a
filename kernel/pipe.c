// Pipes: a ring buffer of PIPEPAGES kalloc'd pages shared by a read end and a write end (two
// struct files). Data moves between the ring and user memory in contiguous chunks (at most the
// rest of one ring page), not byte by byte. The ring is several pages because every time it
// fills or drains the two processes must sleep and wake each other, which costs far more than
// copying a page; with 64 KiB that happens a sixteenth as often as with one page. A pipe
// costs PIPEPAGES+1 pages, at most NFILE/2 pipes exist: under 4 MiB in all.
//
// pi->lock guards all fields. copyout/copyin run with it held; they may take allocator and
// COW reference locks (leaves), but never sleep.

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
  uint count;      // bytes in the ring, 0..PIPESIZE; the next write goes at (head + count) % PIPESIZE
  int readopen;    // read end still open?
  int writeopen;   // write end still open?
  char *page[PIPEPAGES];   // the ring: index i is byte i % PGSIZE of page[i / PGSIZE]
};

// Where ring index i lives, and how many bytes from there are contiguous in memory.
#define RINGADDR(pi, i)  ((pi)->page[(i) / PGSIZE] + (i) % PGSIZE)
#define RINGRUN(i)       (PGSIZE - (i) % PGSIZE)

static void
pipefree(struct pipe *pi)
{
  for(int i = 0; i < PIPEPAGES; i++)
    if(pi->page[i])
      kfree(pi->page[i]);
  kfree((char *)pi);
}

// Sleep channels: readers wait for data, writers wait for space.
#define DATA_CHAN(pi)  ((void *)&(pi)->count)
#define SPACE_CHAN(pi) ((void *)&(pi)->head)

#define MIN(a, b) ((a) < (b) ? (a) : (b))

// Create a pipe and its two files. Returns 0, or -1 with nothing left allocated.
int
pipealloc(struct file **f0, struct file **f1)
{
  struct pipe *pi = 0;

  *f0 = *f1 = 0;
  if((*f0 = filealloc()) == 0 || (*f1 = filealloc()) == 0)
    goto bad;
  if((pi = (struct pipe *)kalloc()) == 0)
    goto bad;
  memset(pi, 0, sizeof(*pi));
  for(int i = 0; i < PIPEPAGES; i++){
    if((pi->page[i] = kalloc()) == 0){
      pipefree(pi);
      goto bad;
    }
  }

  initlock(&pi->lock, "pipe");
  pi->head = 0;
  pi->count = 0;
  pi->readopen = 1;
  pi->writeopen = 1;

  (*f0)->type = FD_PIPE;
  (*f0)->readable = 1;
  (*f0)->writable = 0;
  (*f0)->pipe = pi;
  (*f1)->type = FD_PIPE;
  (*f1)->readable = 0;
  (*f1)->writable = 1;
  (*f1)->pipe = pi;
  return 0;

bad:
  // The files are still FD_NONE, so fileclose just frees their slots.
  if(*f0)
    fileclose(*f0);
  if(*f1)
    fileclose(*f1);
  *f0 = *f1 = 0;
  return -1;
}

// Close one end. The pipe's page is freed when both ends are closed.
void
pipeclose(struct pipe *pi, int writable)
{
  acquire(&pi->lock);
  if(writable){
    pi->writeopen = 0;
    wakeup(DATA_CHAN(pi));     // readers must see EOF
  } else {
    pi->readopen = 0;
    wakeup(SPACE_CHAN(pi));    // writers must see the broken pipe
  }
  if(pi->readopen || pi->writeopen){
    release(&pi->lock);
    return;
  }
  release(&pi->lock);
  pipefree(pi);
}

// Write n bytes from user address addr. Blocks while the ring is full.
// Returns n; or -1 if the read end is closed or we are killed; or, if a copy from user
// memory fails, the bytes already written (-1 if none).
int
pipewrite(struct pipe *pi, uint64 addr, int n)
{
  struct proc *pr = myproc();
  int tot = 0;

  acquire(&pi->lock);
  while(tot < n){
    if(!pi->readopen || killed(pr)){
      release(&pi->lock);
      return -1;
    }
    if(pi->count == PIPESIZE){
      wakeup(DATA_CHAN(pi));
      sleep(SPACE_CHAN(pi), &pi->lock);
      continue;
    }
    uint tail = (pi->head + pi->count) % PIPESIZE;
    uint chunk = MIN((uint)(n - tot), PIPESIZE - pi->count);
    chunk = MIN(chunk, RINGRUN(tail));          // stop at the end of a ring page
    if(copyin(pr->pagetable, RINGADDR(pi, tail), addr + tot, chunk) < 0)
      break;                                    // bytes past count are not data yet
    pi->count += chunk;
    tot += chunk;
    if(pi->count == chunk)
      wakeup(DATA_CHAN(pi));   // the ring was empty, so a reader may sleep: start it now

  }
  wakeup(DATA_CHAN(pi));
  release(&pi->lock);
  if(tot == 0 && n > 0)
    return -1;
  return tot;
}

// Read up to n bytes into user address addr. Blocks until there is data or every writer
// has closed (then returns 0). Returns -1 if killed while waiting, or if the first copy to
// user memory fails; bytes are consumed only after they were copied out.
int
piperead(struct pipe *pi, uint64 addr, int n)
{
  struct proc *pr = myproc();
  int tot = 0;

  acquire(&pi->lock);
  while(pi->count == 0 && pi->writeopen){
    if(killed(pr)){
      release(&pi->lock);
      return -1;
    }
    sleep(DATA_CHAN(pi), &pi->lock);
  }
  while(tot < n && pi->count > 0){
    uint chunk = MIN((uint)(n - tot), pi->count);
    chunk = MIN(chunk, RINGRUN(pi->head));      // stop at the end of a ring page
    if(copyout(pr->pagetable, addr + tot, RINGADDR(pi, pi->head), chunk) < 0){
      if(tot == 0){
        release(&pi->lock);
        return -1;
      }
      break;
    }
    pi->head = (pi->head + chunk) % PIPESIZE;
    pi->count -= chunk;
    tot += chunk;
    if(pi->count + chunk == PIPESIZE)
      wakeup(SPACE_CHAN(pi));  // the ring was full, so a writer may sleep: start it now
  }
  wakeup(SPACE_CHAN(pi));
  release(&pi->lock);
  return tot;
}
