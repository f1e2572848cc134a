// Write-ahead redo log: makes each file-system operation (begin_op .. end_op) atomic across crashes,
// decides when the operations' changes reach the disk, and replays a committed but uninstalled
// transaction at boot.
//
// What a program can rely on after a crash (the promises this file keeps):
//  - every operation is all-or-nothing: a crash keeps all of its changes or none of them;
//  - if a crash keeps an operation, it keeps every operation that ended before that one began;
//  - a write() of more than one chunk (WRITE_CHUNK in file.c, 5 KiB) is one operation per
//    chunk: a crash can keep a prefix of its chunks, each chunk whole, never a later chunk
//    without the earlier ones;
//  - a finished system call is on disk within LOG_DELAY (0.3 s) of the first change of its
//    transaction, plus the time to finish the operations running then and to write the commit,
//    whatever the processes do afterwards (the committer thread below);
//  - when close() of the last reference to a file opened for writing returns (exit closes
//    every file), or when sync() returns, every operation that ended before the call is on
//    disk (log_sync).
//
// On disk: [ header | block copies ... ] at sb.logstart, sb.nlog blocks. The header records how
// many copies are valid and where each belongs. Writing a header with n > 0 is the commit point;
// writing n == 0 after installation ends the transaction.
//
// In memory, a system call modifies cached buffers and calls log_write(), which only records the
// block number and pins the buffer. Operations running at the same time share one transaction.
// The decision of *when* to commit lives in end_op(), log_sync() and the committer thread;
// *how* is commit().
//
// Group commit (the fast path for small writes). end_op() does not commit just because the last
// running operation ended: the transaction stays open and later operations join it, so twenty
// 1 KiB write() calls cost one commit instead of twenty. A commit only ever happens when no
// operation is between begin_op and end_op, so a transaction holds whole operations. The
// transaction is committed:
//  - when the log is nearly full: the next operation might not fit (end_op, so that begin_op
//    never waits for a commit nobody will start);
//  - when it is old: LOG_DELAY ticks after its first block. end_op commits an old transaction
//    when it ends the last running operation; the committer thread, a kernel thread, sleeps
//    until a transaction opens, then until it is old, then commits it, so an idle system
//    commits too;
//  - when someone needs durability: log_sync(1), from close() (see above), sync() and halt().
//    A system waiting for a person at the console needs nothing more: the committer thread
//    commits within LOG_DELAY.
// Nothing else needs a synchronous commit. In particular a block freed and reallocated in the
// same transaction is safe, because both changes commit together (but see new blocks below).
//
// Sequence numbers. Transactions are numbered; log.seq is the open one's (or, during a commit,
// the committing one's), and every lower number is on disk. An operation that has ended is in
// transaction log.seq or an earlier one, so a forced sync waits until log.seq moves past the
// value it saw. Meanwhile log.barrier stops begin_op from admitting operations into that
// transaction: the running ones drain, the last end_op commits, and new operations cannot
// postpone the commit forever; they join the next transaction.
//
// New blocks (the second fast path). A block that is free in the committed on-disk state is
// invisible after a crash, whatever it contains. So a block that balloc() hands out (log_write_new)
// is written straight to its home location before the commit point instead of to the log and
// then home: a crash before the commit leaves garbage in a free block, one after it leaves the
// right data. This halves the disk writes of appends. It is only sound if the block really is
// free on disk, so a block freed earlier in the same (uncommitted) transaction is logged
// normally: freed[] remembers those.
//
// Batched writes (the third fast path). Each step of a commit hands all its blocks to the disk
// at once (bwrite_batch) and waits until every one of them is done, because a request's fixed
// cost in the emulator (notify, exit, interrupt, a sleeping hart) dominates. The device may
// finish the blocks of a step in any order, so each ordering rule below is kept by putting the
// two sides in different steps:
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
//
// Locks: log.lock (a spinlock) guards every field of log below except the committer's scratch;
// it is never held across disk I/O. tickslock is never held with it.

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
#include "kernel/param.h"
#include "kernel/spinlock.h"
#include "kernel/sleeplock.h"
#include "kernel/fs.h"
#include "kernel/buf.h"

