// Mutual-exclusion spin lock.
#ifndef XV6_SPINLOCK_H
#define XV6_SPINLOCK_H

struct spinlock {
  uint locked;       // is the lock held?
  char *name;        // for debugging
  struct cpu *cpu;   // the cpu holding the lock
};

#endif
