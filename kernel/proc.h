// Harts and processes: the per-hart record, the saved register sets (kernel context and
// user trapframe), and the process-table slot.
#ifndef XV6_PROC_H
#define XV6_PROC_H

// What swtch.S saves when a kernel thread gives up its hart: the return address, the
// stack pointer and the callee-saved registers. Everything else is the C caller's to
// save. swtch.S's CTX_ offsets follow this layout.
struct context {
  uint64 ra;
  uint64 sp;
  uint64 s[12];                // s0..s11
};
_Static_assert(__builtin_offsetof(struct context, s) == 16, "swtch.S: CTX_S0");

// One per hart, indexed by hart id (cpuid()). Only its own hart touches it, with interrupts off.
struct cpu {
  struct proc *proc;           // running here, or 0 while in scheduler()
  struct context context;      // the scheduler's; sched() switches to it
  int noff;                    // push_off() depth
  int intena;                  // interrupts were on at the outermost push_off()
  int last;                    // slot this hart last ran: scheduler() ties start after it
};

extern struct cpu cpus[NCPU];

// The page at TRAPFRAME in a process's user page table. trampoline.S fills in the
// user registers on a trap and reloads them on return; usertrapret() fills in the
// first five words for the next trap. trampoline.S (TF_ offsets, each_reg) follows it:
// the five kernel words at 0..32, then x1..x31 in register-number order, xN at 32 + 8*N.
struct trapframe {
  uint64 kernel_satp;          // kernel page table (satp value)
  uint64 kernel_sp;            // top of this process's kernel stack
  uint64 kernel_trap;          // address of usertrap()
  uint64 epc;                  // user pc: where the trap happened, where to return
  uint64 kernel_hartid;        // tp for the kernel: the hart we run on
  uint64 ra, sp, gp, tp;       // x1..x4
  uint64 t0, t1, t2;           // x5..x7
  uint64 s0, s1;               // x8..x9
  union {                      // x10..x17: system-call arguments, a7 the number
    struct { uint64 a0, a1, a2, a3, a4, a5, a6, a7; };
    uint64 a[8];
  };
  uint64 s2, s3, s4, s5, s6, s7, s8, s9, s10, s11;   // x18..x27
  uint64 t3, t4, t5, t6;       // x28..x31
};
_Static_assert(__builtin_offsetof(struct trapframe, epc) == 24, "trampoline.S: TF_EPC");
_Static_assert(__builtin_offsetof(struct trapframe, ra) == 32 + 8*1, "trampoline.S: TF_RA");
_Static_assert(__builtin_offsetof(struct trapframe, a0) == 32 + 8*10, "trampoline.S: TF_A0");
_Static_assert(__builtin_offsetof(struct trapframe, s2) == 32 + 8*18, "trampoline.S: each_reg");
_Static_assert(__builtin_offsetof(struct trapframe, t6) == 32 + 8*31, "trampoline.S: each_reg");

// A slot's life: UNUSED -> USED (allocproc) -> RUNNABLE <-> RUNNING <-> SLEEPING ...
// -> ZOMBIE (exit) -> UNUSED (the parent's wait, through freeproc).
enum procstate { UNUSED, USED, SLEEPING, RUNNABLE, RUNNING, ZOMBIE };

// A process-table slot. Three kinds of fields, by who may touch them:
struct proc {
  // The process's own: only the process itself reads or writes these while it is alive
  // (fork fills them in before the child can run, wait clears them after it is a ZOMBIE),
  // so they need no lock. kstack is fixed at boot.
  pagetable_t pagetable;       // user address space
  uint64 sz;                   // bytes of user memory, from address 0
  struct trapframe *trapframe; // kernel address of the TRAPFRAME page
  uint64 kstack;               // kernel virtual address of the kernel stack
  struct context context;      // where swtch() resumes this process
  struct file *ofile[NOFILE];  // open files, by descriptor
  struct inode *cwd;           // current directory
  char name[16];               // for procdump and kernel messages
#ifdef COW_FORK
  uint64 cownext;              // copy-ahead (cowaround.c): where a sequential fault would be
  int cowwindow;               // ... and how many pages the last one resolved
#endif

  // Read or written only with lock held: other harts look at them (scheduler, kill, wakeup, wait).
  struct spinlock lock;
  enum procstate state;
  int pid;
  void *chan;                  // what a SLEEPING process waits for
  int killed;                  // exit at the next return to user mode
  int xstate;                  // exit status, for the parent's wait
  uint cpu;                    // recent CPU use in ticks, halved every second (scheduler())

  // Read or written only with wait_lock (proc.c) held.
  struct proc *parent;
  int pgid;                    // process group: ^C ends a whole group (killgroup)
};

#endif
