// Write-ahead redo log: makes each file-system operation (begin_op .. end_op) atomic across
// crashes, decides when changes reach the disk, and replays a committed transaction at boot.
//
// Promises after a crash: an operation is all-or-nothing, and a kept operation keeps every one
// that ended before it began (a write() is one operation per WRITE_CHUNK, file.c). A finished
// system call is on disk within LOG_DELAY of its transaction's first change (plus the time to
// finish the operations running then and to commit). When sync(), or close() of the last
// reference to a file opened for writing, returns, all that ended before it is on disk.
//
// On disk, at sb.logstart: a header block, then block copies. The header says how many copies
// are valid and where each belongs; writing it with n > 0 commits, with n == 0 ends the
// transaction once the copies are installed.
//
// Group commit: concurrent operations share the open transaction, and it stays open after the
// last one ends, so many small writes cost one commit. It is committed, with no operation
// running, when the next operation might not fit, when it is LOG_DELAY old (end_op, or the
// committer thread for an idle system), or when log_sync() asks. log.seq numbers the open
// transaction; all below it are on disk. A sync sets log.barrier, which keeps newcomers out of
// log.seq, so the running operations drain and the last end_op commits.
//
// New blocks: a block free in the committed state is invisible after a crash, so one balloc()
// hands out (log_write_new) goes straight home before the commit point, skipping the log (half
// the writes of an append), unless it was freed in the open transaction (log.freed).
//
// Batches: each step of a commit is one bwrite_batch(), done when all of it is on disk, in any
// order, so each ordering rule puts its two sides in different steps: 1. copies to the log and
// new blocks home; 2. the header, n > 0 (it names only filled slots); 3. copies home (a crash
// now is repaired at boot); 4. the header, n == 0. The driver declines VIRTIO_BLK_F_FLUSH, so
// a completed write is on the image. Copies go from the home block's pinned buffer straight to
// the slot, leaving any cached copy of a slot stale: harmless, as only recovery reads slots.
//
// log.lock guards log's fields (the commit's scratch is the committer's alone). It is never
// held across disk I/O, nor together with tickslock.

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
#include "kernel/param.h"
#include "kernel/spinlock.h"
#include "kernel/sleeplock.h"
#include "kernel/fs.h"
#include "kernel/buf.h"

// Ticks (0.3 s) after which the open transaction is committed at the next chance (Group commit).
#define LOG_DELAY (3 * TICKHZ / 10)

// The header block, on disk and in memory.
struct logheader {
  int n;                   // valid entries in block[]
  int block[LOGBLOCKS];    // home block number of each copy
};

static struct {
  struct spinlock lock;
  int dev;
  int start;        // the header's block number; the slots follow it
  int capacity;     // blocks a transaction may hold: min(LOGBLOCKS, nlog - 1)
  int outstanding;  // operations between begin_op and end_op
  int committing;   // a commit is under way: no operation may start
  int barrier;      // a sync waits for transaction seq: no operation may join it
  uint seq;         // the open (or committing) transaction; every lower one is on disk
  uint opened;      // ticks when the open transaction got its first block
  struct logheader lh;           // the open transaction: every block it changed
  char isnew[LOGBLOCKS];         // lh.block[i] goes straight home (see "New blocks")
  uchar freed[FSSIZE / 8 + 1];   // bitmap of the blocks freed in the open transaction
  struct logheader ondisk;       // the header as written at the commit point
  struct buf *bufs[LOGBLOCKS];   // commit scratch: lh.block[i]'s buffer, locked ...
  struct buf *batch[LOGBLOCKS];  // ... the buffers of one step ...
  uint batchto[LOGBLOCKS];       // ... and the block each one goes to
} log;

// Write log.ondisk to the header block, whole, so its old contents need not be read.
static void
write_head(void)
{
  struct buf *b = bclaim(log.dev, log.start);
  memset(b->data, 0, BSIZE);
  *(struct logheader *)b->data = log.ondisk;
  bwrite(b);
  brelse(b);
}

