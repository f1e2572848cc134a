// A cached copy of one disk block.
#ifndef XV6_BUF_H
#define XV6_BUF_H

struct buf {
  int valid;            // data has been read from disk
  int disk;             // requests the disk driver still holds for this buffer (0: none)
  uint dev;
  uint blockno;
  struct sleeplock lock;
  uint refcnt;
  struct buf *prev;     // LRU cache list
  struct buf *next;
  uchar data[BSIZE];
};

#endif
