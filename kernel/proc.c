// Processes and harts: the process table and a slot's life (allocproc .. freeproc), fork,
// exit and wait, the per-hart scheduler with sleep and wakeup, and kill.
//
// Locks: defs.h has the order. A hart holds at most one p->lock. A process switches away
// (sched) holding its own p->lock and nothing else; whoever runs next on that hart releases
// it (the scheduler, or forkret for a new process).

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/defs.h"

struct cpu cpus[NCPU];
struct proc proc[NPROC];

// The first process. It adopts every orphan, so it must never go away: kill() refuses
// it and exit() panics if it tries.
static struct proc *initproc;

static int nextpid = 1;        // atomic: pids only need to be distinct

// Held while a p->parent is read or changed. exit() holds it from waking its parent until
// it is a ZOMBIE, and wait() from looking at its children until it is asleep, so a
// child's exit can never slip between a parent's look and its sleep.
static struct spinlock wait_lock;

extern char trampoline[];      // trampoline.S

static void forkret(void);
static void freeproc(struct proc *p);

// Map every slot's kernel stack page at KSTACK(slot), once at boot (memlayout.h).
void
proc_mapstacks(pagetable_t kpgtbl)
{
  for(int slot = 0; slot < NPROC; slot++){
    char *page = kalloc();
    if(page == 0)
      panic("proc_mapstacks: out of memory at boot");
    kvmmap(kpgtbl, KSTACK(slot), (uint64)page, PGSIZE, PTE_R | PTE_W);
  }
}

// Boot: every slot starts UNUSED (proc[] is zeroed) and knows its kernel stack.
void
procinit(void)
{
  initlock(&wait_lock, "wait_lock");
  for(int slot = 0; slot < NPROC; slot++){
    initlock(&proc[slot].lock, "proc");
    proc[slot].kstack = KSTACK(slot);
  }
}

// This hart's id (start.c keeps it in tp) and struct cpu. Stable only while interrupts are
// off: a process may be moved to another hart at any timer interrupt.
int
cpuid(void)
{
  return (int)r_tp();
}

struct cpu*
mycpu(void)
{
  return &cpus[cpuid()];
}

// The process running on this hart, or 0 in the scheduler. Safe with interrupts on: the
// answer is the same on whichever hart the caller ends up.
struct proc*
myproc(void)
{
  push_off();
  struct proc *p = mycpu()->proc;
  pop_off();
  return p;
}

// The first UNUSED slot, now USED and holding a new pid, returned locked; 0 if the table is full.
static struct proc*
claimslot(void)
{
  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    acquire(&p->lock);
    if(p->state == UNUSED){
      p->state = USED;
      p->pid = __atomic_fetch_add(&nextpid, 1, __ATOMIC_RELAXED);
      p->killed = 0;
      p->xstate = 0;
      return p;
    }
    release(&p->lock);
  }
  return 0;
}

// A new process: a slot with a pid, a zeroed trapframe, a user page table with nothing but the
// trampoline and the trapframe, and a kernel context that starts in forkret() at the top of its
// kernel stack. Returned USED and locked, so that no other hart schedules or frees it before the
// caller has filled it in; 0 (nothing held, nothing leaked) if the table is full or memory ran out.
static struct proc*
allocproc(void)
{
  struct proc *p = claimslot();
  if(p == 0)
    return 0;
  // The page table maps the trapframe, so the trapframe comes first.
  if((p->trapframe = kalloc()) != 0){
    memset(p->trapframe, 0, PGSIZE);
    p->pagetable = proc_pagetable(p);
  }
  if(p->pagetable != 0){
    p->context = (struct context){ .ra = (uint64)forkret, .sp = p->kstack + PGSIZE };
    return p;
  }
  freeproc(p);             // gives back the trapframe, if there is one
  release(&p->lock);
  return 0;
}

// Make slot p UNUSED again, freeing its user memory, page table and trapframe. The caller holds
// p->lock and p is either a ZOMBIE being reaped (wait_lock held) or a USED slot that never ran.
// Leaves zero what allocproc() and fork() take for granted: pagetable, trapframe, sz, parent,
// ofile[] and cwd (exit() cleared those two), and chan (sleep() clears it on waking).
static void
freeproc(struct proc *p)
{
  if(p->pagetable != 0)
    proc_freepagetable(p->pagetable, p->sz);   // the user pages, then the table itself
  if(p->trapframe != 0)
    kfree(p->trapframe);
  p->pagetable = 0;
  p->trapframe = 0;
  p->sz = 0;
  p->parent = 0;
  p->pid = 0;
  p->name[0] = 0;
  p->state = UNUSED;     // last: the slot is free for claimslot() once p->lock goes
}

