// On-disk file system format, shared by the kernel and mkfs.
//
// Disk layout, in BSIZE blocks:
//   [ boot | superblock | log header + log | inodes | free bitmap | data ... ]
// mkfs computes the region boundaries and records them in the superblock.
#ifndef XV6_FS_H
#define XV6_FS_H

#define ROOTINO  1   // inode number of the root directory
#define BSIZE 1024   // block size in bytes

struct superblock {
  uint magic;        // FSMAGIC
  uint size;         // image size in blocks
  uint nblocks;      // number of data blocks
  uint ninodes;      // number of inodes
  uint nlog;         // number of log blocks (header included)
  uint logstart;     // first log block
  uint inodestart;   // first inode block
  uint bmapstart;    // first free-bitmap block
};

#define FSMAGIC 0x10203040

#define NDIRECT 12
#define NINDIRECT (BSIZE / sizeof(uint))
#define MAXFILE (NDIRECT + NINDIRECT)

// An inode as stored on disk.
struct dinode {
  short type;               // T_DIR, T_FILE, T_DEVICE; 0 means free
  short major;              // device number (T_DEVICE only)
  short minor;
  short nlink;              // directory entries that name this inode
  uint size;                // bytes of content
  uint addrs[NDIRECT+1];    // NDIRECT direct blocks, then one indirect block
};

#define IPB           (BSIZE / sizeof(struct dinode))      // inodes per block
#define IBLOCK(i, sb) ((i) / IPB + (sb).inodestart)        // the block holding inode i
#define BPB           (BSIZE * 8)                          // bitmap bits per block
#define BBLOCK(b, sb) ((b) / BPB + (sb).bmapstart)         // the bitmap block for block b

// A directory is a file holding a sequence of dirent structures.
#define DIRSIZ 14
struct dirent {
  ushort inum;              // 0 marks a free slot
  char name[DIRSIZ];        // not NUL-terminated when DIRSIZ long
};

#endif
