// Processes and harts: the process table, creation (fork, the first process), exit/wait,
// the per-hart scheduler, sleep/wakeup, kill, and copying to/from either address space.
//
// Lock order (outermost first):
//   wait_lock -> p->lock
// wait_lock guards every p->parent and serialises exit()/wait() so a parent's wakeup is
// never lost. A hart holds at most one p->lock at a time, except that code holding
// wait_lock may take one p->lock (a parent's or a child's) while it looks at that process.
// pid_lock is a leaf. sleep() is the only way to give up p->lock across a switch.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/defs.h"

struct cpu cpus[NCPU];
struct proc proc[NPROC];

static struct proc *initproc;  // the process that adopts orphans; never exits

static int nextpid = 1;
static struct spinlock pid_lock;

// Held to read or change any p->parent, and by wait() while it sleeps for a child.
static struct spinlock wait_lock;

extern char trampoline[];      // trampoline.S: trap entry/exit code, one page

static void forkret(void);
static void freeproc(struct proc *p);

// One kernel stack page per process slot, each at KSTACK(slot); the page just below
// stays unmapped so a kernel stack overflow faults instead of corrupting a neighbour.
void
proc_mapstacks(pagetable_t kpgtbl)
{
  for(int i = 0; i < NPROC; i++){
    char *pa = kalloc();
    if(pa == 0)
      panic("proc_mapstacks: out of memory at boot");
    kvmmap(kpgtbl, KSTACK(i), (uint64)pa, PGSIZE, PTE_R | PTE_W);
  }
}

void
procinit(void)
{
  initlock(&pid_lock, "nextpid");
  initlock(&wait_lock, "wait_lock");
  for(int i = 0; i < NPROC; i++){
    struct proc *p = &proc[i];
    initlock(&p->lock, "proc");
    p->state = UNUSED;
    p->kstack = KSTACK(i);
  }
}

// The hart id, kept in tp since boot. Only meaningful with interrupts off: otherwise the
// process could move to another hart right after reading it.
int
cpuid(void)
{
  return (int)r_tp();
}

// This hart's struct cpu. Interrupts must be off.
struct cpu*
mycpu(void)
{
  return &cpus[cpuid()];
}

// The process running on this hart, or 0 in the scheduler.
struct proc*
myproc(void)
{
  push_off();
  struct proc *p = mycpu()->proc;
  pop_off();
  return p;
}

static int
allocpid(void)
{
  int pid;

  acquire(&pid_lock);
  pid = nextpid++;
  release(&pid_lock);
  return pid;
}

// Claim an UNUSED slot and give it a trapframe page, an empty user page table and a
// kernel context that starts in forkret. Returns with p->lock held, or 0 (nothing held,
// nothing leaked) if no slot or no memory.
static struct proc*
allocproc(void)
{
  struct proc *p;

  for(p = proc; p < &proc[NPROC]; p++){
    acquire(&p->lock);
    if(p->state == UNUSED)
      goto found;
    release(&p->lock);
  }
  return 0;

found:
  p->pid = allocpid();
  p->state = USED;
  p->killed = 0;
  p->xstate = 0;
  p->chan = 0;
  p->sz = 0;

  if((p->trapframe = (struct trapframe *)kalloc()) == 0){
    freeproc(p);
    release(&p->lock);
    return 0;
  }
  memset(p->trapframe, 0, PGSIZE);

  if((p->pagetable = proc_pagetable(p)) == 0){
    freeproc(p);
    release(&p->lock);
    return 0;
  }

  memset(&p->context, 0, sizeof(p->context));
  p->context.ra = (uint64)forkret;
  p->context.sp = p->kstack + PGSIZE;
  return p;
}

// Give back everything a slot owns except its kernel stack. p->lock must be held.
static void
freeproc(struct proc *p)
{
  if(p->trapframe)
    kfree((void *)p->trapframe);
  p->trapframe = 0;
  if(p->pagetable)
    proc_freepagetable(p->pagetable, p->sz);
  p->pagetable = 0;
  p->sz = 0;
  p->pid = 0;
  p->parent = 0;
  p->name[0] = 0;
  p->chan = 0;
  p->killed = 0;
  p->xstate = 0;
  p->state = UNUSED;
}

