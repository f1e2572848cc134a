// What the memstat() system call reports: physical pages and copy-on-write activity since boot.
#ifndef XV6_MEMSTAT_H
#define XV6_MEMSTAT_H

struct memstat {
  uint64 totalpages;   // pages the allocator manages
  uint64 freepages;    // pages on the free list now
  uint64 sharedpages;  // pages whose reference count is above 1 now
  uint64 cowfaults;    // COW write faults resolved (trap or kernel copyout)
  uint64 cowcopies;    // ... that had to copy the page
  uint64 cowreuses;    // ... that found count 1 and only restored write access
  uint64 cowshared;    // page mappings shared by fork since boot
  uint64 diskreads;    // disk blocks read by the buffer cache since boot (bio.c)
  uint64 diskwrites;   // disk blocks written since boot (bio.c)
};

#endif
