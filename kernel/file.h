// The kernel's side of files: open files, in-memory inodes (fs.h has the disk's layout), and
// the device switch that hands reads and writes of device files to their drivers.
#ifndef XV6_FILE_H
#define XV6_FILE_H

// An open file: what one open() or one end of a pipe() made, shared by every descriptor
// dup()ed or inherited from it. ftable.lock (file.c) guards ref. The opener fills in the
// rest before anyone else can see the file, and only off changes later, under ip's lock.
struct file {
  enum { FD_NONE, FD_PIPE, FD_INODE, FD_DEVICE } type;
  int ref;               // descriptors, in any process, that refer to this file
  char readable;         // what open()'s mode allowed
  char writable;
  struct pipe *pipe;     // FD_PIPE: the pipe this is one end of
  struct inode *ip;      // FD_INODE, FD_DEVICE: the inode opened
  uint off;              // FD_INODE: where the next read or write starts
  short major;           // FD_DEVICE: the driver, an index into devsw[]
};

// An inode in memory: a slot of fs.c's itable. itable.lock guards dev, inum and ref; lock
// guards the rest. The fields from type on are the disk inode's (struct dinode), and mean
// something only while valid.
struct inode {
  uint dev;
  uint inum;
  int ref;               // pointers to the slot: open files, cwds, system calls under way
  struct sleeplock lock;
  int valid;             // has ilock() read the disk inode since iget()?

  short type;            // T_DIR, T_FILE or T_DEVICE (stat.h)
  short major;           // T_DEVICE: driver and unit
  short minor;
  short nlink;           // directory entries naming this inode
  uint size;             // bytes of content
  uint addrs[NDIRECT+1]; // block addresses: NDIRECT data blocks, then the indirect block
};

// A driver's entry points, by major number. addr is a user virtual address when user_dst
// (user_src) is 1, else a kernel address. Both return the bytes moved, or -1.
struct devsw {
  int (*read)(int user_dst, uint64 addr, int n);
  int (*write)(int user_src, uint64 addr, int n);
};

extern struct devsw devsw[];

#define CONSOLE 1        // the console's major number

#endif