// A user page table with no user memory, only the trampoline (kernel-only, R|X) and
// this process's trapframe (kernel-only, R|W). 0 if out of memory.
pagetable_t
proc_pagetable(struct proc *p)
{
  pagetable_t pagetable = uvmcreate();
  if(pagetable == 0)
    return 0;

  if(mappages(pagetable, TRAMPOLINE, PGSIZE, (uint64)trampoline, PTE_R | PTE_X) < 0){
    uvmfree(pagetable, 0);
    return 0;
  }
  if(mappages(pagetable, TRAPFRAME, PGSIZE, (uint64)p->trapframe, PTE_R | PTE_W) < 0){
    uvmunmap(pagetable, TRAMPOLINE, 1, 0);
    uvmfree(pagetable, 0);
    return 0;
  }
  return pagetable;
}

// Free a user page table and the sz bytes of user memory it maps. The trampoline and the
// trapframe are not the page table's to free.
void
proc_freepagetable(pagetable_t pagetable, uint64 sz)
{
  uvmunmap(pagetable, TRAMPOLINE, 1, 0);
  uvmunmap(pagetable, TRAPFRAME, 1, 0);
  uvmfree(pagetable, sz);
}

// Create the first process. It has no user memory yet: forkret() execs /init in it once
// the file system can be initialised (that needs a process context, since it sleeps).
void
userinit(void)
{
  struct proc *p = allocproc();
  if(p == 0)
    panic("userinit: cannot allocate the first process");
  initproc = p;
  p->sz = 0;
  safestrcpy(p->name, "initcode", sizeof(p->name));
  p->state = RUNNABLE;
  release(&p->lock);
}

// Grow or shrink the current process's memory by n bytes. 0 on success, -1 (and no
// change) if the new size would underflow or reach past TRAPFRAME, or memory ran out.
int
growproc(int n)
{
  struct proc *p = myproc();
  uint64 sz = p->sz;

  if(n > 0){
    uint64 newsz = sz + (uint64)n;
    if(newsz < sz || newsz > TRAPFRAME)
      return -1;
    if((sz = uvmalloc(p->pagetable, sz, newsz, PTE_R | PTE_W | PTE_U)) == 0)
      return -1;
  } else if(n < 0){
    uint64 shrink = (uint64)(-(long)n);
    if(shrink > sz)
      return 0;
    sz = uvmdealloc(p->pagetable, sz, sz - shrink);
  }
  p->sz = sz;
  return 0;
}

// Create a child that is a copy of the current process. The user memory is shared
// copy-on-write by uvmcopy(). Returns the child's pid to the parent (the child sees 0),
// or -1 with nothing leaked.
int
fork(void)
{
  struct proc *p = myproc();
  struct proc *np;
  int pid;

  if((np = allocproc()) == 0)
    return -1;

  // np->sz is set first so that freeproc() releases whatever uvmcopy() managed to map
  // before failing (uvmfree skips pages that are not mapped, as it must for lazy sbrk).
  np->sz = p->sz;
  if(uvmcopy(p->pagetable, np->pagetable, p->sz) < 0){
    freeproc(np);
    release(&np->lock);
    return -1;
  }

  *(np->trapframe) = *(p->trapframe);
  np->trapframe->a0 = 0;          // fork() returns 0 in the child

  for(int i = 0; i < NOFILE; i++)
    if(p->ofile[i])
      np->ofile[i] = filedup(p->ofile[i]);
  np->cwd = idup(p->cwd);

  safestrcpy(np->name, p->name, sizeof(np->name));
  pid = np->pid;
  release(&np->lock);

  // Parent is set under wait_lock, and the child becomes runnable only afterwards, so
  // the child can never exit before its parent link exists.
  acquire(&wait_lock);
  np->parent = p;
  release(&wait_lock);

  acquire(&np->lock);
  np->state = RUNNABLE;
  release(&np->lock);

  return pid;
}

