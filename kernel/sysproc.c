// Process system calls: each fetches its arguments and hands them to proc.c (or reads a
// counter). Every argument value has a defined result, never a panic.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/memstat.h"
#include "kernel/defs.h"

// Argument n by value: the system calls here take no strings.
static int
intarg(int n)
{
  int v;
  argint(n, &v);
  return v;
}

static uint64
addrarg(int n)
{
  uint64 a;
  argaddr(n, &a);
  return a;
}

// exit(status): the parent's wait() receives status unchanged. Does not return.
uint64
sys_exit(void)
{
  exit(intarg(0));
}

uint64
sys_fork(void)
{
  return fork();
}

uint64
sys_getpid(void)
{
  return myproc()->pid;
}

// wait(int *status): status 0 asks for no status. A bad pointer gives -1 and leaves the
// child unreaped.
uint64
sys_wait(void)
{
  return wait(addrarg(0));
}

// kill(pid): -1 for pid <= 0, a pid no process has (never used, or reaped), or init.
uint64
sys_kill(void)
{
  return kill(intarg(0));
}

// Timer ticks since boot. One aligned word, so it is read whole without tickslock.
uint64
sys_uptime(void)
{
  return __atomic_load_n(&ticks, __ATOMIC_RELAXED);
}

// pause(n): sleep until n ticks have passed; n <= 0 returns at once. -1 if killed first.
// Elapsed time is an unsigned difference, so a wrap of ticks does not matter.
uint64
sys_pause(void)
{
  int n = intarg(0);
  struct proc *p = myproc();
  uint64 r = 0;

  acquire(&tickslock);
  uint start = ticks;
  while(n > 0 && ticks - start < (uint)n){
    if(killed(p)){
      r = -1;
      break;
    }
    sleep(&ticks, &tickslock);   // the timer interrupt wakes &ticks under tickslock
  }
  release(&tickslock);
  return r;
}

// sbrk(n, how): move the end of the process's memory by n bytes and return the old end.
// SBRK_EAGER maps the new pages now, SBRK_LAZY on first touch; shrinking is immediate in
// both. (uint64)-1, nothing changed, for an unknown how or a growth that cannot be met;
// a shrink past address 0 changes nothing and returns the old end.
uint64
sys_sbrk(void)
{
  int n = intarg(0), how = intarg(1);
  uint64 oldsz = myproc()->sz;
  int r = -1;

  if(how == SBRK_EAGER || how == SBRK_LAZY)
    r = growproc(n, how == SBRK_LAZY);
  return r < 0 ? -1 : oldsz;
}

// memstat(struct memstat *): page and copy-on-write counts. -1 for a bad pointer.
uint64
sys_memstat(void)
{
  struct memstat m;
  memset(&m, 0, sizeof(m));   // padding, and counters this build does not keep, read 0
  m.totalpages = ktotalpages();
  m.freepages = kfreepages();
  m.sharedpages = ksharedpages();
#ifdef COW_FORK
  cow_stats(&m);
#endif
  bio_stats(&m);
  return copyout(myproc()->pagetable, addrarg(0), (char *)&m, sizeof(m)) < 0 ? -1 : 0;
}

// vmquery(va, npages, buf), as kernel/vmquery.h describes it; uvmquery() in vm.c does the work.
uint64
sys_vmquery(void)
{
  return uvmquery(myproc()->pagetable, addrarg(0), intarg(1), addrarg(2));
}

// setfg(pid): make group pid the console's foreground job, the one ^C ends (0: none), and
// return the previous one; pid, if the caller or its child, first heads a group pid.
uint64
sys_setfg(void)
{
  int pid = intarg(0);
  if(pid < 0)
    return -1;
  setpgrp(pid);   // fails, harmlessly, for 0 and for someone else's group
  return consolesetfg(pid);
}
