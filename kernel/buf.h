// The buffer cache's record of one disk block (bio.c). Each field is guarded by one lock,
// and the fields are grouped by it.
#ifndef XV6_BUF_H
#define XV6_BUF_H

struct buf {
  // Which block this is and who holds it: bcache.lock. A buffer with refcnt 0 may be
  // given to another block; the log keeps refcnt above 0 until it has installed the block.
  uint dev;
  uint blockno;
  uint refcnt;          // bread()/bclaim() holders plus log pins
  struct buf *next;     // the cache's recycling order: next is used more recently ...
  struct buf *prev;     // ... prev less recently

  // The contents: lock, a sleeplock, since disk I/O sleeps while holding it.
  struct sleeplock lock;
  int valid;            // data holds the block as on disk, or as a holder has changed it
  uchar data[BSIZE];
};

#endif
