// Buffer cache: NBUF in-memory copies of disk blocks, shared by all processes, recycled least
// recently used first. A block has at most one buffer, whose sleeplock serializes its users
// (buf.h says which lock guards what). Every disk request of the file system passes here
// and is counted for memstat(). Fast paths: bclaim() skips the read of a block about to be
// overwritten whole; bwrite_batch() makes one trip to the disk for many writes.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/spinlock.h"
#include "kernel/sleeplock.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
#include "kernel/fs.h"
#include "kernel/buf.h"
#include "kernel/memstat.h"

static struct {
  struct spinlock lock;
  struct buf buf[NBUF];

  struct buf head;   // list sentinel: head.next was released most recently, head.prev least
} bcache;

// Disk requests since boot, for memstat(); atomic adds, as many harts do I/O at once.
static struct {
  uint64 reads;
  uint64 writes;
} diskstat;

static void
list_remove(struct buf *b)
{
  b->next->prev = b->prev;
  b->prev->next = b->next;
}

static void
list_push_front(struct buf *b)
{
  b->next = bcache.head.next;
  b->prev = &bcache.head;
  bcache.head.next->prev = b;
  bcache.head.next = b;
}

void
binit(void)
{
  initlock(&bcache.lock, "bcache");
  bcache.head.prev = &bcache.head;
  bcache.head.next = &bcache.head;
  for(struct buf *b = bcache.buf; b < bcache.buf + NBUF; b++){
    initsleeplock(&b->lock, "buffer");
    list_push_front(b);
  }
}

// Find the cached buffer for (dev, blockno) or claim the least recently used idle one.
// Returns it locked. If every buffer is in use, waits for a brelse rather than failing:
// a shortage is transient because holders release buffers without waiting for other buffers.
static struct buf*
bget(uint dev, uint blockno)
{
  struct buf *b;

  acquire(&bcache.lock);
  for(;;){
    for(b = bcache.head.next; b != &bcache.head; b = b->next){
      if(b->dev == dev && b->blockno == blockno && (b->valid || b->refcnt > 0)){
        b->refcnt++;
        release(&bcache.lock);
        acquiresleep(&b->lock);
        return b;
      }
    }
    for(b = bcache.head.prev; b != &bcache.head; b = b->prev){
      if(b->refcnt == 0){
        b->dev = dev;
        b->blockno = blockno;
        b->valid = 0;      // stale contents; bread() will fetch the block
        b->refcnt = 1;
        release(&bcache.lock);
        acquiresleep(&b->lock);
        return b;
      }
    }
    sleep(&bcache, &bcache.lock);
  }
}

// Return a locked buffer holding the contents of the block.
struct buf*
bread(uint dev, uint blockno)
{
  struct buf *b = bget(dev, blockno);
  if(!b->valid){
    __atomic_fetch_add(&diskstat.reads, 1, __ATOMIC_RELAXED);
    virtio_disk_rw(b, 0);
    b->valid = 1;
  }
  return b;
}

// bread() for a caller that overwrites all BSIZE bytes before it unlocks the buffer: a block
// not cached is not read. The data is undefined until the caller fills it.
struct buf*
bclaim(uint dev, uint blockno)
{
  struct buf *b = bget(dev, blockno);
  b->valid = 1;
  return b;
}

// Write b's contents to disk now. The caller holds b->lock.
void
bwrite(struct buf *b)
{
  if(!holdingsleep(&b->lock))
    panic("bwrite: buffer not locked");
  __atomic_fetch_add(&diskstat.writes, 1, __ATOMIC_RELAXED);
  virtio_disk_rw(b, 1);
}

// Write bs[i]->data to block blocknos[i], for i < n, all in flight at once; returns when all are
// on disk, in no order among them. The caller holds every bs[i]->lock. A block number may
// differ from the buffer's own (the log writes a block's copy to its slot, see log.c).
void
bwrite_batch(struct buf **bs, uint *blocknos, int n)
{
  for(int i = 0; i < n; i++)
    if(!holdingsleep(&bs[i]->lock))
      panic("bwrite_batch: buffer not locked");
  __atomic_fetch_add(&diskstat.writes, n, __ATOMIC_RELAXED);
  virtio_disk_write_batch(bs, blocknos, n);
}

// Unlock a buffer obtained from bread() and give up this reference to it.
void
brelse(struct buf *b)
{
  if(!holdingsleep(&b->lock))
    panic("brelse: buffer not locked");
  releasesleep(&b->lock);

  acquire(&bcache.lock);
  if(b->refcnt == 0)
    panic("brelse: refcnt");
  b->refcnt--;
  if(b->refcnt == 0){
    list_remove(b);
    list_push_front(b);
    wakeup(&bcache);
  }
  release(&bcache.lock);
}

// Keep b in the cache (an extra reference) until bunpin(); used by the log.
void
bpin(struct buf *b)
{
  acquire(&bcache.lock);
  b->refcnt++;
  release(&bcache.lock);
}

void
bunpin(struct buf *b)
{
  acquire(&bcache.lock);
  if(b->refcnt == 0)
    panic("bunpin: refcnt");
  b->refcnt--;
  if(b->refcnt == 0)
    wakeup(&bcache);
  release(&bcache.lock);
}

void
bio_stats(struct memstat *st)
{
  st->diskreads = __atomic_load_n(&diskstat.reads, __ATOMIC_RELAXED);
  st->diskwrites = __atomic_load_n(&diskstat.writes, __ATOMIC_RELAXED);
}