// A user page table for p with only the two kernel-only pages every process has: the
// trampoline (R|X) and p's trapframe (R|W). 0 if memory ran out.
pagetable_t
proc_pagetable(struct proc *p)
{
  pagetable_t pagetable = uvmcreate();
  if(pagetable == 0)
    return 0;
  if(mappages(pagetable, TRAMPOLINE, PGSIZE, (uint64)trampoline, PTE_R | PTE_X) < 0 ||
     mappages(pagetable, TRAPFRAME, PGSIZE, (uint64)p->trapframe, PTE_R | PTE_W) < 0){
    proc_freepagetable(pagetable, 0);   // uvmunmap skips whichever page did not get mapped
    return 0;
  }
  return pagetable;
}

// Free a user page table and the sz bytes of user memory it maps. The trampoline and the
// trapframe are unmapped but not freed: they are not the page table's.
void
proc_freepagetable(pagetable_t pagetable, uint64 sz)
{
  uvmunmap(pagetable, TRAMPOLINE, 1, 0);
  uvmunmap(pagetable, TRAPFRAME, 1, 0);
  uvmfree(pagetable, sz);
}

// The first process. It starts with no user memory: forkret() mounts the file system and
// execs /init in it, which can only be done from a process (both sleep on the disk).
void
userinit(void)
{
  struct proc *p = allocproc();
  if(p == 0)
    panic("userinit: no memory for the first process");
  initproc = p;
  safestrcpy(p->name, "initcode", sizeof(p->name));
  p->state = RUNNABLE;
  release(&p->lock);
}

// sbrk: change the current process's size by n bytes. Growth maps zeroed pages now, unless
// lazy: then vmfault() maps each page on first touch. Shrinking frees at once. A shrink past
// address 0 is no change at all (programs written for xv6 rely on it). 0, or -1 with the
// size unchanged if the new size would wrap or reach TRAPFRAME, or memory ran out.
int
growproc(int n, int lazy)
{
  struct proc *p = myproc();
  uint64 sz = p->sz;

  if(n < 0){
    uint64 drop = (uint64)(-(long)n);
    if(drop <= sz)
      p->sz = uvmdealloc(p->pagetable, sz, sz - drop);
    return 0;
  }
  if(n == 0)
    return 0;
  uint64 newsz = sz + (uint64)n;   // no wrap: sz <= TRAPFRAME and n < 2^31
  if(newsz > TRAPFRAME)
    return -1;
  if(!lazy && uvmalloc(p->pagetable, sz, newsz, PTE_R | PTE_W | PTE_U) == 0)
    return -1;
  p->sz = newsz;
  return 0;
}

// The child gets its own reference to each of the parent's open files and to its current directory.
static void
inheritfiles(struct proc *child, struct proc *parent)
{
  for(int fd = 0; fd < NOFILE; fd++)
    if(parent->ofile[fd])
      child->ofile[fd] = filedup(parent->ofile[fd]);
  child->cwd = idup(parent->cwd);
}

// Drop p's open files and current directory. Putting the directory may free an unlinked
// one on disk, so it needs a transaction.
static void
dropfiles(struct proc *p)
{
  for(int fd = 0; fd < NOFILE; fd++){
    if(p->ofile[fd])
      fileclose(p->ofile[fd]);
    p->ofile[fd] = 0;
  }
  if(p->cwd){
    begin_op();
    iput(p->cwd);
    end_op();
    p->cwd = 0;
  }
}

