// Long-term lock: the holder may sleep (e.g. waiting for the disk) while holding it.
#ifndef XV6_SLEEPLOCK_H
#define XV6_SLEEPLOCK_H

struct sleeplock {
  uint locked;        // is the lock held?
  struct spinlock lk; // protects this sleep lock
  char *name;         // for debugging
  int pid;            // process holding the lock
};

#endif
