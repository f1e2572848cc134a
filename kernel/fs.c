// The file system proper: superblock, block allocation, inodes, file contents, directories
// and path names. Disk blocks go through the buffer cache (bio.c) and, for any change,
// through the log (log.c): every function that modifies the disk must run inside begin_op/end_op.
//
// Inode locking: itable.lock (spinlock) guards ip->ref and the dev/inum identity of table slots;
// ip->lock (sleeplock) guards everything else in the inode, including valid and the on-disk copy.
// A path walk holds at most one inode lock at a time, which is what makes ".." safe.

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
#include "kernel/param.h"
#include "kernel/stat.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/sleeplock.h"
#include "kernel/fs.h"
#include "kernel/buf.h"
#include "kernel/file.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

// One superblock per machine: there is only ever one disk.
struct superblock sb;

static void
readsb(int dev, struct superblock *s)
{
  struct buf *bp = bread(dev, 1);
  memmove(s, bp->data, sizeof(*s));
  brelse(bp);
}

// Mount the file system on dev. Runs in process context (it sleeps on the disk).
void
fsinit(int dev)
{
  readsb(dev, &sb);
  if(sb.magic != FSMAGIC)
    panic("fsinit: disk is not our file system (bad superblock magic); build fs.img with mkfs");
  if(sb.ninodes == 0 || sb.size == 0 || sb.bmapstart >= sb.size || sb.inodestart >= sb.size)
    panic("fsinit: superblock is inconsistent; rebuild fs.img with mkfs");
  initlog(dev, &sb);
}

// ---------------------------------------------------------------------------------------------
// Blocks

// Zero a block balloc() just allocated. Its old contents do not matter, so it is not read
// from disk (bclaim), and the log may write it home directly (log_write_new, see log.c).
static void
bzero(int dev, int bno)
{
  struct buf *bp = bclaim(dev, bno);
  memset(bp->data, 0, BSIZE);
  log_write_new(bp);
  brelse(bp);
}

// Allocate a zeroed disk block. Returns 0 if the disk is full (block 0 is the boot block,
// never free, so 0 cannot be a real answer).
static uint
balloc(uint dev)
{
  for(uint base = 0; base < sb.size; base += BPB){
    struct buf *bp = bread(dev, BBLOCK(base, sb));
    for(uint bi = 0; bi < BPB && base + bi < sb.size; bi++){
      uchar *byte = &bp->data[bi / 8];
      if(bi % 8 == 0 && *byte == 0xff){
        bi += 7;      // whole byte in use
        continue;
      }
      uchar mask = 1 << (bi % 8);
      if((*byte & mask) == 0){
        *byte |= mask;
        log_write(bp);
        brelse(bp);
        bzero(dev, base + bi);
        return base + bi;
      }
    }
    brelse(bp);
  }
  printf("balloc: out of blocks\n");
  return 0;
}

static void
bfree(int dev, uint b)
{
  if(b == 0 || b >= sb.size)
    panic("bfree: block number out of range");
  struct buf *bp = bread(dev, BBLOCK(b, sb));
  uint bi = b % BPB;
  uchar mask = 1 << (bi % 8);
  if((bp->data[bi / 8] & mask) == 0)
    panic("bfree: block already free");
  bp->data[bi / 8] &= ~mask;
  log_write(bp);
  brelse(bp);
  log_freed(b);   // still in use on disk until this transaction commits
}

// ---------------------------------------------------------------------------------------------
// Inodes
//
// An in-memory inode with ref > 0 is a table slot bound to (dev, inum); ref counts the C pointers
// (open files, cwd, transient users). valid says whether the disk copy has been read. The on-disk
// inode is freed by iput() when the last reference goes and nlink is 0.
// Usual pattern: ip = namei(...) / iget; ilock(ip); ... use ip ...; iunlock(ip); iput(ip).

static struct {
  struct spinlock lock;
  struct inode inode[NINODE];
} itable;

void
iinit(void)
{
  initlock(&itable.lock, "itable");
  for(int i = 0; i < NINODE; i++)
    initsleeplock(&itable.inode[i].lock, "inode");
}

