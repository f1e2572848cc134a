// Compile-time limits of the kernel. User programs see the same values.
#ifndef XV6_PARAM_H
#define XV6_PARAM_H

#define NPROC        64  // maximum number of processes
#define NCPU          8  // maximum number of harts (hart ids must be < NCPU)
#define NOFILE       16  // open files per process
#define NFILE       100  // open files per system
#define NINODE       50  // maximum number of in-memory inodes
#define NDEV         10  // maximum major device number
#define ROOTDEV       1  // device number of the file system root disk
#define MAXARG       32  // max exec arguments
#define MAXOPBLOCKS  10  // max # of blocks any FS op writes
#define LOGBLOCKS    (MAXOPBLOCKS*3)  // max data blocks in on-disk log
#define NBUF         (LOGBLOCKS + 2*NCPU)  // buffer cache: the whole log pinned, plus room to work
#define FSSIZE       2000  // size of file system in blocks
#define MAXPATH      128   // maximum file path name
#define USERSTACK    1     // user stack pages
#define TICKHZ       100   // timer ticks per second: uptime() and pause(n) count 10 ms ticks

// How sys_sbrk() grows memory: allocate now, or on first touch.
#define SBRK_EAGER   1
#define SBRK_LAZY    2

#endif
