// The file system proper, in layers from the bottom up: disk blocks and their bitmap, inodes,
// file contents, directories, path names, and mounting. Blocks are read and written through
// the buffer cache (bio.c), and every change goes through the log (log.c): a function here that
// may modify the disk must be called between begin_op() and end_op().
//
// Locks (defs.h has the whole kernel's order; sysfile.c and file.c follow this one): a system
// call joins a transaction (begin_op) before it locks any inode. Inode sleeplocks go from a
// directory to an inode one of its entries names, never back: a path walk unlocks a directory
// before it locks what it found there (perhaps the parent, ".."), and a call that changes a
// directory holds at most one other inode, never the directory itself or its parent. What
// itable.lock and ip->lock guard: struct inode in file.h.

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

// The bit for block b within its byte of the free bitmap.
#define BITMASK(b) ((uchar)(1 << ((b) % 8)))

// There is one disk, so one superblock, read when the file system is mounted.
struct superblock sb;

// Blocks: the free bitmap has one bit per block, 1 for in use. mkfs marks the metadata blocks
// (boot, superblock, log, inodes, bitmap) in use; they are never freed.

// Index of the first 0 among the first nbits bits of map, or -1 if every one is set.
static int
firstclear(uchar *map, uint nbits)
{
  for(uint byte = 0; byte * 8 < nbits; byte++){
    if(map[byte] == 0xff)
      continue;                  // eight blocks in use: the usual case on a busy disk
    for(uint b = byte * 8; b < byte * 8 + 8 && b < nbits; b++)
      if((map[byte] & BITMASK(b)) == 0)
        return b;
  }
  return -1;
}

// A newly allocated, zeroed block's number, or 0 if the disk is full (block 0 is the boot
// block, never free). Inside a transaction.
static uint
balloc(uint dev)
{
  for(uint first = 0; first < sb.size; first += BPB){
    struct buf *bp = bread(dev, BBLOCK(first, sb));
    int bit = firstclear(bp->data, MIN(BPB, sb.size - first));
    if(bit >= 0){
      bp->data[bit / 8] |= BITMASK(bit);
      log_write(bp);
    }
    brelse(bp);
    if(bit < 0)
      continue;
    // Zero it, without reading it first; the log may write it home directly (log.c).
    bp = bclaim(dev, first + bit);
    memset(bp->data, 0, BSIZE);
    log_write_new(bp);
    brelse(bp);
    return first + bit;
  }
  printf("balloc: out of disk blocks\n");
  return 0;
}

// Mark block b free. Inside a transaction.
static void
bfree(uint dev, uint b)
{
  if(b == 0 || b >= sb.size)
    panic("bfree: block number out of range");
  struct buf *bp = bread(dev, BBLOCK(b, sb));
  uchar *byte = &bp->data[(b % BPB) / 8];
  if((*byte & BITMASK(b)) == 0)
    panic("bfree: block already free");
  *byte &= ~BITMASK(b);
  log_write(bp);
  brelse(bp);
  log_freed(b);   // still in use on disk until this transaction commits
}

// Inodes: itable holds the inodes in use. A slot with ref > 0 belongs to (dev, inum), and ref
// counts the pointers to it: open files, current directories, and short-lived ones in system
// calls. The first ilock() loads the disk copy (valid); iupdate() writes changes back. An inode
// is freed on disk when its last reference goes while no directory entry names it (nlink 0).
//
// Usage: ip = namei(path) or iget(dev, inum); ilock(ip); ... use ip ...; iunlockput(ip).
// iget() neither sleeps nor reads the disk: a caller takes a reference to the inode a
// directory entry names while it holds that directory locked, and locks the inode later.

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

// Disk inode inum within bp, which holds block IBLOCK(inum).
static struct dinode*
dinode_in(struct buf *bp, uint inum)
{
  return (struct dinode*)bp->data + inum % IPB;
}