// Hand p's children to init. Caller holds wait_lock.
static void
reparent(struct proc *p)
{
  for(struct proc *pp = proc; pp < &proc[NPROC]; pp++){
    if(pp->parent == p){
      pp->parent = initproc;
      wakeup(initproc);
    }
  }
}

// End the current process. It stays a ZOMBIE until its parent's wait() collects it.
void
exit(int status)
{
  struct proc *p = myproc();

  if(p == initproc)
    panic("init exiting");

  for(int fd = 0; fd < NOFILE; fd++){
    if(p->ofile[fd]){
      struct file *f = p->ofile[fd];
      p->ofile[fd] = 0;
      fileclose(f);
    }
  }

  if(p->cwd){
    begin_op();
    iput(p->cwd);
    end_op();
    p->cwd = 0;
  }

  acquire(&wait_lock);
  reparent(p);
  // The parent may be asleep in wait(); it cannot miss this because it sleeps holding
  // wait_lock, which we hold until after we are a ZOMBIE.
  wakeup(p->parent);

  acquire(&p->lock);
  p->xstate = status;
  p->state = ZOMBIE;
  release(&wait_lock);

  sched();
  panic("zombie exit");
}

// Wait for a child to exit; copy its status to user address addr unless addr is 0.
// Returns the child's pid, or -1 if there are no children, we were killed, or the
// status cannot be copied out (the zombie is then left for a later wait).
int
wait(uint64 addr)
{
  struct proc *p = myproc();

  acquire(&wait_lock);
  for(;;){
    int havekids = 0;
    for(struct proc *pp = proc; pp < &proc[NPROC]; pp++){
      if(pp->parent != p)
        continue;
      acquire(&pp->lock);
      havekids = 1;
      if(pp->state == ZOMBIE){
        int pid = pp->pid;
        if(addr != 0 &&
           copyout(p->pagetable, addr, (char *)&pp->xstate, sizeof(pp->xstate)) < 0){
          release(&pp->lock);
          release(&wait_lock);
          return -1;
        }
        freeproc(pp);
        release(&pp->lock);
        release(&wait_lock);
        return pid;
      }
      release(&pp->lock);
    }

    if(!havekids || killed(p)){
      release(&wait_lock);
      return -1;
    }
    sleep(p, &wait_lock);
  }
}

// Per-hart scheduler loop, entered once at the end of boot and never left. It runs on
// the hart's boot stack; processes come back here through sched().
void
scheduler(void)
{
  struct cpu *c = mycpu();

  c->proc = 0;
  __sync_synchronize();
  c->started = 1;

  for(;;){
    // Interrupts on, so a device can wake a sleeping process even if every process
    // is asleep and this hart never gives up the loop.
    intr_on();

    int found = 0;
    for(struct proc *p = proc; p < &proc[NPROC]; p++){
      acquire(&p->lock);
      if(p->state == RUNNABLE){
        // The process releases p->lock (in forkret, sleep, yield...) and reacquires it
        // before switching back here.
        p->state = RUNNING;
        c->proc = p;
        swtch(&c->context, &p->context);
        c->proc = 0;
        found = 1;
      }
      release(&p->lock);
    }

    if(!found){
      // Nothing to run: idle until an interrupt (at worst the next timer tick).
      intr_on();
      asm volatile("wfi");
    }
  }
}

// Switch to this hart's scheduler. The caller holds p->lock (and no other lock) and has
// already changed p->state. intena belongs to this kernel thread, not to the hart, so
// it is saved across the switch.
void
sched(void)
{
  struct proc *p = myproc();

  if(!holding(&p->lock))
    panic("sched: p->lock not held");
  if(mycpu()->noff != 1)
    panic("sched: other locks held");
  if(p->state == RUNNING)
    panic("sched: process still RUNNING");
  if(intr_get())
    panic("sched: interrupts enabled");

  int intena = mycpu()->intena;
  swtch(&p->context, &mycpu()->context);
  mycpu()->intena = intena;
}

