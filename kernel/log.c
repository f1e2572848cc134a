// Write-ahead redo log: makes each file-system operation (begin_op .. end_op) atomic across crashes,
// and replays a committed but uninstalled transaction at boot.
//
// On disk: [ header | block copies ... ] at sb.logstart, sb.nlog blocks. The header records how
// many copies are valid and where each belongs. Writing a header with n > 0 is the commit point;
// writing n == 0 after installation ends the transaction.
//
// In memory, a system call modifies cached buffers and calls log_write(), which only records the
// block number and pins the buffer. Operations running at the same time share one transaction
// (group commit); it is committed when the last of them calls end_op(). The whole decision of
// *when* to commit lives in end_op(); *how* is commit().

#include "types.h"
#include "riscv.h"
#include "defs.h"
#include "param.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "buf.h"

// The header block, both on disk and in memory.
struct logheader {
  int n;                   // number of valid entries in block[]
  int block[LOGBLOCKS];    // home block number of each logged block
};

static struct {
  struct spinlock lock;
  int start;        // first log block (the header)
  int capacity;     // data blocks the log can hold: min(LOGBLOCKS, nlog - 1)
  int outstanding;  // operations between begin_op and end_op
  int committing;   // a commit is in progress; new operations must wait
  int dev;
  struct logheader lh;   // the transaction being built (or committed)
} log;

static void recover_from_log(void);
static void commit(void);

void
initlog(int dev, struct superblock *sb)
{
  if(sizeof(struct logheader) > BSIZE)
    panic("initlog: log header does not fit in a block");
  if(sb->nlog < 1 + MAXOPBLOCKS)
    panic("initlog: on-disk log too small for one operation; rebuild fs.img with mkfs");

  initlock(&log.lock, "log");
  log.start = sb->logstart;
  log.capacity = sb->nlog - 1;
  if(log.capacity > LOGBLOCKS)
    log.capacity = LOGBLOCKS;
  log.dev = dev;
  recover_from_log();
}

// Copy every logged block from the log area to its home location.
// At boot (recovering) the cached copies are not pinned, so there is nothing to unpin.
static void
install_trans(int recovering)
{
  for(int i = 0; i < log.lh.n; i++){
    struct buf *lbuf = bread(log.dev, log.start + 1 + i);
    struct buf *dbuf = bread(log.dev, log.lh.block[i]);
    memmove(dbuf->data, lbuf->data, BSIZE);
    bwrite(dbuf);
    if(!recovering)
      bunpin(dbuf);
    brelse(lbuf);
    brelse(dbuf);
  }
}

static void
read_head(void)
{
  struct buf *buf = bread(log.dev, log.start);
  struct logheader *hb = (struct logheader *)buf->data;
  log.lh.n = hb->n;
  // A damaged header must not make us write outside the log or the disk.
  if(log.lh.n < 0 || log.lh.n > log.capacity)
    panic("log: corrupt log header; rebuild fs.img with mkfs");
  for(int i = 0; i < log.lh.n; i++)
    log.lh.block[i] = hb->block[i];
  brelse(buf);
}

// Write the in-memory header to disk. With n > 0 this is the moment the transaction commits.
static void
write_head(void)
{
  struct buf *buf = bread(log.dev, log.start);
  struct logheader *hb = (struct logheader *)buf->data;
  hb->n = log.lh.n;
  for(int i = 0; i < log.lh.n; i++)
    hb->block[i] = log.lh.block[i];
  bwrite(buf);
  brelse(buf);
}

static void
recover_from_log(void)
{
  read_head();
  install_trans(1);
  log.lh.n = 0;
  write_head();
}

// Start a file-system operation. Waits while a commit runs, or while the log might not have
// room for this operation on top of those already admitted (each may write MAXOPBLOCKS).
void
begin_op(void)
{
  acquire(&log.lock);
  for(;;){
    if(log.committing){
      sleep(&log, &log.lock);
    } else if(log.lh.n + (log.outstanding + 1) * MAXOPBLOCKS > log.capacity){
      sleep(&log, &log.lock);
    } else {
      log.outstanding += 1;
      release(&log.lock);
      return;
    }
  }
}

// Finish a file-system operation. The last operation of a group commits the group.
// No operation is admitted during the commit (committing == 1), so commit() may
// use log.lh without the lock.
void
end_op(void)
{
  int do_commit = 0;

  acquire(&log.lock);
  if(log.outstanding < 1)
    panic("end_op: no operation in progress");
  if(log.committing)
    panic("end_op: commit in progress");
  log.outstanding -= 1;
  if(log.outstanding == 0){
    do_commit = 1;
    log.committing = 1;
  } else {
    // This operation's reservation is returned; a waiting begin_op may now fit.
    wakeup(&log);
  }
  release(&log.lock);

  if(do_commit){
    // commit() sleeps on disk I/O, so it must run without the spinlock.
    commit();
    acquire(&log.lock);
    log.committing = 0;
    wakeup(&log);
    release(&log.lock);
  }
}

// Copy the modified blocks from the cache into the log area.
static void
write_log(void)
{
  for(int i = 0; i < log.lh.n; i++){
    struct buf *to = bread(log.dev, log.start + 1 + i);
    struct buf *from = bread(log.dev, log.lh.block[i]);
    memmove(to->data, from->data, BSIZE);
    bwrite(to);
    brelse(from);
    brelse(to);
  }
}

// Make the current transaction durable, then install it.
// Order matters for crash safety: log contents, then header (commit point),
// then home locations, then clear the header.
static void
commit(void)
{
  if(log.lh.n == 0)
    return;
  write_log();
  write_head();
  install_trans(0);
  log.lh.n = 0;
  write_head();
}

// Record that b (modified, locked by the caller) belongs to the current transaction.
// Replaces bwrite() inside an operation: the block is written at commit.
// Writing the same block twice in a transaction uses one log slot (absorption).
void
log_write(struct buf *b)
{
  acquire(&log.lock);
  if(log.outstanding < 1)
    panic("log_write: outside of a transaction");

  int i;
  for(i = 0; i < log.lh.n; i++){
    if(log.lh.block[i] == b->blockno)
      break;
  }
  if(i == log.lh.n){
    if(log.lh.n >= log.capacity)
      panic("log_write: transaction too big");
    log.lh.block[i] = b->blockno;
    log.lh.n++;
    bpin(b);   // must stay cached until install_trans() copies it home
  }
  release(&log.lock);
}
