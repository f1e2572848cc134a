// mkfs: host program that builds a file-system image for the kernel.
// Usage: mkfs fs.img file...  -- each file goes into / under its base name, a leading '_' removed.
//
// Layout (kernel/fs.h): boot block, superblock, log (header + LOGBLOCKS), inode blocks,
// free bitmap, data. All on-disk integers are little-endian, whatever the host.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <stdarg.h>

#include "kernel/types.h"
#include "kernel/fs.h"
#include "kernel/stat.h"
#include "kernel/param.h"

#define NINODES 200

// Region sizes in blocks.
#define NBITMAP   ((int)(FSSIZE / BPB + 1))
#define NINODEBLK ((int)(NINODES / IPB + 1))
#define NLOG      (LOGBLOCKS + 1)               // header + data blocks
#define NMETA     (2 + NLOG + NINODEBLK + NBITMAP)  // boot + superblock + the rest
#define NDATA     (FSSIZE - NMETA)

// The on-disk structures must have the sizes the kernel assumes.
_Static_assert(sizeof(struct dinode) == 64, "dinode size");
_Static_assert(sizeof(struct dirent) == 16, "dirent size");
_Static_assert(BSIZE % sizeof(struct dinode) == 0, "dinodes per block");
_Static_assert(NMETA < FSSIZE, "FSSIZE too small for the metadata");

static FILE *img;
static const char *imgname;
static struct superblock sb;
static uint freeinode = 1;    // next inode number to hand out
static uint freeblock;        // next data block to hand out

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "mkfs: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  if(img){
    fclose(img);
    remove(imgname);     // never leave a half-built image behind
  }
  exit(1);
}

// Host <-> little-endian conversions.
static ushort
xshort(ushort x)
{
  uchar b[2] = { x & 0xff, x >> 8 };
  ushort y;
  memcpy(&y, b, 2);
  return y;
}

static uint
xint(uint x)
{
  uchar b[4] = { x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff, x >> 24 };
  uint y;
  memcpy(&y, b, 4);
  return y;
}

// The conversions are their own inverses.
#define le2host_short xshort
#define le2host_int   xint

static void
wsect(uint sec, const void *buf)
{
  if(sec >= FSSIZE)
    die("internal error: block %u beyond the image", sec);
  if(fseek(img, (long)sec * BSIZE, SEEK_SET) != 0 || fwrite(buf, BSIZE, 1, img) != 1)
    die("write to %s failed", imgname);
}

static void
rsect(uint sec, void *buf)
{
  if(sec >= FSSIZE)
    die("internal error: block %u beyond the image", sec);
  if(fseek(img, (long)sec * BSIZE, SEEK_SET) != 0 || fread(buf, BSIZE, 1, img) != 1)
    die("read from %s failed", imgname);
}

static void
winode(uint inum, const struct dinode *ip)
{
  uchar buf[BSIZE];
  uint bn = IBLOCK(inum, sb);
  rsect(bn, buf);
  memcpy((struct dinode *)buf + inum % IPB, ip, sizeof(*ip));
  wsect(bn, buf);
}

static void
rinode(uint inum, struct dinode *ip)
{
  uchar buf[BSIZE];
  rsect(IBLOCK(inum, sb), buf);
  memcpy(ip, (struct dinode *)buf + inum % IPB, sizeof(*ip));
}

static uint
ialloc(ushort type)
{
  if(freeinode >= NINODES)
    die("out of inodes (the image holds %d)", NINODES);
  uint inum = freeinode++;
  struct dinode din;
  memset(&din, 0, sizeof(din));
  din.type = xshort(type);
  din.nlink = xshort(1);
  din.size = xint(0);
  winode(inum, &din);
  return inum;
}

// Hand out the next data block. Blocks are never freed, so allocation is a bump pointer;
// balloc_finish() records them in the bitmap at the end.
static uint
balloc(const char *what)
{
  if(freeblock >= FSSIZE)
    die("out of disk blocks while adding %s; raise FSSIZE", what);
  return freeblock++;
}

// Mark every block below freeblock as in use.
static void
balloc_finish(void)
{
  uchar buf[BSIZE];
  for(uint bn = 0; bn < NBITMAP; bn++){
    memset(buf, 0, sizeof(buf));
    for(uint i = 0; i < BPB; i++){
      uint b = bn * BPB + i;
      if(b < freeblock)
        buf[i / 8] |= 1 << (i % 8);
    }
    wsect(sb.bmapstart + bn, buf);
  }
}

// The disk block that holds file block fbn of din, allocated on first use: the first NDIRECT
// file blocks are named in din itself, the rest in its single indirect block.
static uint
block_for(struct dinode *din, uint fbn, const char *what)
{
  if(fbn >= MAXFILE)
    die("%s is larger than the largest file (%d blocks)", what, (int)MAXFILE);
  if(fbn < NDIRECT){
    if(din->addrs[fbn] == 0)
      din->addrs[fbn] = xint(balloc(what));
    return le2host_int(din->addrs[fbn]);
  }

  if(din->addrs[NDIRECT] == 0)
    din->addrs[NDIRECT] = xint(balloc(what));
  uint ib = le2host_int(din->addrs[NDIRECT]);
  uint table[NINDIRECT];
  rsect(ib, table);
  uint *entry = &table[fbn - NDIRECT];
  if(*entry == 0){
    *entry = xint(balloc(what));
    wsect(ib, table);
  }
  return le2host_int(*entry);
}

