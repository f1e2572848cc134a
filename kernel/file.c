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

// The driver of device file f, or 0 if its major number has no slot in devsw[].
static struct devsw*
driver(struct file *f)
{
  if(f->major < 0 || f->major >= NDEV)
    return 0;
  return &devsw[f->major];
}

// Read up to n bytes into user address addr. Returns the count, 0 at end of file, or -1.
int
fileread(struct file *f, uint64 addr, int n)
{
  if(!f->readable || n < 0)
    return -1;

  if(f->type == FD_PIPE)
    return piperead(f->pipe, addr, n);

  if(f->type == FD_DEVICE){
    struct devsw *d = driver(f);
    if(d == 0 || d->read == 0)
      return -1;
    return d->read(1, addr, n);
  }

  if(f->type == FD_INODE){
    ilock(f->ip);
    int r = readi(f->ip, 1, addr, f->off, n);
    if(r > 0)
      f->off += r;
    iunlock(f->ip);
    return r;
  }
  panic("fileread: file of no known type");
}

// Write n bytes at f's offset in one transaction. Returns the bytes written (short if the
// disk or the file is full, or the copy from addr fails), or -1.
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

// Write n bytes to an inode file, WRITE_CHUNK bytes per transaction. A crash can therefore
// keep the first chunks of a large write and lose the rest; each chunk is all or nothing.
// Returns the bytes written, which is short if the disk fills, the file reaches MAXFILE
// blocks, or addr runs into bad memory; -1 if not one byte could be written.
static int
inode_write(struct file *f, uint64 addr, int n)
{
  int done = 0;
  while(done < n){
    int want = n - done < WRITE_CHUNK ? n - done : WRITE_CHUNK;
    int r = write_chunk(f, addr + done, want);
    if(r > 0)
      done += r;
    if(r != want)
      break;
  }
  return (done == 0 && n > 0) ? -1 : done;
}

// Write n bytes from user address addr. Returns the count written, or -1.
int
filewrite(struct file *f, uint64 addr, int n)
{
  if(!f->writable || n < 0)
    return -1;

  if(f->type == FD_PIPE)
    return pipewrite(f->pipe, addr, n);

  if(f->type == FD_DEVICE){
    struct devsw *d = driver(f);
    if(d == 0 || d->write == 0)
      return -1;
    return d->write(1, addr, n);
  }

  if(f->type == FD_INODE)
    return inode_write(f, addr, n);
  panic("filewrite: file of no known type");
}
