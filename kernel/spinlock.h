// A lock that its waiters spin on, with interrupts off (spinlock.c).
#ifndef XV6_SPINLOCK_H
#define XV6_SPINLOCK_H

struct spinlock {
  uint locked;       // 1 while held; changed only by atomic instructions
  char *name;        // for panics and debugging
  struct cpu *cpu;   // the holding hart's struct cpu, 0 when free
};

#endif