// A child that is a copy of the current process: its memory shared copy-on-write (or
// copied, see uvmcopy), the same registers but a0 = 0, the same files. The parent gets
// the child's pid; -1 (and nothing leaked) if there is no slot or no memory.
int
fork(void)
{
  struct proc *p = myproc();
  struct proc *child = allocproc();
  if(child == 0)
    return -1;

  // sz before uvmcopy: if the copy fails part way, freeproc() frees exactly what it mapped.
  child->sz = p->sz;
  if(uvmcopy(p->pagetable, child->pagetable, p->sz) < 0){
    freeproc(child);
    release(&child->lock);
    return -1;
  }
#ifdef COW_AROUND
  cow_seqreset(p);
  cow_seqreset(child);
#endif
  *child->trapframe = *p->trapframe;
  child->trapframe->a0 = 0;
  inheritfiles(child, p);
  safestrcpy(child->name, p->name, sizeof(child->name));
  int pid = child->pid;
  release(&child->lock);   // wait_lock comes first in the lock order

  // The child may run only once it has a parent: an exit() without one would wake no one.
  // A ^C (killgroup, under wait_lock too) that marked us before this reaches the child.
  acquire(&wait_lock);
  child->parent = p;
  child->pgid = p->pgid;
  int doomed = killed(p);
  acquire(&child->lock);
  child->killed = doomed;
  child->cpu = 0;          // not the slot's last owner's
  child->state = RUNNABLE;
  release(&child->lock);
  release(&wait_lock);
  return pid;
}

// Hand p's children to init (wait_lock held). init may be asleep in wait(): one wakeup
// after the loop is enough, since it cannot look before we release wait_lock.
static void
reparent(struct proc *p)
{
  int moved = 0;
  for(struct proc *c = proc; c < &proc[NPROC]; c++){
    if(c->parent == p){
      c->parent = initproc;
      moved = 1;
    }
  }
  if(moved)
    wakeup(initproc);
}

// End the current process with the given status. Its files go now; the slot and memory
// stay (a ZOMBIE) until the parent's wait() reaps it. Never returns.
void
exit(int status)
{
  struct proc *p = myproc();
  if(p == initproc)
    panic("init exiting");

  dropfiles(p);

  acquire(&wait_lock);
  reparent(p);
  wakeup(p->parent);
  // ZOMBIE before wait_lock goes: the parent, once it gets wait_lock, must see it.
  acquire(&p->lock);
  p->xstate = status;
  p->state = ZOMBIE;
  release(&wait_lock);

  sched();
  panic("exit: a zombie was scheduled");
}

// Look at p's children (wait_lock held). Returns a ZOMBIE child, or 0; *any says whether p
// has children at all. The ZOMBIE stays one: only its parent (p) frees it, under wait_lock.
static struct proc*
zombiechild(struct proc *p, int *any)
{
  *any = 0;
  for(struct proc *c = proc; c < &proc[NPROC]; c++){
    if(c->parent != p)
      continue;
    *any = 1;
    acquire(&c->lock);
    int dead = (c->state == ZOMBIE);
    release(&c->lock);
    if(dead)
      return c;
  }
  return 0;
}

// Free zombie child c and return its pid, first copying its exit status to user address addr unless
// addr is 0. If that copy fails, c stays a ZOMBIE for a later wait and the result is -1.
static int
reap(struct proc *c, uint64 addr)
{
  acquire(&c->lock);
  int pid = c->pid;
  if(addr != 0 && copyout(myproc()->pagetable, addr, (char *)&c->xstate, sizeof(c->xstate)) < 0)
    pid = -1;
  else
    freeproc(c);
  release(&c->lock);
  return pid;
}

// Wait for a child to exit and reap it: its pid, or -1 if there are no children, we are
// killed while waiting, or addr is bad.
int
wait(uint64 addr)
{
  struct proc *p = myproc();
  int any, pid = -1;

  acquire(&wait_lock);
  for(;;){
    struct proc *c = zombiechild(p, &any);
    if(c != 0){
      pid = reap(c, addr);
      break;
    }
    if(!any || killed(p))
      break;
    sleep(p, &wait_lock);   // exit() of a child wakes us, with wait_lock held
  }
  release(&wait_lock);
  return pid;
}

// The RUNNABLE process with the least recent CPU use, or 0; of equals the first after this
// hart's last, so that they take turns. Looks without locks (64 per switch would cost more
// than the switch): the caller locks the one chosen and checks it again.
static struct proc*
pickproc(struct cpu *c)
{
  struct proc *best = 0;
  uint least = 0;

  for(int i = 1; i <= NPROC; i++){
    struct proc *p = &proc[(c->last + i) % NPROC];
    uint cpu = __atomic_load_n(&p->cpu, __ATOMIC_RELAXED);
    if(__atomic_load_n(&p->state, __ATOMIC_RELAXED) == RUNNABLE && (best == 0 || cpu < least)){
      best = p;
      least = cpu;
    }
  }
  return best;
}

