// File-system system calls: argument checking, file descriptors, and the multi-step operations
// (open/create, link, unlink, mkdir, mknod, chdir, pipe, exec's argument copying).
// Every call that may change the disk brackets its work with begin_op/end_op.

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
#include "kernel/param.h"
#include "kernel/stat.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/fs.h"
#include "kernel/sleeplock.h"
#include "kernel/file.h"
#include "kernel/fcntl.h"

// Most links an inode may have; nlink is a short on disk.
#define MAXNLINK 32767

// Fetch argument n as a file descriptor of the current process.
// Returns 0 and sets *pfd / *pf (either may be null), or -1 if fd is out of range or not open.
static int
argfd(int n, int *pfd, struct file **pf)
{
  int fd;
  struct file *f;

  argint(n, &fd);
  if(fd < 0 || fd >= NOFILE || (f = myproc()->ofile[fd]) == 0)
    return -1;
  if(pfd)
    *pfd = fd;
  if(pf)
    *pf = f;
  return 0;
}

// Give f the lowest free descriptor of the current process; -1 if none.
// On success the descriptor owns the caller's reference to f.
static int
fdalloc(struct file *f)
{
  struct proc *p = myproc();
  for(int fd = 0; fd < NOFILE; fd++){
    if(p->ofile[fd] == 0){
      p->ofile[fd] = f;
      return fd;
    }
  }
  return -1;
}

// Is [addr, addr+n) entirely below MAXVA? Catches absurd pointers before any side effect;
// copyin/copyout still check that every page is mapped and user-accessible.
static int
user_range_ok(uint64 addr, int n)
{
  return n >= 0 && addr < MAXVA && (uint64)n <= MAXVA - addr;
}

uint64
sys_dup(void)
{
  struct file *f;
  int fd;

  if(argfd(0, 0, &f) < 0)
    return -1;
  if((fd = fdalloc(f)) < 0)
    return -1;
  filedup(f);
  return fd;
}

uint64
sys_read(void)
{
  struct file *f;
  int n;
  uint64 p;

  argaddr(1, &p);
  argint(2, &n);
  if(argfd(0, 0, &f) < 0 || !user_range_ok(p, n))
    return -1;
  return fileread(f, p, n);
}

uint64
sys_write(void)
{
  struct file *f;
  int n;
  uint64 p;

  argaddr(1, &p);
  argint(2, &n);
  if(argfd(0, 0, &f) < 0 || !user_range_ok(p, n))
    return -1;
  return filewrite(f, p, n);
}

uint64
sys_close(void)
{
  int fd;
  struct file *f;

  if(argfd(0, &fd, &f) < 0)
    return -1;
  myproc()->ofile[fd] = 0;
  fileclose(f);
  return 0;
}

uint64
sys_fstat(void)
{
  struct file *f;
  uint64 st;

  argaddr(1, &st);
  if(argfd(0, 0, &f) < 0 || !user_range_ok(st, sizeof(struct stat)))
    return -1;
  return filestat(f, st);
}

// Create the path new as a link to the same inode as old (not a directory).
uint64
sys_link(void)
{
  char name[DIRSIZ], new[MAXPATH], old[MAXPATH];
  struct inode *dp, *ip;

  if(argstr(0, old, MAXPATH) < 0 || argstr(1, new, MAXPATH) < 0)
    return -1;

  begin_op();
  if((ip = namei(old)) == 0){
    end_op();
    return -1;
  }

  ilock(ip);
  if(ip->type == T_DIR || ip->nlink >= MAXNLINK){
    iunlockput(ip);
    end_op();
    return -1;
  }
  // Count the link first: a crash between the two steps leaves nlink too high,
  // which wastes an inode, rather than too low, which would free a named inode.
  ip->nlink++;
  iupdate(ip);
  iunlock(ip);

  if((dp = nameiparent(new, name)) == 0)
    goto bad;
  ilock(dp);
  if(dp->dev != ip->dev || dirlink(dp, name, ip->inum) < 0){
    iunlockput(dp);
    goto bad;
  }
  iunlockput(dp);
  iput(ip);
  end_op();
  return 0;

bad:
  ilock(ip);
  ip->nlink--;
  iupdate(ip);
  iunlockput(ip);
  end_op();
  return -1;
}