// At boot, before anything is cached: install the transaction the header names, if any.
static void
recover_from_log(void)
{
  struct buf *b = bread(log.dev, log.start);
  memmove(&log.ondisk, b->data, sizeof(log.ondisk));
  brelse(b);
  // A damaged header must not make us write outside the log or the disk.
  if(log.ondisk.n < 0 || log.ondisk.n > log.capacity)
    panic("log: corrupt log header; rebuild fs.img with mkfs");
  for(int i = 0; i < log.ondisk.n; i++){
    struct buf *from = bread(log.dev, log.start + 1 + i);
    struct buf *to = bclaim(log.dev, log.ondisk.block[i]);
    memmove(to->data, from->data, BSIZE);
    bwrite(to);
    brelse(from);
    brelse(to);
  }
  log.ondisk.n = 0;
  write_head();
}

// Is the open transaction LOG_DELAY old? Caller holds log.lock.
static int
aged(void)
{
  return __atomic_load_n(&ticks, __ATOMIC_RELAXED) - log.opened >= LOG_DELAY;
}

// Start a file-system operation. Waits while a commit runs, while a sync waits for the open
// transaction, or while the log might lack room for this operation on top of those already
// admitted (each may write MAXOPBLOCKS).
void
begin_op(void)
{
  acquire(&log.lock);
  while(log.committing || log.barrier ||
        log.lh.n + (log.outstanding + 1) * MAXOPBLOCKS > log.capacity)
    sleep(&log, &log.lock);
  log.outstanding += 1;
  release(&log.lock);
}

// One step of a commit as one batch (see "Batches"). Step 1 (tolog): logged blocks to
// consecutive slots, recorded in log.ondisk, and new blocks home. Step 3: logged blocks home.
static void
write_step(int tolog)
{
  int n = 0;
  for(int i = 0; i < log.lh.n; i++){
    uint to = log.lh.block[i];
    if(tolog && !log.isnew[i]){
      log.ondisk.block[log.ondisk.n] = to;
      to = log.start + 1 + log.ondisk.n++;
    } else if(!tolog && log.isnew[i]){
      continue;                    // home since step 1
    }
    log.batch[n] = log.bufs[i];
    log.batchto[n++] = to;
  }
  bwrite_batch(log.batch, log.batchto, n);
}

// Commit the open transaction; the caller set log.committing, so no operation runs or can
// start. The blocks stay locked for the whole commit, so the cache holds exactly what is
// logged; they are pinned, so bread() finds them without a disk read. Then open the next
// transaction and let waiting operations and syncs go on.
static void
commit(void)
{
  int n = log.lh.n;
  for(int i = 0; i < n; i++)
    log.bufs[i] = bread(log.dev, log.lh.block[i]);
  log.ondisk.n = 0;
  write_step(1);
  if(log.ondisk.n > 0)
    write_head();
  write_step(0);
  if(log.ondisk.n > 0){
    log.ondisk.n = 0;
    write_head();
  }
  for(int i = 0; i < n; i++){
    bunpin(log.bufs[i]);
    brelse(log.bufs[i]);
  }

  acquire(&log.lock);
  log.lh.n = 0;
  memset(log.freed, 0, sizeof(log.freed));
  log.committing = 0;
  log.barrier = 0;
  log.seq += 1;
  wakeup(&log);
  release(&log.lock);
}

// Finish a file-system operation; the last one running commits if the transaction is due
// (see "Group commit"). So with no operation running and no commit, one more operation
// always fits, and begin_op() never waits for a commit nobody will start.
void
end_op(void)
{
  acquire(&log.lock);
  if(log.outstanding < 1 || log.committing)
    panic("end_op: no operation in progress, or a commit is");
  log.outstanding -= 1;
#ifdef LOG_SYNC_COMMIT
  int must = 1;    // a staff build: every operation commits alone, to measure group commit
#else
  int must = log.barrier || log.lh.n + MAXOPBLOCKS > log.capacity || aged();
#endif
  int go = log.outstanding == 0 && log.lh.n > 0 && must;
  if(go)
    log.committing = 1;
  else
    wakeup(&log);            // this operation's reservation is free: a begin_op may fit
  release(&log.lock);
  if(go)
    commit();
}