// A transaction older than this many clock ticks (0.3 s) is committed at the next chance
// (see "Group commit" above).
#define LOG_DELAY (3 * TICKHZ / 10)

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
  uint seq;         // number of the open (or committing) transaction; lower ones are on disk
  int barrier;      // a sync waits for transaction seq: begin_op admits nobody into it
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
static void committer(void);

// At boot, from fsinit() in the first process (recovery sleeps on disk I/O).
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
  log.seq = 1;
  recover_from_log();
  if(kthread_start("logcommit", committer) < 0)
    panic("initlog: cannot start the log committer thread (out of memory or processes)");
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

// Whether the open transaction is at least LOG_DELAY ticks old. Caller holds log.lock.
static int
aged(void)
{
  return __atomic_load_n(&ticks, __ATOMIC_RELAXED) - log.opened >= LOG_DELAY;
}

// Start a file-system operation. Waits while a commit runs, while a sync waits for the open
// transaction (log.barrier), or while the log might not have room for this operation on top
// of those already admitted (each may write MAXOPBLOCKS).
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

// Commit the open transaction (the caller set log.committing, so no operation runs and
// none can start), then open the next one and let waiting operations and syncs go on.
static void
commit_and_wake(void)
{
  // commit() sleeps on disk I/O, so it must run without the spinlock.
  commit();
  acquire(&log.lock);
  log.lh.n = 0;
  memset(log.freed, 0, sizeof(log.freed));
  log.committing = 0;
  log.barrier = 0;
  log.seq += 1;
  wakeup(&log);
  release(&log.lock);
}

// Finish a file-system operation. When it was the last one running, the transaction is
// committed if it must be (full, old, or a sync waits for it); otherwise it stays open for
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
  int must = log.barrier || log.lh.n + MAXOPBLOCKS > log.capacity || aged();
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

// Make every operation that ended before this call durable: returns once the transaction
// they are in (log.seq, see "Sequence numbers") is on disk. With force 0 only an open
// transaction older than LOG_DELAY is committed (the committer thread); otherwise this
// returns at once. The caller must hold no locks and must not be inside an operation of
// its own (it would wait for itself); it may sleep.
void
log_sync(int force)
{
  acquire(&log.lock);
  if(log.lh.n == 0 || (!force && !log.committing && !aged())){
    release(&log.lock);            // nothing ended that is not on disk, or not old yet
    return;
  }
  uint target = log.seq;
  log.barrier = 1;
  if(log.outstanding == 0 && !log.committing){
    log.committing = 1;
    release(&log.lock);
    commit_and_wake();
    return;
  }
  // The last running operation's end_op, or the commit already under way, ends target.
  while(log.seq == target)
    sleep(&log, &log.lock);
  release(&log.lock);
}

// Sleep until the tick counter reaches when.
static void
sleep_until(uint when)
{
  acquire(&tickslock);
  while((int)(when - ticks) > 0)
    sleep(&ticks, &tickslock);
  release(&tickslock);
}

// The committer thread (a kernel thread, started by initlog): commits each transaction
// LOG_DELAY ticks after its first block, so that a finished operation reaches the disk in
// bounded time even when no process calls into the file system again (every process asleep,
// the shell waiting for input). It sleeps on &log.opened while no transaction is open;
// add_block() wakes it when one opens.
static void
committer(void)
{
  for(;;){
    acquire(&log.lock);
    while(log.lh.n == 0)
      sleep(&log.opened, &log.lock);
    uint due = log.opened + LOG_DELAY;
    release(&log.lock);
    sleep_until(due);
    log_sync(0);      // commits unless end_op did already; a newer transaction is not due
  }
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
    if(log.lh.n == 0){
      log.opened = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
      wakeup(&log.opened);   // the committer thread
    }
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