// Is directory dp (locked) empty apart from "." and ".."? A read error counts as not empty.
static int
isdirempty(struct inode *dp)
{
  struct dirent de;

  for(uint off = 2 * sizeof(de); off + sizeof(de) <= dp->size; off += sizeof(de)){
    if(readi(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de))
      return 0;
    if(de.inum != 0)
      return 0;
  }
  return 1;
}

uint64
sys_unlink(void)
{
  struct inode *ip, *dp;
  struct dirent de;
  char name[DIRSIZ], path[MAXPATH];
  uint off;

  if(argstr(0, path, MAXPATH) < 0)
    return -1;

  begin_op();
  if((dp = nameiparent(path, name)) == 0){
    end_op();
    return -1;
  }

  ilock(dp);

  // "." and ".." are not links that can be removed.
  if(namecmp(name, ".") == 0 || namecmp(name, "..") == 0)
    goto bad;

  if((ip = dirlookup(dp, name, &off)) == 0)
    goto bad;
  ilock(ip);

  if(ip->nlink < 1 || (ip->type == T_DIR && !isdirempty(ip))){
    iunlockput(ip);
    goto bad;
  }

  memset(&de, 0, sizeof(de));
  if(writei(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de)){
    iunlockput(ip);
    goto bad;
  }
  if(ip->type == T_DIR){
    dp->nlink--;     // the child's ".." no longer names dp
    iupdate(dp);
  }
  iunlockput(dp);

  ip->nlink--;
  iupdate(ip);
  iunlockput(ip);     // frees the inode if this was the last name and it is not open

  end_op();
  return 0;

bad:
  iunlockput(dp);
  end_op();
  return -1;
}

// Create path as a new inode of the given type and return it locked and referenced, or 0.
// Opening an existing file with O_CREATE is fine: an existing T_FILE or T_DEVICE is returned
// when a T_FILE is asked for. Must be called inside a transaction.
static struct inode*
create(char *path, short type, short major, short minor)
{
  struct inode *ip, *dp;
  char name[DIRSIZ];

  if((dp = nameiparent(path, name)) == 0)
    return 0;

  ilock(dp);

  if((ip = dirlookup(dp, name, 0)) != 0){
    iunlockput(dp);
    ilock(ip);
    if(type == T_FILE && (ip->type == T_FILE || ip->type == T_DEVICE))
      return ip;
    iunlockput(ip);
    return 0;
  }

  // A directory that was removed while someone still had it as cwd takes no new entries:
  // they would be unreachable and leak their inodes.
  if(dp->nlink < 1 || (type == T_DIR && dp->nlink >= MAXNLINK)){
    iunlockput(dp);
    return 0;
  }

  if((ip = ialloc(dp->dev, type)) == 0){
    iunlockput(dp);
    return 0;
  }

  ilock(ip);
  ip->major = major;
  ip->minor = minor;
  ip->nlink = 1;
  iupdate(ip);

  if(type == T_DIR){
    // "." is not counted in nlink, so that a directory's nlink is the number of names
    // for it plus its subdirectories' "..".
    if(dirlink(ip, ".", ip->inum) < 0 || dirlink(ip, "..", dp->inum) < 0)
      goto fail;
  }

  if(dirlink(dp, name, ip->inum) < 0)
    goto fail;

  if(type == T_DIR){
    // Only now that nothing can fail: the child's ".." names dp.
    dp->nlink++;
    iupdate(dp);
  }

  iunlockput(dp);
  return ip;

fail:
  // Undo the allocation: with nlink 0, iput frees the inode and any blocks it got.
  ip->nlink = 0;
  iupdate(ip);
  iunlockput(ip);
  iunlockput(dp);
  return 0;
}

// Open (and with O_CREATE, create) the file at path, returning the new descriptor, or -1.
static int
open_inode(char *path, int omode)
{
  struct inode *ip;
  struct file *f;
  int fd;

  if(omode & O_CREATE){
    if((ip = create(path, T_FILE, 0, 0)) == 0)
      return -1;
  } else {
    if((ip = namei(path)) == 0)
      return -1;
    ilock(ip);
    if(ip->type == T_DIR && omode != O_RDONLY){
      iunlockput(ip);
      return -1;
    }
  }

  if(ip->type == T_DEVICE && (ip->major < 0 || ip->major >= NDEV)){
    iunlockput(ip);
    return -1;
  }

  if((f = filealloc()) == 0){
    iunlockput(ip);
    return -1;
  }
  if((fd = fdalloc(f)) < 0){
    fileclose(f);      // still FD_NONE: only frees the slot
    iunlockput(ip);
    return -1;
  }

  if(ip->type == T_DEVICE){
    f->type = FD_DEVICE;
    f->major = ip->major;
  } else {
    f->type = FD_INODE;
    f->off = 0;
  }
  f->ip = ip;
  f->readable = !(omode & O_WRONLY);
  f->writable = (omode & O_WRONLY) || (omode & O_RDWR);

  if((omode & O_TRUNC) && ip->type == T_FILE)
    itrunc(ip);

  iunlock(ip);
  return fd;
}