// Replace len bytes of disk block bn, starting at byte off, with src.
static void
patch_block(uint bn, uint off, const void *src, uint len)
{
  uchar buf[BSIZE];
  rsect(bn, buf);
  memcpy(buf + off, src, len);
  wsect(bn, buf);
}

// Append n bytes to inode inum. what names the file in error messages.
static void
iappend(uint inum, const void *data, uint n, const char *what)
{
  const char *src = data;
  struct dinode din;

  rinode(inum, &din);
  uint size = le2host_int(din.size);
  for(uint done = 0; done < n; ){
    uint off = size + done;              // file offset of the next byte
    uint room = BSIZE - off % BSIZE;     // left in its block
    uint m = n - done < room ? n - done : room;
    patch_block(block_for(&din, off / BSIZE, what), off % BSIZE, src + done, m);
    done += m;
  }
  din.size = xint(size + n);
  winode(inum, &din);
}

static void
add_dirent(uint dir, uint inum, const char *name)
{
  struct dirent de;
  memset(&de, 0, sizeof(de));
  de.inum = xshort(inum);
  strncpy(de.name, name, DIRSIZ);   // DIRSIZ-long names are stored without a NUL
  iappend(dir, &de, sizeof(de), "the root directory");
}

// Is there already an entry called name in directory dir?
static int
dir_has(uint dir, const char *name)
{
  struct dinode din;
  uchar buf[BSIZE];

  rinode(dir, &din);
  uint size = le2host_int(din.size);
  for(uint off = 0; off < size; off += sizeof(struct dirent)){
    uint fbn = off / BSIZE;
    if(fbn >= NDIRECT)
      break;     // mkfs only ever builds a small root directory
    rsect(le2host_int(din.addrs[fbn]), buf);
    struct dirent *de = (struct dirent *)(buf + off % BSIZE);
    if(le2host_short(de->inum) != 0 && strncmp(de->name, name, DIRSIZ) == 0)
      return 1;
  }
  return 0;
}

// Name under which path is stored: its last component, without one leading '_'.
static const char *
entry_name(const char *path)
{
  const char *s = strrchr(path, '/');
  s = s ? s + 1 : path;
  if(*s == '_')
    s++;
  if(*s == 0)
    die("%s: empty file name", path);
  if(strlen(s) > DIRSIZ)
    die("%s: name longer than DIRSIZ (%d) characters", path, DIRSIZ);
  if(strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
    die("%s: reserved name", path);
  return s;
}

static void
add_file(uint rootino, const char *path)
{
  const char *name = entry_name(path);
  if(dir_has(rootino, name))
    die("%s: duplicate name in the root directory", path);

  FILE *f = fopen(path, "rb");
  if(f == 0)
    die("cannot read input file %s: %s", path, strerror(errno));

  uint inum = ialloc(T_FILE);
  add_dirent(rootino, inum, name);

  char buf[BSIZE];
  size_t n;
  while((n = fread(buf, 1, sizeof(buf), f)) > 0)
    iappend(inum, buf, n, path);
  if(ferror(f)){
    fclose(f);
    die("error reading %s", path);
  }
  fclose(f);
}

static void
write_superblock(void)
{
  uchar buf[BSIZE];
  struct superblock d;
  d.magic = xint(FSMAGIC);
  d.size = xint(FSSIZE);
  d.nblocks = xint(NDATA);
  d.ninodes = xint(NINODES);
  d.nlog = xint(NLOG);
  d.logstart = xint(sb.logstart);
  d.inodestart = xint(sb.inodestart);
  d.bmapstart = xint(sb.bmapstart);
  memset(buf, 0, sizeof(buf));
  memcpy(buf, &d, sizeof(d));
  wsect(1, buf);
}

int
main(int argc, char *argv[])
{
  if(argc < 2){
    fprintf(stderr, "usage: mkfs fs.img files...\n");
    return 1;
  }
  if(NBITMAP * BPB < FSSIZE)
    die("internal error: bitmap too small");

  imgname = argv[1];
  img = fopen(imgname, "w+b");
  if(img == 0){
    fprintf(stderr, "mkfs: %s: %s\n", imgname, strerror(errno));
    return 1;
  }

  // Region boundaries, kept in host order here; write_superblock() converts.
  sb.magic = FSMAGIC;
  sb.size = FSSIZE;
  sb.nblocks = NDATA;
  sb.ninodes = NINODES;
  sb.nlog = NLOG;
  sb.logstart = 2;
  sb.inodestart = 2 + NLOG;
  sb.bmapstart = 2 + NLOG + NINODEBLK;
  freeblock = NMETA;

  printf("mkfs: %d blocks: %d meta (boot, super, log %d, inode %d, bitmap %d), "
         "%d data; %d inodes\n",
         FSSIZE, NMETA, NLOG, NINODEBLK, NBITMAP, NDATA, NINODES);

  uchar zero[BSIZE];
  memset(zero, 0, sizeof(zero));
  for(uint i = 0; i < FSSIZE; i++)
    wsect(i, zero);
  write_superblock();

  uint rootino = ialloc(T_DIR);
  if(rootino != ROOTINO)
    die("internal error: root inode is not ROOTINO");
  add_dirent(rootino, rootino, ".");
  add_dirent(rootino, rootino, "..");

  for(int i = 2; i < argc; i++)
    add_file(rootino, argv[i]);

  balloc_finish();

  if(fflush(img) != 0 || fclose(img) != 0){
    img = 0;
    remove(imgname);
    fprintf(stderr, "mkfs: writing %s failed\n", imgname);
    return 1;
  }
  img = 0;
  return 0;
}