// The in-memory slot for (dev, inum), unlocked and not necessarily read from disk.
// Returns 0 if the table is full: callers fail their system call instead of panicking.
static struct inode*
iget(uint dev, uint inum)
{
  struct inode *ip, *empty = 0;

  acquire(&itable.lock);
  for(ip = itable.inode; ip < itable.inode + NINODE; ip++){
    if(ip->ref > 0 && ip->dev == dev && ip->inum == inum){
      ip->ref++;
      release(&itable.lock);
      return ip;
    }
    if(empty == 0 && ip->ref == 0)
      empty = ip;
  }
  if(empty == 0){
    release(&itable.lock);
    printf("iget: inode table full\n");
    return 0;
  }
  empty->dev = dev;
  empty->inum = inum;
  empty->ref = 1;
  empty->valid = 0;
  release(&itable.lock);
  return empty;
}

// Allocate an on-disk inode of the given type; returns it referenced but unlocked,
// or 0 if no inode is free (or no in-memory slot is). Must be called inside a transaction.
struct inode*
ialloc(uint dev, short type)
{
  for(uint inum = 1; inum < sb.ninodes; inum++){
    struct buf *bp = bread(dev, IBLOCK(inum, sb));
    struct dinode *dip = (struct dinode*)bp->data + inum % IPB;
    if(dip->type == 0){
      struct inode *ip = iget(dev, inum);
      if(ip == 0){
        brelse(bp);      // nothing claimed yet
        return 0;
      }
      memset(dip, 0, sizeof(*dip));
      dip->type = type;
      log_write(bp);
      brelse(bp);
      return ip;
    }
    brelse(bp);
  }
  printf("ialloc: no free inodes\n");
  return 0;
}

// Write ip's fields to its disk inode. Call after every change to a field that lives on disk,
// with ip->lock held and inside a transaction.
void
iupdate(struct inode *ip)
{
  struct buf *bp = bread(ip->dev, IBLOCK(ip->inum, sb));
  struct dinode *dip = (struct dinode*)bp->data + ip->inum % IPB;
  dip->type = ip->type;
  dip->major = ip->major;
  dip->minor = ip->minor;
  dip->nlink = ip->nlink;
  dip->size = ip->size;
  memmove(dip->addrs, ip->addrs, sizeof(ip->addrs));
  log_write(bp);
  brelse(bp);
}

struct inode*
idup(struct inode *ip)
{
  acquire(&itable.lock);
  ip->ref++;
  release(&itable.lock);
  return ip;
}

// Lock ip, reading it from disk the first time.
void
ilock(struct inode *ip)
{
  if(ip == 0 || ip->ref < 1)
    panic("ilock: bad inode");

  acquiresleep(&ip->lock);
  if(ip->valid)
    return;

  struct buf *bp = bread(ip->dev, IBLOCK(ip->inum, sb));
  struct dinode *dip = (struct dinode*)bp->data + ip->inum % IPB;
  ip->type = dip->type;
  ip->major = dip->major;
  ip->minor = dip->minor;
  ip->nlink = dip->nlink;
  ip->size = dip->size;
  memmove(ip->addrs, dip->addrs, sizeof(ip->addrs));
  brelse(bp);
  ip->valid = 1;
  if(ip->type == 0)
    panic("ilock: inode has no type (corrupt file system?)");
}

void
iunlock(struct inode *ip)
{
  if(ip == 0 || !holdingsleep(&ip->lock) || ip->ref < 1)
    panic("iunlock");
  releasesleep(&ip->lock);
}

// Drop a reference. The last reference to an inode with no links frees it on disk,
// so every iput() must be inside a transaction.
void
iput(struct inode *ip)
{
  acquire(&itable.lock);
  if(ip->ref == 1 && ip->valid && ip->nlink == 0){
    // Nobody else holds a pointer, so nobody else can hold or wait for ip->lock,
    // and iget() cannot hand the slot out while ref is still 1.
    acquiresleep(&ip->lock);
    release(&itable.lock);

    itrunc(ip);
    ip->type = 0;
    iupdate(ip);
    ip->valid = 0;

    releasesleep(&ip->lock);
    acquire(&itable.lock);
  }
  ip->ref--;
  release(&itable.lock);
}

