// Open-file table (NFILE struct file shared by all processes) and the device switch devsw[].
// A struct file is an open pipe end, inode or device with its offset and access mode.
//
// ftable.lock guards f->ref and the choice of free slots; the other fields of a file are set
// once by its opener before anyone else can see it, except f->off, which the inode lock guards.

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
#include "kernel/param.h"
#include "kernel/fs.h"
#include "kernel/spinlock.h"
#include "kernel/sleeplock.h"
#include "kernel/file.h"
#include "kernel/stat.h"
#include "kernel/proc.h"

// Device drivers fill in their entries at boot (e.g. console.c sets devsw[CONSOLE]).
struct devsw devsw[NDEV];

static struct {
  struct spinlock lock;
  struct file file[NFILE];
} ftable;

// Largest write filewrite() puts in one transaction. An unaligned chunk of k blocks touches
// k+1 data blocks, plus the inode block, the indirect block and at most two bitmap blocks,
// and all of that must fit in the MAXOPBLOCKS one operation may log.
#define WRITE_CHUNK ((MAXOPBLOCKS - 5) * BSIZE)

void
fileinit(void)
{
  initlock(&ftable.lock, "ftable");
}

// A free file structure with ref 1 and type FD_NONE, or 0 if the table is full.
struct file*
filealloc(void)
{
  acquire(&ftable.lock);
  for(struct file *f = ftable.file; f < ftable.file + NFILE; f++){
    if(f->ref == 0){
      f->ref = 1;
      f->type = FD_NONE;
      f->readable = 0;
      f->writable = 0;
      f->pipe = 0;
      f->ip = 0;
      f->off = 0;
      f->major = 0;
      release(&ftable.lock);
      return f;
    }
  }
  release(&ftable.lock);
  return 0;
}

struct file*
filedup(struct file *f)
{
  acquire(&ftable.lock);
  if(f->ref < 1)
    panic("filedup: file not open");
  f->ref++;
  release(&ftable.lock);
  return f;
}

// Drop a reference; the last one releases the pipe end or inode.
void
fileclose(struct file *f)
{
  acquire(&ftable.lock);
  if(f->ref < 1)
    panic("fileclose: file not open");
  if(--f->ref > 0){
    release(&ftable.lock);
    return;
  }
  // Take a copy and free the slot first: pipeclose and iput may sleep,
  // which is not allowed while holding ftable.lock.
  struct file ff = *f;
  f->type = FD_NONE;
  f->pipe = 0;
  f->ip = 0;
  release(&ftable.lock);

  if(ff.type == FD_PIPE){
    pipeclose(ff.pipe, ff.writable);
  } else if(ff.type == FD_INODE || ff.type == FD_DEVICE){
    begin_op();          // iput may free the inode
    iput(ff.ip);
    end_op();
    // Group commit (log.c) keeps recent writes in memory; closing a file opened for
    // writing (explicitly or by exit) makes them durable.
    if(ff.type == FD_INODE && ff.writable)
      log_sync(1);
  }
}

// Copy f's metadata to the struct stat at user address addr. Returns 0 or -1.
int
filestat(struct file *f, uint64 addr)
{
  struct stat st;

  if(f->type != FD_INODE && f->type != FD_DEVICE)
    return -1;
  ilock(f->ip);
  stati(f->ip, &st);
  iunlock(f->ip);
  if(copyout(myproc()->pagetable, addr, (char *)&st, sizeof(st)) < 0)
    return -1;
  return 0;
}

static int
valid_major(short major)
{
  return major >= 0 && major < NDEV;
}

// Read up to n bytes into user address addr. Returns the count, 0 at end of file, or -1.
int
fileread(struct file *f, uint64 addr, int n)
{
  int r;

  if(!f->readable || n < 0)
    return -1;

  switch(f->type){
  case FD_PIPE:
    return piperead(f->pipe, addr, n);
  case FD_DEVICE:
    if(!valid_major(f->major) || devsw[f->major].read == 0)
      return -1;
    // A device read may wait for a person for a long time: commit what the file system
    // still holds in memory first (group commit, log.c).
    log_sync(1);
    return devsw[f->major].read(1, addr, n);
  case FD_INODE:
    ilock(f->ip);
    r = readi(f->ip, 1, addr, f->off, n);
    if(r > 0)
      f->off += r;
    iunlock(f->ip);
    return r;
  default:
    panic("fileread: bad file type");
  }
}

// Write one chunk that fits in a transaction. Returns bytes written or -1.
static int
write_chunk(struct file *f, uint64 addr, int n)
{
  begin_op();
  ilock(f->ip);
  int r = writei(f->ip, 1, addr, f->off, n);
  if(r > 0)
    f->off += r;
  iunlock(f->ip);
  end_op();
  return r;
}

// Write n bytes from user address addr. Returns n, the bytes written before a failure
// (disk full, bad user memory), or -1 if nothing was written.
int
filewrite(struct file *f, uint64 addr, int n)
{
  if(!f->writable || n < 0)
    return -1;

  switch(f->type){
  case FD_PIPE:
    return pipewrite(f->pipe, addr, n);
  case FD_DEVICE:
    if(!valid_major(f->major) || devsw[f->major].write == 0)
      return -1;
    return devsw[f->major].write(1, addr, n);
  case FD_INODE: {
    // Large writes span several transactions, so a crash can leave a prefix of the
    // data written; each chunk on its own is all-or-nothing.
    int i = 0;
    while(i < n){
      int n1 = n - i;
      if(n1 > WRITE_CHUNK)
        n1 = WRITE_CHUNK;
      int r = write_chunk(f, addr + i, n1);
      if(r > 0)
        i += r;
      if(r != n1)
        break;
    }
    if(i == 0 && n > 0)
      return -1;
    return i;
  }
  default:
    panic("filewrite: bad file type");
  }
}
