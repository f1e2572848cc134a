// Process system calls: exit, getpid, fork, wait, kill, uptime, pause, sbrk, memstat.
// Arguments are untrusted: every bad value or pointer gives -1, never a panic.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/memstat.h"
#include "kernel/defs.h"

uint64
sys_exit(void)
{
  int status;

  argint(0, &status);
  exit(status);
  return 0;  // not reached
}

uint64
sys_getpid(void)
{
  return myproc()->pid;
}

uint64
sys_fork(void)
{
  return fork();
}

uint64
sys_wait(void)
{
  uint64 addr;

  argaddr(0, &addr);
  return wait(addr);
}

uint64
sys_kill(void)
{
  int pid;

  argint(0, &pid);
  return kill(pid);
}

// Timer ticks since boot.
uint64
sys_uptime(void)
{
  uint t;

  acquire(&tickslock);
  t = ticks;
  release(&tickslock);
  return t;
}

// Sleep n ticks (negative counts as 0). -1 if killed meanwhile. The tick handler calls
// wakeup(&ticks) under tickslock.
uint64
sys_pause(void)
{
  int n;
  uint ticks0;

  argint(0, &n);
  if(n < 0)
    n = 0;

  acquire(&tickslock);
  ticks0 = ticks;
  while(ticks - ticks0 < (uint)n){
    if(killed(myproc())){
      release(&tickslock);
      return -1;
    }
    sleep(&ticks, &tickslock);
  }
  release(&tickslock);
  return 0;
}

// sbrk(n, how): change the process size by n bytes and return the old size.
// SBRK_EAGER allocates the pages now; SBRK_LAZY only moves p->sz and vmfault() allocates
// each page on first touch. Shrinking frees at once in either mode. On any failure the
// size is unchanged and the result is (uint64)-1.
uint64
sys_sbrk(void)
{
  struct proc *p = myproc();
  int n, how;
  uint64 oldsz = p->sz;

  argint(0, &n);
  argint(1, &how);

  if(how != SBRK_EAGER && how != SBRK_LAZY)
    return -1;

  if(how == SBRK_EAGER || n < 0){
    if(growproc(n) < 0)
      return -1;
    return oldsz;
  }

  uint64 newsz = oldsz + (uint64)n;
  if(newsz < oldsz || newsz > TRAPFRAME)
    return -1;
  p->sz = newsz;
  return oldsz;
}

// memstat(struct memstat *addr): physical-page and copy-on-write statistics.
uint64
sys_memstat(void)
{
  uint64 addr;
  struct memstat m;

  argaddr(0, &addr);

  memset(&m, 0, sizeof(m));   // no stack garbage reaches user space; unfilled fields read 0
  m.totalpages = ktotalpages();
  m.freepages = kfreepages();
  m.sharedpages = ksharedpages();
#ifdef COW_FORK
  cow_stats(&m);              // the copy-on-write counters (cow.c)
#endif
  bio_stats(&m);              // disk requests (bio.c)

  if(copyout(myproc()->pagetable, addr, (char *)&m, sizeof(m)) < 0)
    return -1;
  return 0;
}
