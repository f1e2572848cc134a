// A long-term lock: the holder may sleep while holding it, and so do its waiters (sleeplock.c).
#ifndef XV6_SLEEPLOCK_H
#define XV6_SLEEPLOCK_H

struct sleeplock {
  struct spinlock lk; // guards the fields below
  uint locked;        // 1 while held
  int waiters;        // processes asleep in acquiresleep() on this lock
  int pid;            // holder, for holdingsleep() and debugging
  char *name;         // for debugging
};

#endif