void
iunlockput(struct inode *ip)
{
  iunlock(ip);
  iput(ip);
}

// Free all of ip's data blocks and make it empty. Caller holds ip->lock, inside a transaction.
// All freed bits live in one or two bitmap blocks, which the log absorbs.
void
itrunc(struct inode *ip)
{
  for(int i = 0; i < NDIRECT; i++){
    if(ip->addrs[i]){
      bfree(ip->dev, ip->addrs[i]);
      ip->addrs[i] = 0;
    }
  }

  if(ip->addrs[NDIRECT]){
    struct buf *bp = bread(ip->dev, ip->addrs[NDIRECT]);
    uint *a = (uint*)bp->data;
    for(int j = 0; j < NINDIRECT; j++){
      if(a[j])
        bfree(ip->dev, a[j]);
    }
    brelse(bp);
    bfree(ip->dev, ip->addrs[NDIRECT]);
    ip->addrs[NDIRECT] = 0;
  }

  ip->size = 0;
  iupdate(ip);
}

void
stati(struct inode *ip, struct stat *st)
{
  st->dev = ip->dev;
  st->ino = ip->inum;
  st->type = ip->type;
  st->nlink = ip->nlink;
  st->size = ip->size;
}

// ---------------------------------------------------------------------------------------------
// File contents

// Disk address of the bn'th block of ip, allocating it (and the indirect block) if needed.
// Returns 0 if the disk is full. Allocation changes ip->addrs: the caller must iupdate().
static uint
bmap(struct inode *ip, uint bn)
{
  uint addr;

  if(bn < NDIRECT){
    if((addr = ip->addrs[bn]) == 0){
      addr = balloc(ip->dev);
      ip->addrs[bn] = addr;
    }
    return addr;
  }
  bn -= NDIRECT;
  if(bn >= NINDIRECT)
    panic("bmap: block beyond MAXFILE");

  if((addr = ip->addrs[NDIRECT]) == 0){
    addr = balloc(ip->dev);
    if(addr == 0)
      return 0;
    ip->addrs[NDIRECT] = addr;
  }
  struct buf *bp = bread(ip->dev, addr);
  uint *a = (uint*)bp->data;
  if((addr = a[bn]) == 0){
    addr = balloc(ip->dev);
    if(addr){
      a[bn] = addr;
      log_write(bp);
    }
  }
  brelse(bp);
  return addr;
}

// Read up to n bytes at offset off into dst (a user address if user_dst, else kernel).
// Caller holds ip->lock. Returns the bytes read (0 at or past the end), or -1 if the very
// first copy to dst failed; a later failed copy returns what was read before it.
int
readi(struct inode *ip, int user_dst, uint64 dst, uint off, uint n)
{
  if(off > ip->size || off + n < off)
    return 0;
  if(off + n > ip->size)
    n = ip->size - off;

  uint tot, m;
  for(tot = 0; tot < n; tot += m, off += m, dst += m){
    uint addr = bmap(ip, off / BSIZE);
    if(addr == 0)
      break;
    struct buf *bp = bread(ip->dev, addr);
    m = MIN(n - tot, BSIZE - off % BSIZE);
    if(either_copyout(user_dst, dst, bp->data + (off % BSIZE), m) == -1){
      brelse(bp);
      return tot > 0 ? tot : -1;
    }
    brelse(bp);
  }
  return tot;
}

// Write n bytes from src (a user address if user_src) at offset off, growing the file if needed.
// Caller holds ip->lock, inside a transaction. Returns the bytes written, which is short if the
// disk fills or a copy from src fails, or -1 for an offset past the end or beyond MAXFILE.
int
writei(struct inode *ip, int user_src, uint64 src, uint off, uint n)
{
  if(off > ip->size || off + n < off)
    return -1;
  if((uint64)off + n > (uint64)MAXFILE * BSIZE)
    return -1;

  uint tot, m;
  for(tot = 0; tot < n; tot += m, off += m, src += m){
    uint addr = bmap(ip, off / BSIZE);
    if(addr == 0)
      break;
    struct buf *bp = bread(ip->dev, addr);
    m = MIN(n - tot, BSIZE - off % BSIZE);
    if(either_copyin(bp->data + (off % BSIZE), user_src, src, m) == -1){
      // The copy may have changed part of the buffer; log it anyway so the cache
      // never holds bytes the disk will not get. The size below excludes them.
      log_write(bp);
      brelse(bp);
      break;
    }
    log_write(bp);
    brelse(bp);
  }

  if(off > ip->size)
    ip->size = off;
  // Even if the size did not change, bmap() may have added blocks to ip->addrs.
  iupdate(ip);
  return tot;
}