// A new reference to the in-memory inode (dev, inum), unlocked and perhaps not loaded yet:
// its slot if it has one, else the first free slot. Returns 0 when the table is full: the
// caller's system call then fails and changes nothing.
struct inode*
iget(uint dev, uint inum)
{
  struct inode *ip, *free = 0;
  acquire(&itable.lock);
  for(ip = itable.inode; ip < itable.inode + NINODE; ip++){
    if(ip->ref > 0 && ip->dev == dev && ip->inum == inum)
      break;
    if(ip->ref == 0 && free == 0)
      free = ip;
  }
  if(ip == itable.inode + NINODE && (ip = free) != 0){
    ip->dev = dev;
    ip->inum = inum;
    ip->valid = 0;
  }
  if(ip != 0)
    ip->ref++;
  release(&itable.lock);
  if(ip == 0)
    printf("iget: inode table full (NINODE %d)\n", NINODE);
  return ip;
}

// Allocate a disk inode of the given type, with no links yet, and return it referenced and
// unlocked; 0 if every disk inode is in use or the inode table is full. In a transaction.
struct inode*
ialloc(uint dev, short type)
{
  for(uint inum = 1; inum < sb.ninodes; inum++){
    struct buf *bp = bread(dev, IBLOCK(inum, sb));
    struct dinode *dip = dinode_in(bp, inum);
    if(dip->type != 0){
      brelse(bp);
      continue;
    }
    // The slot first: if the table is full, nothing on disk has changed.
    struct inode *ip = iget(dev, inum);
    if(ip != 0){
      memset(dip, 0, sizeof(*dip));
      dip->type = type;
      log_write(bp);
    }
    brelse(bp);
    return ip;
  }
  printf("ialloc: no free inodes\n");
  return 0;
}

// Write ip's on-disk fields to its disk inode. Call after changing any of them, holding
// ip->lock, inside a transaction.
void
iupdate(struct inode *ip)
{
  struct buf *bp = bread(ip->dev, IBLOCK(ip->inum, sb));
  struct dinode *dip = dinode_in(bp, ip->inum);
  *dip = (struct dinode){
    .type = ip->type, .major = ip->major, .minor = ip->minor,
    .nlink = ip->nlink, .size = ip->size,
  };
  memmove(dip->addrs, ip->addrs, sizeof(dip->addrs));
  log_write(bp);
  brelse(bp);
}

// Read ip's disk inode into it. Caller holds ip->lock.
static void
iload(struct inode *ip)
{
  struct buf *bp = bread(ip->dev, IBLOCK(ip->inum, sb));
  struct dinode *dip = dinode_in(bp, ip->inum);
  ip->type = dip->type;
  ip->major = dip->major;
  ip->minor = dip->minor;
  ip->nlink = dip->nlink;
  ip->size = dip->size;
  memmove(ip->addrs, dip->addrs, sizeof(ip->addrs));
  brelse(bp);
  // Every reference comes from a directory entry, a cwd or an open file, all of which keep
  // their inode allocated; a free inode here means the disk itself is inconsistent.
  if(ip->type == 0)
    panic("ilock: inode has no type (corrupt file system?)");
  ip->valid = 1;
}

struct inode*
idup(struct inode *ip)
{
  acquire(&itable.lock);
  ip->ref++;
  release(&itable.lock);
  return ip;
}

// Lock ip, loading it from disk if this is the first lock since iget.
void
ilock(struct inode *ip)
{
  if(ip == 0 || ip->ref < 1)
    panic("ilock: inode not referenced");
  acquiresleep(&ip->lock);
  if(!ip->valid)
    iload(ip);
}

void
iunlock(struct inode *ip)
{
  if(ip == 0 || ip->ref < 1 || !holdingsleep(&ip->lock))
    panic("iunlock: inode not locked by this process");
  releasesleep(&ip->lock);
}