// Return once every operation that ended before this call is on disk, that is, once
// transaction log.seq (at the call) is. With force 0 (the committer thread) only a transaction
// older than LOG_DELAY, or one being committed, is waited for. The caller holds no locks,
// is not inside an operation (it would wait for itself), and may sleep.
void
log_sync(int force)
{
  acquire(&log.lock);
  if(log.lh.n == 0 || (!force && !log.committing && !aged())){
    release(&log.lock);
    return;
  }
  uint target = log.seq;
  log.barrier = 1;
  int go = log.outstanding == 0 && !log.committing;
  if(go)
    log.committing = 1;
  // Otherwise the last running operation's end_op, or the commit under way, ends target.
  while(!go && log.seq == target)
    sleep(&log, &log.lock);
  release(&log.lock);
  if(go)
    commit();
}

// The committer thread: commits each transaction LOG_DELAY after its first block, so that a
// finished operation reaches the disk even when no process calls into the file system again
// (every process asleep, the shell waiting for input). add_block() wakes it on &log.opened.
static void
committer(void)
{
  for(;;){
    acquire(&log.lock);
    while(log.lh.n == 0)
      sleep(&log.opened, &log.lock);
    uint due = log.opened + LOG_DELAY;
    release(&log.lock);
    acquire(&tickslock);
    while((int)(due - ticks) > 0)
      sleep(&ticks, &tickslock);
    release(&tickslock);
    log_sync(0);      // unless end_op committed already; a newer transaction is not due
  }
}

// At boot, from fsinit() in the first process (recovery sleeps on disk I/O).
void
initlog(int dev, struct superblock *sb)
{
  if(sizeof(struct logheader) > BSIZE)
    panic("initlog: log header does not fit in a block");
  if(sb->nlog < 1 + MAXOPBLOCKS)
    panic("initlog: on-disk log too small for one operation; rebuild fs.img with mkfs");
  initlock(&log.lock, "log");
  log.dev = dev;
  log.start = sb->logstart;
  log.capacity = MIN(sb->nlog - 1, LOGBLOCKS);
  log.seq = 1;
  recover_from_log();
  if(kthread_start("logcommit", committer) < 0)
    panic("initlog: cannot start the log committer thread (out of memory or processes)");
}

// Record that b (changed, locked by the caller) belongs to the open transaction, pinned in the
// cache until the commit; isnew says balloc() just allocated it. A block changed twice in a
// transaction takes one slot.
static void
add_block(struct buf *b, int isnew)
{
  acquire(&log.lock);
  if(log.outstanding < 1)
    panic("log_write: outside of a transaction");
  int i = 0;
  while(i < log.lh.n && log.lh.block[i] != b->blockno)
    i++;
  if(i == log.lh.n){
    if(i >= log.capacity)
      panic("log_write: transaction too big");
    if(i == 0){
      log.opened = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
      wakeup(&log.opened);   // the committer thread
    }
    uint bn = b->blockno;
    log.lh.block[i] = bn;
    // Only a block free in the committed on-disk state may skip the log.
    log.isnew[i] = isnew && bn < FSSIZE && !(log.freed[bn / 8] & (1 << (bn % 8)));
    log.lh.n++;
    bpin(b);
  }
  release(&log.lock);
}

// Use instead of bwrite() inside an operation: the block is written at the commit.
void
log_write(struct buf *b)
{
  add_block(b, 0);
}

// log_write() for a block balloc() has just taken from the free bitmap.
void
log_write_new(struct buf *b)
{
  add_block(b, 1);
}

// bfree() freed blockno in the open transaction: until it commits, the disk still has the
// block in use, so reallocating it must go through the log.
void
log_freed(uint blockno)
{
  acquire(&log.lock);
  if(blockno < FSSIZE)
    log.freed[blockno / 8] |= 1 << (blockno % 8);
  release(&log.lock);
}