// Give up the hart for one scheduling round.
void
yield(void)
{
  struct proc *p = myproc();

  acquire(&p->lock);
  p->state = RUNNABLE;
  sched();
  release(&p->lock);
}

// Every new process starts here (context.ra), still holding p->lock from scheduler().
// The very first one also brings up the file system and execs /init.
static void
forkret(void)
{
  static int first = 1;
  struct proc *p = myproc();

  release(&p->lock);

  // Only the first process can be running when this test first succeeds: nothing
  // else exists until /init forks, which is after the flag is cleared.
  if(first){
    first = 0;
    __sync_synchronize();

    fsinit(ROOTDEV);
    p->cwd = namei("/");
    if(p->cwd == 0)
      panic("init: no root directory");

    char *argv[] = { "init", 0 };
    int argc = exec("/init", argv);
    if(argc < 0)
      panic("init: cannot exec /init (missing or not an executable?)");
    p->trapframe->a0 = argc;
  }

  usertrapret();
}

// Atomically release lk and sleep on chan; reacquire lk when woken. Because p->lock is
// taken before lk is released, and wakeup() needs p->lock, a wakeup issued after the
// caller's test of its condition cannot be lost.
void
sleep(void *chan, struct spinlock *lk)
{
  struct proc *p = myproc();

  acquire(&p->lock);
  release(lk);

  p->chan = chan;
  p->state = SLEEPING;
  sched();
  p->chan = 0;

  release(&p->lock);
  acquire(lk);
}

// Make every process sleeping on chan runnable. Called without any p->lock held.
void
wakeup(void *chan)
{
  struct proc *me = myproc();

  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    if(p == me)
      continue;
    acquire(&p->lock);
    if(p->state == SLEEPING && p->chan == chan)
      p->state = RUNNABLE;
    release(&p->lock);
  }
}

// Mark process pid killed. It exits the next time it crosses the user/kernel boundary
// (usertrap checks killed()), or sooner if it was asleep in an interruptible loop.
// 0 on success, -1 if there is no such process.
int
kill(int pid)
{
  if(pid <= 0)
    return -1;
  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    acquire(&p->lock);
    if(p->state != UNUSED && p->pid == pid){
      if(p == initproc){
        release(&p->lock);
        return -1;
      }
      p->killed = 1;
      if(p->state == SLEEPING)
        p->state = RUNNABLE;   // let it notice; sleeping loops recheck killed()
      release(&p->lock);
      return 0;
    }
    release(&p->lock);
  }
  return -1;
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
  int k;

  acquire(&p->lock);
  k = p->killed;
  release(&p->lock);
  return k;
}

// Copy to a user address (user_dst = 1, current process) or a kernel address.
// 0 on success, -1 on a bad user address.
int
either_copyout(int user_dst, uint64 dst, void *src, uint64 len)
{
  if(user_dst)
    return copyout(myproc()->pagetable, dst, src, len);
  memmove((char *)dst, src, len);
  return 0;
}

// Copy from a user address (user_src = 1, current process) or a kernel address.
int
either_copyin(void *dst, int user_src, uint64 src, uint64 len)
{
  if(user_src)
    return copyin(myproc()->pagetable, dst, src, len);
  memmove(dst, (char *)src, len);
  return 0;
}

// ^P on the console: one line per process. Takes no locks, so it still works when the
// kernel is wedged; the output may then be slightly inconsistent.
void
procdump(void)
{
  static char *statename[] = {
    [UNUSED]   "unused",
    [USED]     "used",
    [SLEEPING] "sleep ",
    [RUNNABLE] "runble",
    [RUNNING]  "run   ",
    [ZOMBIE]   "zombie",
  };

  printf("\n");
  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    if(p->state == UNUSED)
      continue;
    char *state = "???";
    if(p->state >= 0 && p->state < NELEM(statename) && statename[p->state])
      state = statename[p->state];
    printf("%d %s %s\n", p->pid, state, p->name);
  }
}