uint64
sys_open(void)
{
  char path[MAXPATH];
  int omode;

  argint(1, &omode);
  if(argstr(0, path, MAXPATH) < 0)
    return -1;

  begin_op();
  int fd = open_inode(path, omode);
  end_op();
  return fd;
}

uint64
sys_mkdir(void)
{
  char path[MAXPATH];
  struct inode *ip;

  if(argstr(0, path, MAXPATH) < 0)
    return -1;
  begin_op();
  if((ip = create(path, T_DIR, 0, 0)) == 0){
    end_op();
    return -1;
  }
  iunlockput(ip);
  end_op();
  return 0;
}

uint64
sys_mknod(void)
{
  struct inode *ip;
  char path[MAXPATH];
  int major, minor;

  argint(1, &major);
  argint(2, &minor);
  if(argstr(0, path, MAXPATH) < 0)
    return -1;
  if(major < 0 || major >= NDEV || minor < 0 || minor > 0x7fff)
    return -1;

  begin_op();
  if((ip = create(path, T_DEVICE, major, minor)) == 0){
    end_op();
    return -1;
  }
  iunlockput(ip);
  end_op();
  return 0;
}

uint64
sys_chdir(void)
{
  char path[MAXPATH];
  struct inode *ip;
  struct proc *p = myproc();

  if(argstr(0, path, MAXPATH) < 0)
    return -1;
  begin_op();
  if((ip = namei(path)) == 0){
    end_op();
    return -1;
  }
  ilock(ip);
  if(ip->type != T_DIR){
    iunlockput(ip);
    end_op();
    return -1;
  }
  iunlock(ip);
  iput(p->cwd);       // may free a removed directory: inside the transaction
  end_op();
  p->cwd = ip;
  return 0;
}

// Free the kalloc'd argument strings of argv, which is null-terminated or full.
static void
free_args(char **argv, int max)
{
  for(int i = 0; i < max && argv[i] != 0; i++)
    kfree(argv[i]);
}

uint64
sys_exec(void)
{
  char path[MAXPATH], *argv[MAXARG];
  uint64 uargv, uarg;
  int ret = -1;

  argaddr(1, &uargv);
  if(argstr(0, path, MAXPATH) < 0)
    return -1;

  memset(argv, 0, sizeof(argv));
  // At most MAXARG-1 strings, so that argv always ends with a null pointer.
  for(int i = 0; ; i++){
    if(i >= NELEM(argv))
      goto out;
    if(fetchaddr(uargv + sizeof(uint64) * i, &uarg) < 0)
      goto out;
    if(uarg == 0)
      break;
    if((argv[i] = kalloc()) == 0)
      goto out;
    if(fetchstr(uarg, argv[i], PGSIZE) < 0)
      goto out;
  }

  ret = exec(path, argv);

out:
  free_args(argv, NELEM(argv));
  return ret;
}

uint64
sys_pipe(void)
{
  uint64 fdarray;   // user pointer to an array of two ints
  struct file *rf, *wf;
  int fd0, fd1;
  struct proc *p = myproc();

  argaddr(0, &fdarray);
  if(!user_range_ok(fdarray, 2 * sizeof(int)))
    return -1;
  if(pipealloc(&rf, &wf) < 0)
    return -1;
  fd0 = -1;
  if((fd0 = fdalloc(rf)) < 0 || (fd1 = fdalloc(wf)) < 0){
    if(fd0 >= 0)
      p->ofile[fd0] = 0;
    fileclose(rf);
    fileclose(wf);
    return -1;
  }
  if(copyout(p->pagetable, fdarray, (char*)&fd0, sizeof(fd0)) < 0 ||
     copyout(p->pagetable, fdarray + sizeof(fd0), (char *)&fd1, sizeof(fd1)) < 0){
    p->ofile[fd0] = 0;
    p->ofile[fd1] = 0;
    fileclose(rf);
    fileclose(wf);
    return -1;
  }
  return 0;
}