// ---------------------------------------------------------------------------------------------
// Directories

int
namecmp(const char *s, const char *t)
{
  return strncmp(s, t, DIRSIZ);
}

// Look for name in directory dp (locked). On success returns the entry's inode, referenced but
// unlocked, and sets *poff to the entry's byte offset if poff != 0. Returns 0 if absent.
struct inode*
dirlookup(struct inode *dp, char *name, uint *poff)
{
  struct dirent de;

  if(dp->type != T_DIR)
    panic("dirlookup: not a directory");

  for(uint off = 0; off + sizeof(de) <= dp->size; off += sizeof(de)){
    if(readi(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de))
      break;
    if(de.inum == 0)
      continue;
    if(namecmp(name, de.name) == 0){
      if(poff)
        *poff = off;
      return iget(dp->dev, de.inum);
    }
  }
  return 0;
}

// Add the entry (name, inum) to directory dp (locked), reusing a free slot if there is one.
// Returns 0, or -1 if the name exists already or the directory cannot grow.
int
dirlink(struct inode *dp, char *name, uint inum)
{
  struct dirent de;
  struct inode *ip;
  uint off;

  if((ip = dirlookup(dp, name, 0)) != 0){
    iput(ip);
    return -1;
  }

  for(off = 0; off + sizeof(de) <= dp->size; off += sizeof(de)){
    if(readi(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de))
      return -1;
    if(de.inum == 0)
      break;
  }

  memset(&de, 0, sizeof(de));
  strncpy(de.name, name, DIRSIZ);
  de.inum = inum;
  if(writei(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de))
    return -1;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Path names

// Copy the next element of path into name (at most DIRSIZ bytes; longer names are cut to DIRSIZ,
// unterminated, exactly as dirent stores them) and return the rest of path without leading
// slashes. Returns 0 if there is no element left.
//   skipelem("a/bb/c", name) = "bb/c", name = "a"
//   skipelem("///a//bb", name) = "bb", name = "a"
//   skipelem("", name) = skipelem("////", name) = 0
static char*
skipelem(char *path, char *name)
{
  while(*path == '/')
    path++;
  if(*path == 0)
    return 0;
  char *s = path;
  while(*path != '/' && *path != 0)
    path++;
  int len = path - s;
  if(len >= DIRSIZ){
    memmove(name, s, DIRSIZ);
  } else {
    memmove(name, s, len);
    name[len] = 0;
  }
  while(*path == '/')
    path++;
  return path;
}

// Resolve path. With parent set, stop one element early, returning the parent directory
// and copying the final element into name (DIRSIZ bytes). Must run inside a transaction,
// since it may iput(). The returned inode is referenced and unlocked.
static struct inode*
namex(char *path, int parent, char *name)
{
  struct inode *ip, *next;

  if(*path == '/')
    ip = iget(ROOTDEV, ROOTINO);
  else
    ip = idup(myproc()->cwd);
  if(ip == 0)
    return 0;

  while((path = skipelem(path, name)) != 0){
    ilock(ip);
    if(ip->type != T_DIR){
      iunlockput(ip);
      return 0;
    }
    if(parent && *path == 0){
      iunlock(ip);
      return ip;
    }
    next = dirlookup(ip, name, 0);
    // Unlock before moving on: locking next while holding ip could deadlock on "..".
    iunlockput(ip);
    if(next == 0)
      return 0;
    ip = next;
  }
  if(parent){
    // The path had no final element (e.g. "/").
    iput(ip);
    return 0;
  }
  return ip;
}

struct inode*
namei(char *path)
{
  char name[DIRSIZ];
  return namex(path, 0, name);
}

struct inode*
nameiparent(char *path, char *name)
{
  return namex(path, 1, name);
}
