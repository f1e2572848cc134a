// Write-ahead redo log: makes each file-system operation (begin_op .. end_op) atomic across crashes,
// and replays a committed but uninstalled transaction at boot.
//
// On disk: [ header | block copies ... ] at sb.logstart, sb.nlog blocks. The header records how
// many copies are valid and where each belongs. Writing a header with n > 0 is the commit point;
// writing n == 0 after installation ends the transaction.
//
// In memory, a system call modifies cached buffers and calls log_write(), which only records the
// block number and pins the buffer. Operations running at the same time share one transaction.
// The whole decision of *when* to commit lives in end_op() and log_sync(); *how* is commit().
//
// Group commit (the fast path for small writes). end_op() does not commit just because the last
// running operation ended: the transaction stays open and later operations join it, so twenty
// 1 KiB write() calls cost one commit instead of twenty. Atomicity is unchanged: a commit only
// ever happens when no operation is between begin_op and end_op, so a transaction holds whole
// system calls, and a crash loses the most recent ones entirely or keeps them entirely. What is
// given up is only *when* a finished call becomes durable. The transaction is committed:
//  - when the log is nearly full: the next operation might not fit (end_op, so that begin_op
//    never waits for a commit nobody will start);
//  - when it is old: LOG_DELAY ticks after its first block, checked by end_op and on timer
//    interrupts from user mode (log_sync(0) from usertrap);
//  - when someone needs durability: log_sync(1), called when the last reference to a file
//    opened for writing is closed (so a program's files are on disk once it has closed them or
//    exited), and before a read from the console (the system may sit idle waiting for a person;
//    nothing must stay uncommitted then). A future shutdown or sync call must call log_sync(1).
// Nothing else needs a synchronous commit. In particular a block freed and reallocated in the
// same transaction is safe, because both changes commit together (but see new blocks below).
//
// New blocks (the second fast path). A block that is free in the committed on-disk state is
// invisible after a crash, whatever it contains. So a block that balloc() hands out (log_write_new)
// is written straight to its home location before the commit point instead of to the log and
// then home: a crash before the commit leaves garbage in a free block, one after it leaves the
// right data. This halves the disk writes of appends. It is only sound if the block really is
// free on disk, so a block freed earlier in the same (uncommitted) transaction is logged
// normally: freed[] remembers those.
//
// Batched writes (the third fast path). A commit used to write its blocks one request at a
// time, and each request's fixed cost in the emulator (notify, exit, interrupt, a sleeping
// hart) dominated. Now each step hands all its blocks to the disk at once (bwrite_batch) and
// waits until every one of them is done; the device may finish the blocks of a step in any
// order, so each ordering rule below is kept by putting the two sides in different steps:
//  1. write_log: the log copies and the new blocks' home writes, one batch;
//  2. write_head with n > 0, the commit point, only once all of step 1 is on disk: a header
//     that reaches the disk names only filled log slots, and every new block the committed
//     state reaches is already at home;
//  3. install_trans: the logged blocks to their homes, one batch, only once the header is on
//     disk: a crash during it is repaired by replaying the log at boot;
//  4. write_head with n == 0, only once all of step 3 is on disk: before that, clearing the
//     header would leave a half-installed transaction that nothing replays.
// A step counts as on disk when the device has completed every request of it: the driver
// does not accept VIRTIO_BLK_F_FLUSH, and a device whose driver cannot flush must keep no
// volatile write cache (QEMU then writes through to the image).
// The log copies go from the home block's own (pinned, locked) buffer straight to the log
// slot, so a commit needs no second buffer per block. That leaves any cached copy of a log
// slot stale, which is harmless: only recovery reads the slots, at boot, before any commit.

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
#include "kernel/param.h"
#include "kernel/spinlock.h"
#include "kernel/sleeplock.h"
#include "kernel/fs.h"
#include "kernel/buf.h"

// A transaction older than this many clock ticks (1/10 s each) is committed at the next
// chance (see "Group commit" above).
#define LOG_DELAY 3

// The header block, both on disk and in memory.
struct logheader {
  int n;                   // number of valid entries in block[]
  int block[LOGBLOCKS];    // home block number of each logged block
};

