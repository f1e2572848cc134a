// What the memstat() system call reports: physical pages and copy-on-write activity since boot.
#ifndef XV6_MEMSTAT_H
#define XV6_MEMSTAT_H

struct memstat {
  uint64 totalpages;   // pages the allocator manages
  uint64 freepages;    // pages on the free list now
  uint64 sharedpages;  // pages whose reference count is above 1 now
  uint64 cowfaults;    // COW write faults resolved (trap or kernel copyout)
  uint64 cowcopies;    // COW pages made private by copying them (count was above 1)
  uint64 cowreuses;    // COW pages made writable in place (count was 1, no copy)
  uint64 cowshared;    // page mappings shared by fork since boot
  uint64 diskreads;    // disk blocks read by the buffer cache since boot (bio.c)
  uint64 diskwrites;   // disk blocks written since boot (bio.c)
};

#endif