// Each hart's loop after boot, on its boot stack. Every process counts its recent CPU use
// (p->cpu: ticks that found it running, see yield(); halved each second by procdecay()), and
// the hart runs the RUNNABLE one that used least. So a thread that mostly sleeps (the log's
// committer, a disk waiter, the shell after a key) runs at the next tick on some hart, ahead
// of any CPU hogs; hogs take turns, and none starves: a waiting one's count only falls.
void
scheduler(void)
{
  struct cpu *c = mycpu();

  c->proc = 0;
  for(;;){
    // A process may have left interrupts off; devices must be able to wake sleepers.
    intr_on();
    struct proc *p = pickproc(c);
    if(p == 0){
      asm volatile("wfi");   // the next interrupt (at worst a timer tick) ends the wait
      continue;
    }
    acquire(&p->lock);
    if(p->state == RUNNABLE){   // another hart may have taken it since pickproc() looked
      c->last = p - proc;
      p->state = RUNNING;
      c->proc = p;
      swtch(&c->context, &p->context);   // back when p gives the hart up (sched)
      c->proc = 0;
    }
    release(&p->lock);
  }
}

// Once a second (clockintr): halve every CPU count, so that it measures recent use.
void
procdecay(void)
{
  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    acquire(&p->lock);
    p->cpu /= 2;
    release(&p->lock);
  }
}

// Give the hart back to its scheduler. The caller holds p->lock and nothing else, and has
// moved p out of RUNNING. Returns when the scheduler picks p again, maybe on another hart.
void
sched(void)
{
  struct proc *p = myproc();

  if(!holding(&p->lock))
    panic("sched: p->lock not held");
  if(mycpu()->noff != 1)
    panic("sched: a lock other than p->lock is held");
  if(p->state == RUNNING)
    panic("sched: process still RUNNING");
  if(intr_get())
    panic("sched: interrupts on");

  // intena describes this kernel thread (were interrupts on before its push_off?), not
  // the hart, so it travels with the thread; mycpu() may differ after the switch.
  int intena = mycpu()->intena;
  swtch(&p->context, &mycpu()->context);
  mycpu()->intena = intena;
}

// Leave the hart in state s, asleep on chan if s is SLEEPING; back when scheduled again.
// p->lock held throughout.
static void
switchout(struct proc *p, enum procstate s, void *chan)
{
  p->chan = chan;
  p->state = s;
  sched();
  p->chan = 0;
}

// The timer found p running: count the tick against it and let the scheduler choose again.
void
yield(void)
{
  struct proc *p = myproc();

  acquire(&p->lock);
  p->cpu++;
  switchout(p, RUNNABLE, 0);
  release(&p->lock);
}

// Release lk, sleep until a wakeup(chan), and take lk again. The caller checked its
// condition under lk; wakeup() needs our p->lock, which we take before letting go of lk,
// so a wakeup issued after that check finds us SLEEPING: none is lost. A kill also ends
// the sleep: callers recheck their condition (and killed(), if they can give up) in a loop.
void
sleep(void *chan, struct spinlock *lk)
{
  struct proc *p = myproc();

  acquire(&p->lock);
  release(lk);
  switchout(p, SLEEPING, chan);
  release(&p->lock);
  acquire(lk);
}

// Make every process asleep on chan RUNNABLE. The caller holds the lock that guards the
// condition the sleepers wait for, and no p->lock.
void
wakeup(void *chan)
{
  struct proc *me = myproc();   // running, so not asleep on anything

  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    if(p == me)
      continue;
    acquire(&p->lock);
    if(p->state == SLEEPING && p->chan == chan)
      p->state = RUNNABLE;
    release(&p->lock);
  }
}

// Where every process made by allocproc() first runs, still holding the p->lock the
// scheduler took. The first one also mounts the file system and execs /init.
static void
forkret(void)
{
  // Only the first process can see 0: every other one descends from it and is created
  // after /init started.
  static int initdone;
  struct proc *p = myproc();

  release(&p->lock);
  if(!initdone){
    initdone = 1;
    fsinit(ROOTDEV);
    if((p->cwd = namei("/")) == 0)
      panic("init: the file system has no root directory");
    char *argv[] = { "init", 0 };
    int argc = exec("/init", argv);
    if(argc < 0)
      panic("init: cannot exec /init (missing or not an executable?)");
    p->trapframe->a0 = argc;   // main's argc; exec set a1 to argv
  }
  usertrapret();
}

