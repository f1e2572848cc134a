// Open files: the system-wide table of NFILE struct file, and reading, writing, stat and close
// through one, whatever is behind it: a pipe, an inode, or a device driver from devsw[].

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

// Drivers fill in their entries at boot (console.c sets devsw[CONSOLE]).
struct devsw devsw[NDEV];

// A slot is free when its ref is 0. ftable.lock guards the refs, and so which slots are free.
static struct {
  struct spinlock lock;
  struct file file[NFILE];
} ftable;

// Bytes of a write() that one transaction may take. An unaligned chunk of k blocks touches
// k+1 data blocks, the inode block, the indirect block and up to two bitmap blocks, and all
// of them must fit in the MAXOPBLOCKS that one operation may log.
#define WRITE_CHUNK ((MAXOPBLOCKS - 5) * BSIZE)

void
fileinit(void)
{
  initlock(&ftable.lock, "ftable");
}

// A free file with ref 1, type FD_NONE and everything else zero; 0 if all NFILE are in use.
struct file*
filealloc(void)
{
  struct file *found = 0;
  acquire(&ftable.lock);
  for(struct file *f = ftable.file; f < ftable.file + NFILE && found == 0; f++){
    if(f->ref == 0){
      *f = (struct file){ .type = FD_NONE, .ref = 1 };
      found = f;
    }
  }
  release(&ftable.lock);
  return found;
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

// Let go of what a file held when its last reference went; f is a copy of it, the slot
// itself is free already. May sleep.
static void
filerelease(struct file *f)
{
  switch(f->type){
  case FD_PIPE:
    pipeclose(f->pipe, f->writable);
    break;
  case FD_INODE:
  case FD_DEVICE:
    begin_op();
    iput(f->ip);           // the last reference to an unlinked file frees it on disk
    end_op();
    // Group commit (log.c) keeps recent changes in memory; the last close of a file opened
    // for writing, explicit or by exit(), makes them durable.
    if(f->type == FD_INODE && f->writable)
      log_sync(1);
    break;
  case FD_NONE:
    break;                 // a slot handed back unused
  }
}

// Drop a reference to f; the last one closes the pipe end or releases the inode.
void
fileclose(struct file *f)
{
  acquire(&ftable.lock);
  if(f->ref < 1)
    panic("fileclose: file not open");
  f->ref--;
  struct file last = *f;
  // Free the slot at once, but release what it held only after ftable.lock: that may sleep.
  if(last.ref == 0)
    *f = (struct file){ .type = FD_NONE };
  release(&ftable.lock);
  if(last.ref == 0)
    filerelease(&last);
}

// Copy f's metadata to the struct stat at user address addr. 0, or -1.
int
filestat(struct file *f, uint64 addr)
{
  struct stat st;
  if(f->type != FD_INODE && f->type != FD_DEVICE)
    return -1;
  ilock(f->ip);
  stati(f->ip, &st);
  iunlock(f->ip);
  return copyout(myproc()->pagetable, addr, (char*)&st, sizeof(st)) < 0 ? -1 : 0;
}

// One read or write of n bytes at f's offset, which moves past the bytes moved; a write is
// one transaction. Returns the count, short at the end of the file (reading), if the disk or
// the file fills, or if a copy fails (-1 if not one byte could be moved).
static int
inode_rw(struct file *f, uint64 addr, int n, int writing)
{
  if(writing)
    begin_op();
  ilock(f->ip);
  int r = writing ? writei(f->ip, 1, addr, f->off, n) : readi(f->ip, 1, addr, f->off, n);
  if(r > 0)
    f->off += r;
  iunlock(f->ip);
  if(writing)
    end_op();
  return r;
}

// Write n bytes to an inode file, WRITE_CHUNK bytes per transaction, so a crash can keep the
// first chunks of a large write and lose the rest, each chunk all or nothing. Returns the bytes
// written, short if the disk fills, the file reaches MAXFILE blocks, or addr runs into bad
// memory; -1 if not one byte could be written.
static int
inode_write(struct file *f, uint64 addr, int n)
{
  int done = 0;
  while(done < n){
    int want = MIN(n - done, WRITE_CHUNK);
    int r = inode_rw(f, addr + done, want, 1);
    if(r > 0)
      done += r;
    if(r != want)
      break;
  }
  return (done == 0 && n > 0) ? -1 : done;
}

// Move n bytes between f and user address addr: into f if writing, out of it otherwise.
// Returns the count (0 at the end of a file), or -1.
static int
filerw(struct file *f, uint64 addr, int n, int writing)
{
  if(n < 0 || !(writing ? f->writable : f->readable))
    return -1;
  switch(f->type){
  case FD_PIPE:
    return writing ? pipewrite(f->pipe, addr, n) : piperead(f->pipe, addr, n);
  case FD_INODE:
    return writing ? inode_write(f, addr, n) : inode_rw(f, addr, n, 0);
  case FD_DEVICE:
    if(f->major < 0 || f->major >= NDEV)
      return -1;
    int (*io)(int, uint64, int) = writing ? devsw[f->major].write : devsw[f->major].read;
    return io != 0 ? io(1, addr, n) : -1;
  default:
    panic("filerw: file of no known type");
  }
}

int
fileread(struct file *f, uint64 addr, int n)
{
  return filerw(f, addr, n, 0);
}

int
filewrite(struct file *f, uint64 addr, int n)
{
  return filerw(f, addr, n, 1);
}