// Drop a reference to ip. The last reference to an inode that no directory names frees it on
// disk, so every iput() must be inside a transaction.
void
iput(struct inode *ip)
{
  acquire(&itable.lock);
  if(ip->ref == 1 && ip->valid && ip->nlink == 0){
    // Ours alone: no name leads to it and no one else holds a pointer, so no one can wait for
    // its lock, and no iget() can reach it until it is marked free on disk.
    release(&itable.lock);
    acquiresleep(&ip->lock);
    itrunc(ip);
    ip->type = 0;
    iupdate(ip);
    ip->valid = 0;        // ialloc() may hand inum out again: its owner reloads it
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

// Make ip empty, freeing all its blocks. Caller holds ip->lock, inside a transaction. However
// large the file, the freed bits fall in the few bitmap blocks, which the log absorbs.
void
itrunc(struct inode *ip)
{
  if(ip->addrs[NDIRECT] != 0){
    struct buf *bp = bread(ip->dev, ip->addrs[NDIRECT]);
    uint *slot = (uint*)bp->data;
    for(int i = 0; i < NINDIRECT; i++)
      if(slot[i] != 0)
        bfree(ip->dev, slot[i]);
    brelse(bp);
  }
  for(int i = 0; i <= NDIRECT; i++)     // the direct blocks, then the indirect one
    if(ip->addrs[i] != 0)
      bfree(ip->dev, ip->addrs[i]);
  memset(ip->addrs, 0, sizeof(ip->addrs));
  ip->size = 0;
  iupdate(ip);
}

// Fill *st from ip (locked). Every byte is set, padding included: st goes to user space.
void
stati(struct inode *ip, struct stat *st)
{
  memset(st, 0, sizeof(*st));
  st->dev = ip->dev;
  st->ino = ip->inum;
  st->type = ip->type;
  st->nlink = ip->nlink;
  st->size = ip->size;
}

// File contents: block n of a file is addrs[n] for n < NDIRECT; the next NINDIRECT are listed
// in the indirect block addrs[NDIRECT]. An address of 0 means no block yet. Files have no holes:
// writei never writes past the end, so every block below the size exists.

// The block address in *slot; with alloc, an empty slot first gets a fresh block (0 if full).
static uint
fillslot(uint dev, uint *slot, int alloc)
{
  if(*slot == 0 && alloc)
    *slot = balloc(dev);
  return *slot;
}

// Disk address of block bn of ip, or 0 if it has none. With alloc (inside a transaction),
// missing blocks, the indirect one included, are allocated; that changes ip->addrs, which the
// caller writes back with iupdate(). Caller holds ip->lock.
static uint
bmap(struct inode *ip, uint bn, int alloc)
{
  if(bn < NDIRECT)
    return fillslot(ip->dev, &ip->addrs[bn], alloc);
  bn -= NDIRECT;
  if(bn >= NINDIRECT)
    panic("bmap: block beyond MAXFILE");

  uint ind = fillslot(ip->dev, &ip->addrs[NDIRECT], alloc);
  if(ind == 0)
    return 0;
  struct buf *bp = bread(ip->dev, ind);
  uint *slot = (uint*)bp->data + bn;
  uint before = *slot;
  uint addr = fillslot(ip->dev, slot, alloc);
  if(addr != before)
    log_write(bp);
  brelse(bp);
  return addr;
}

// Move n bytes between ip at offset off and addr (a user address if user, else kernel), one
// block at a time: into the file if writing, out of it otherwise. Returns the bytes moved,
// short at a missing block (reading), a full disk (writing) or a failed copy; -1 if a copy
// failed before any byte moved. Caller holds ip->lock, and when writing is in a transaction.
static int
iomove(struct inode *ip, int writing, int user, uint64 addr, uint off, uint n)
{
  uint done = 0;
  while(done < n){
    uint bno = bmap(ip, off / BSIZE, writing);
    if(bno == 0)
      break;
    uint start = off % BSIZE;
    uint m = MIN(n - done, BSIZE - start);
    struct buf *bp = bread(ip->dev, bno);
    int r;
    if(writing){
      r = either_copyin(bp->data + start, user, addr, m);
      // Logged even if the copy failed part-way: the cache must never hold bytes the disk will
      // not get. The size the caller records leaves them out.
      log_write(bp);
    } else {
      r = either_copyout(user, addr, bp->data + start, m);
    }
    brelse(bp);
    if(r < 0)
      return done > 0 ? done : -1;
    done += m;
    off += m;
    addr += m;
  }
  return done;
}

// Read up to n bytes at offset off into dst (a user address if user_dst, else kernel). Caller
// holds ip->lock. Returns the bytes read, 0 at or past the end, or -1 if the very first copy to
// dst failed; a copy failing later returns the bytes read before it.
int
readi(struct inode *ip, int user_dst, uint64 dst, uint off, uint n)
{
  if(off >= ip->size)
    return 0;
  return iomove(ip, 0, user_dst, dst, off, MIN(n, ip->size - off));
}

// Write n bytes from src (a user address if user_src, else kernel) at offset off, extending
// the file if needed. Caller holds ip->lock, inside a transaction. Writes what fits below
// MAXFILE blocks and returns the count, which is short if the disk fills or a copy from src
// fails (0 if nothing could be written); -1 for an offset past the end of the file.
int
writei(struct inode *ip, int user_src, uint64 src, uint off, uint n)
{
  uint max = MAXFILE * BSIZE;
  if(off > ip->size || off > max)
    return -1;
  int r = iomove(ip, 1, user_src, src, off, MIN(n, max - off));
  uint done = (r > 0) ? r : 0;
  if(off + done > ip->size)
    ip->size = off + done;
  // Even if the size did not change, bmap() may have added blocks to ip->addrs.
  iupdate(ip);
  return done;
}

// Directories: a directory is a file of struct dirent. An entry with inum 0 is free; names are
// unique within a directory. Every directory holds "." (itself) and ".." (its parent; the
// root's is the root). A directory's nlink counts its name in its parent and the ".." of each
// of its subdirectories, but not its own ".", so unlinking it makes it 0.

int
namecmp(const char *s, const char *t)
{
  return strncmp(s, t, DIRSIZ);
}

// The entry at byte offset off of dp (locked) into *de. 0, or -1 past the end.
static int
readent(struct inode *dp, uint off, struct dirent *de)
{
  return readi(dp, 0, (uint64)de, off, sizeof(*de)) == sizeof(*de) ? 0 : -1;
}

// The inode number that name has in directory dp (locked), or 0 if dp has none. Unless poff
// is 0, *poff is set to the entry's offset, or if there is none, to the first free entry's
// (dp->size if none is free). To use the inode, iget() it while dp is still locked (the
// entry, and with it the inode, cannot go away in between).
uint
dirlookup(struct inode *dp, char *name, uint *poff)
{
  struct dirent de;
  uint freeoff = dp->size;
  if(dp->type != T_DIR)
    panic("dirlookup: not a directory");
  for(uint off = 0; readent(dp, off, &de) == 0; off += sizeof(de)){
    if(de.inum != 0 && namecmp(name, de.name) == 0){
      if(poff != 0)
        *poff = off;
      return de.inum;
    }
    if(de.inum == 0)
      freeoff = MIN(freeoff, off);
  }
  if(poff != 0)
    *poff = freeoff;
  return 0;
}

// Write the entry (name, inum) at offset off of dp (locked); inum 0 frees it. 0, or -1.
static int
writeent(struct inode *dp, uint off, char *name, uint inum)
{
  struct dirent de;
  memset(&de, 0, sizeof(de));
  strncpy(de.name, name, DIRSIZ);
  de.inum = inum;
  return writei(dp, 0, (uint64)&de, off, sizeof(de)) == sizeof(de) ? 0 : -1;
}

// Add the entry (name, inum) to dp (locked), in the first free slot or at the end. Returns 0,
// or -1 if dp has the name already or cannot grow.
int
dirlink(struct inode *dp, char *name, uint inum)
{
  uint off;
  if(dirlookup(dp, name, &off) != 0)
    return -1;
  return writeent(dp, off, name, inum);
}

// Clear the entry at offset off of dp (locked), as found by dirlookup(). 0, or -1.
int
dirremove(struct inode *dp, uint off)
{
  return writeent(dp, off, "", 0);
}

// Does directory dp (locked) hold nothing but "." and ".."? Those are its first two entries.
int
isdirempty(struct inode *dp)
{
  struct dirent de;
  for(uint off = 2 * sizeof(de); readent(dp, off, &de) == 0; off += sizeof(de))
    if(de.inum != 0)
      return 0;
  return 1;
}

// Split the first element off path: copy it to name and return the rest of path after the
// slashes that follow it, or return 0 if path has no element left. name gets at most DIRSIZ
// bytes, NUL-terminated only if shorter, the way a dirent stores it: longer elements are cut.
// For example "usr//bin/" yields "usr" and returns "bin/", which yields "bin" and returns "".
static char*
skipelem(char *path, char *name)
{
  while(*path == '/')
    path++;
  if(*path == 0)
    return 0;
  char *end = path;
  while(*end != '/' && *end != 0)
    end++;
  uint len = end - path;
  memmove(name, path, MIN(len, DIRSIZ));
  if(len < DIRSIZ)
    name[len] = 0;
  while(*end == '/')
    end++;
  return end;
}

// One step of a walk: the inode that name has in dir, referenced and unlocked; or 0 if dir is
// not a directory with a name, has no such entry, or the inode table is full. Uses up the
// reference to dir. A removed directory leads nowhere, not even through "." or "..": its ".."
// may name a directory freed since, its inode number perhaps reused.
static struct inode*
descend(struct inode *dir, char *name)
{
  struct inode *next = 0;
  ilock(dir);
  if(dir->type == T_DIR && dir->nlink > 0){
    uint inum = dirlookup(dir, name, 0);
    if(inum != 0)
      next = iget(dir->dev, inum);   // while dir is locked: see dirlookup()
  }
  iunlockput(dir);                   // before anyone locks next, which may be dir's parent
  return next;
}

// Follow path, from the root ("/...") or the current directory, to the directory its last
// element is in. Returns it referenced and unlocked, with that element in name (DIRSIZ bytes),
// or with name[0] == 0 if path has no element ("/"); 0 if path is empty or leads nowhere.
// Inside a transaction, since a failed step iput()s.
static struct inode*
walkdirs(char *path, char *name)
{
  if(*path == 0)
    return 0;
  struct inode *dir = (*path == '/') ? iget(ROOTDEV, ROOTINO) : idup(myproc()->cwd);
  name[0] = 0;
  char *rest = skipelem(path, name);
  while(dir != 0 && rest != 0 && *rest != 0){
    dir = descend(dir, name);
    rest = skipelem(rest, name);
  }
  return dir;
}

// The inode path names, referenced and unlocked, or 0.
struct inode*
namei(char *path)
{
  char name[DIRSIZ];
  struct inode *dir = walkdirs(path, name);
  if(dir == 0 || name[0] == 0)
    return dir;
  return descend(dir, name);
}

// The inode that holds (or would hold) path's last element, referenced and unlocked, with the
// element copied to name; 0 if path has no last element. The caller checks, under the inode's
// lock, that it is a directory with a name: both may change until then.
struct inode*
nameiparent(char *path, char *name)
{
  struct inode *dir = walkdirs(path, name);
  if(dir != 0 && name[0] == 0){
    iput(dir);
    return 0;
  }
  return dir;
}

// A file unlinked while open keeps its inode, with nlink 0, until its last close. A crash
// before that close leaves the inode allocated with nothing to free it. At mount nothing is
// open, so every allocated inode with nlink 0 is such an orphan: free each, in its own
// transaction, through the usual last iput().
static void
reclaim_orphans(uint dev)
{
  int n = 0;
  for(uint inum = 1; inum < sb.ninodes; inum++){
    struct buf *bp = bread(dev, IBLOCK(inum, sb));
    struct dinode *dip = dinode_in(bp, inum);
    int orphan = dip->type != 0 && dip->nlink == 0;
    brelse(bp);
    if(!orphan)
      continue;
    begin_op();
    struct inode *ip = iget(dev, inum);   // the table is empty at mount: cannot fail
    ilock(ip);                            // iput() frees only a loaded inode
    iunlockput(ip);
    end_op();
    n++;
  }
  if(n > 0)
    printf("fs: reclaimed %d orphaned inode%s\n", n, n == 1 ? "" : "s");
}

// Mount the file system on dev: check the superblock, recover the log, reclaim orphaned
// inodes. Runs in the first process, since it sleeps on the disk.
void
fsinit(int dev)
{
  struct buf *bp = bread(dev, 1);
  memmove(&sb, bp->data, sizeof(sb));
  brelse(bp);
  if(sb.magic != FSMAGIC)
    panic("fsinit: disk is not our file system (bad superblock magic); build fs.img with mkfs");
  if(sb.ninodes == 0 || sb.size == 0 || sb.bmapstart >= sb.size || sb.inodestart >= sb.size)
    panic("fsinit: superblock is inconsistent; rebuild fs.img with mkfs");
  initlog(dev, &sb);
  reclaim_orphans(dev);
}