static struct {
  struct spinlock lock;
  int start;        // first log block (the header)
  int capacity;     // blocks a transaction may hold: min(LOGBLOCKS, nlog - 1)
  int outstanding;  // operations between begin_op and end_op
  int committing;   // a commit is in progress; new operations must wait
  int syncwanted;   // log_sync(1) came while operations ran: the last end_op commits
  uint opened;      // ticks when the open transaction got its first block
  int dev;
  // The open transaction: every block it changed, in memory. A commit writes the ones not
  // marked isnew to the log and records them in the on-disk header (ondisk).
  struct logheader lh;
  char isnew[LOGBLOCKS];         // lh.block[i] goes straight home (see "New blocks")
  uchar freed[FSSIZE / 8 + 1];   // bitmap: blocks freed in the open transaction
  struct logheader ondisk;       // the header as committed (or found at boot)
  // The committer's scratch for one batch (see "Batched writes"); only the one process that
  // set committing uses them.
  struct buf *bufs[LOGBLOCKS];   // lh.block[i]'s buffer, locked during a step
  struct buf *batch[LOGBLOCKS];  // the buffers to write in the step ...
  uint batchto[LOGBLOCKS];       // ... and the block each one goes to
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

static void
read_head(void)
{
  struct buf *buf = bread(log.dev, log.start);
  struct logheader *hb = (struct logheader *)buf->data;
  log.ondisk.n = hb->n;
  // A damaged header must not make us write outside the log or the disk.
  if(log.ondisk.n < 0 || log.ondisk.n > log.capacity)
    panic("log: corrupt log header; rebuild fs.img with mkfs");
  for(int i = 0; i < log.ondisk.n; i++)
    log.ondisk.block[i] = hb->block[i];
  brelse(buf);
}

// Write log.ondisk to the header block. With n > 0 this is the moment the transaction
// commits. The whole block is rewritten, so its old contents need not be read (bclaim).
static void
write_head(void)
{
  struct buf *buf = bclaim(log.dev, log.start);
  struct logheader *hb = (struct logheader *)buf->data;
  memset(buf->data, 0, BSIZE);
  hb->n = log.ondisk.n;
  for(int i = 0; i < log.ondisk.n; i++)
    hb->block[i] = log.ondisk.block[i];
  bwrite(buf);
  brelse(buf);
}

// At boot: copy every block of a committed transaction from the log to its home, then
// clear the header. Nothing else runs yet, so nothing is pinned.
static void
recover_from_log(void)
{
  read_head();
  for(int i = 0; i < log.ondisk.n; i++){
    struct buf *lbuf = bread(log.dev, log.start + 1 + i);
    struct buf *dbuf = bclaim(log.dev, log.ondisk.block[i]);
    memmove(dbuf->data, lbuf->data, BSIZE);
    bwrite(dbuf);
    brelse(lbuf);
    brelse(dbuf);
  }
  log.ondisk.n = 0;
  write_head();
}

static int
aged(void)
{
  return __atomic_load_n(&ticks, __ATOMIC_RELAXED) - log.opened >= LOG_DELAY;
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

// Commit the open transaction (the caller set log.committing, so no operation runs and
// none can start), then let waiting operations in.
static void
commit_and_wake(void)
{
  // commit() sleeps on disk I/O, so it must run without the spinlock.
  commit();
  acquire(&log.lock);
  log.committing = 0;
  log.syncwanted = 0;
  wakeup(&log);
  release(&log.lock);
}

// Finish a file-system operation. When it was the last one running, the transaction is
// committed if it must be (full, old, or durability asked for); otherwise it stays open for
// the next operations (group commit, see the top of this file). Invariant kept here: with no
// operation running and no commit, one more operation of MAXOPBLOCKS always fits, so
// begin_op() never waits for a commit that nobody would start.
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
#ifdef LOG_SYNC_COMMIT
  // Commit as soon as no operation runs: a staff build, to measure group commit against.
  // Everything else (new blocks going home directly, bclaim) is as in the default build.
  int must = 1;
#else
  int must = log.syncwanted || log.lh.n + MAXOPBLOCKS > log.capacity || aged();
#endif
  if(log.outstanding == 0 && log.lh.n > 0 && must){
    do_commit = 1;
    log.committing = 1;
  } else {
    // This operation's reservation is returned; a waiting begin_op may now fit.
    wakeup(&log);
  }
  release(&log.lock);

  if(do_commit)
    commit_and_wake();
}

// Ask for the open transaction to be committed: always if force, else only if it is older
// than LOG_DELAY. Without operations running it commits now, in the caller (which must hold
// no locks and may sleep); otherwise the last running operation's end_op() commits. Called
// outside any operation of the caller's own.
void
log_sync(int force)
{
  acquire(&log.lock);
  if(log.lh.n == 0 || log.committing || (!force && !aged())){
    release(&log.lock);            // nothing to do, or a commit already covers it
    return;
  }
  if(log.outstanding > 0){
    log.syncwanted = 1;
    release(&log.lock);
    return;
  }
  log.committing = 1;
  release(&log.lock);
  commit_and_wake();
}

// Step 1 of a commit (see "Batched writes"): the transaction's blocks before the commit point,
// in one batch: new blocks straight to their home locations, the others to consecutive log
// slots, recorded in log.ondisk in that order. The cached copies are pinned, so bread()
// finds them without a disk read.
static void
write_log(void)
{
  int n = log.lh.n;
  log.ondisk.n = 0;
  for(int i = 0; i < n; i++){
    log.batch[i] = bread(log.dev, log.lh.block[i]);
    if(log.isnew[i]){
      log.batchto[i] = log.lh.block[i];
    } else {
      log.batchto[i] = log.start + 1 + log.ondisk.n;
      log.ondisk.block[log.ondisk.n++] = log.lh.block[i];
    }
  }
  bwrite_batch(log.batch, log.batchto, n);
  for(int i = 0; i < n; i++)
    brelse(log.batch[i]);
}

// Step 3: copy the committed blocks home from the cache (which holds exactly what was
// logged: no operation ran since), in one batch; then unpin every block of the transaction.
static void
install_trans(void)
{
  int n = 0;
  for(int i = 0; i < log.lh.n; i++){
    log.bufs[i] = bread(log.dev, log.lh.block[i]);
    if(!log.isnew[i]){
      log.batch[n] = log.bufs[i];
      log.batchto[n] = log.lh.block[i];
      n++;
    }
  }
  bwrite_batch(log.batch, log.batchto, n);
  for(int i = 0; i < log.lh.n; i++){
    bunpin(log.bufs[i]);
    brelse(log.bufs[i]);
  }
}

// Make the open transaction durable, then install it.
// Order matters for crash safety: new blocks and log contents, then the header (the commit
// point), then home locations, then clear the header; each step waits for the whole of the
// one before it (see "Batched writes").
static void
commit(void)
{
  if(log.lh.n == 0)
    return;
  write_log();
  if(log.ondisk.n > 0)
    write_head();
  install_trans();
  if(log.ondisk.n > 0){
    log.ondisk.n = 0;
    write_head();
  }
  log.lh.n = 0;
  memset(log.freed, 0, sizeof(log.freed));
}

static int
was_freed(uint blockno)
{
  return blockno >= FSSIZE || (log.freed[blockno / 8] & (1 << (blockno % 8)));
}

// Record that b (modified, locked by the caller) belongs to the open transaction; isnew says
// the caller just allocated it. Replaces bwrite() inside an operation: the block is written
// at commit. Writing the same block twice in a transaction uses one slot (absorption).
static void
add_block(struct buf *b, int isnew)
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
    if(log.lh.n == 0)
      log.opened = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
    log.lh.block[i] = b->blockno;
    // Only a block that is free in the committed on-disk state may skip the log.
    log.isnew[i] = isnew && !was_freed(b->blockno);
    log.lh.n++;
    bpin(b);   // must stay cached until install_trans()
  }
  release(&log.lock);
}

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

// bfree() of blockno in the open transaction: until it commits, the disk still has the block
// in use, so reallocating it must go through the log.
void
log_freed(uint blockno)
{
  acquire(&log.lock);
  if(blockno < FSSIZE)
    log.freed[blockno / 8] |= 1 << (blockno % 8);
  release(&log.lock);
}