// Mark every live process but init whose pid (or, if group, pgid) is id killed: it exits with
// status -1 when it next heads back to user mode (usertrap checks), and a sleep ends early so that
// loops that can give up do. A zombie can be killed (its exit status stays). How many were marked.
static int
killmatching(int id, int group)
{
  int n = 0;
  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    acquire(&p->lock);
    if(p->state != UNUSED && (group ? p->pgid : p->pid) == id && id > 0 && p != initproc){
      p->killed = 1;
      if(p->state == SLEEPING)
        p->state = RUNNABLE;
      n++;
    }
    release(&p->lock);
  }
  return n;
}

// kill(pid): 0, or -1 for no such process or init.
int
kill(int pid)
{
  return killmatching(pid, 0) > 0 ? 0 : -1;
}

// Make process pid, the caller or a child of it, the first of a new process group (pgid =
// pid; fork passes a group on). 0, or -1 if pid is neither.
int
setpgrp(int pid)
{
  struct proc *me = myproc();
  int r = -1;

  acquire(&wait_lock);
  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    if((p == me || p->parent == me) && p->pid == pid){   // pid is stable: p is ours
      p->pgid = pid;
      r = 0;
    }
  }
  release(&wait_lock);
  return r;
}

// ^C (console.c): kill every process in group pgid but init. Under wait_lock, so that a member's
// fork finished before (the child is seen here) or sees its parent killed.
void
killgroup(int pgid)
{
  acquire(&wait_lock);
  killmatching(pgid, 1);
  release(&wait_lock);
}

void
setkilled(struct proc *p)
{
  acquire(&p->lock);
  p->killed = 1;
  release(&p->lock);
}

int
killed(struct proc *p)
{
  acquire(&p->lock);
  int k = p->killed;
  release(&p->lock);
  return k;
}

// Copy len bytes to dst, a user address of the current process if user_dst, else a kernel
// address. 0, or -1 if the user address is bad.
int
either_copyout(int user_dst, uint64 dst, void *src, uint64 len)
{
  if(!user_dst){
    memmove((void *)dst, src, len);
    return 0;
  }
  return copyout(myproc()->pagetable, dst, src, len);
}

// Copy len bytes from src, a user address of the current process if user_src, else a
// kernel address. 0, or -1 if the user address is bad.
int
either_copyin(void *dst, int user_src, uint64 src, uint64 len)
{
  if(!user_src){
    memmove(dst, (void *)src, len);
    return 0;
  }
  return copyin(myproc()->pagetable, dst, src, len);
}

// ^P on the console: one line per process, "pid state name", then the pages it maps and how many of
// them are shared (uvmcount, vm.c; tests/shell_session.py reads the line). Takes no locks, so that
// it works on a wedged kernel; what it prints may then be slightly stale.
void
procdump(void)
{
  static char *statename[] = {
    [USED] "new", [SLEEPING] "sleep", [RUNNABLE] "ready", [RUNNING] "run", [ZOMBIE] "zombie",
  };
  int mapped, shared;

  printf("\n");
  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    if(p->state == UNUSED)
      continue;
    uvmcount(p->pagetable, p->sz, &mapped, &shared);
    printf("%d %s %s  %d pages, %d shared\n", p->pid, statename[p->state], p->name,
           mapped, shared);
  }
}

// Kernel threads: a process slot that runs a kernel function forever and never enters user
// space (its trapframe and page table from allocproc() stay unused). It has pid 0, which
// kill() never accepts, and no parent, so it is nobody's child: nobody waits for it and it
// never exits. ^P lists it as pid 0 with its name.
static void (*kthread_fn[NPROC])(void);   // what each kernel thread's slot runs

// A new kernel thread's first code (its context.ra), entered from scheduler() with p->lock
// held, as forkret is.
static void
kthread_entry(void)
{
  struct proc *p = myproc();
  release(&p->lock);
  kthread_fn[p - proc]();
  panic("kthread: thread function returned");
}

// Start fn in a new kernel thread named name. fn must never return. 0, or -1 if there is no
// free process slot or no memory.
int
kthread_start(char *name, void (*fn)(void))
{
  struct proc *p = allocproc();
  if(p == 0)
    return -1;
  p->pid = 0;
  kthread_fn[p - proc] = fn;
  p->context.ra = (uint64)kthread_entry;
  safestrcpy(p->name, name, sizeof(p->name));
  p->state = RUNNABLE;
  release(&p->lock);
  return 0;
}
