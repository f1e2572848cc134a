// System calls on files: the descriptor calls (dup, read, write, close, fstat, pipe) and the
// path calls (open, mkdir, mknod, link, unlink, chdir, exec). A path call checks its arguments,
// then does all its work in one transaction, so a crash keeps all of it or none; the work is a
// helper below that may return early. Inode locks follow the order at the top of fs.c.

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

// Most links an inode may have: nlink is a short on disk.
#define MAXNLINK 32767

// The open file that argument n names as a descriptor of the current process, or 0 if none
// does; the descriptor goes to *pfd unless pfd is 0.
static struct file*
fdarg(int n, int *pfd)
{
  int fd;
  argint(n, &fd);
  struct file *f = (fd >= 0 && fd < NOFILE) ? myproc()->ofile[fd] : 0;
  if(pfd != 0)
    *pfd = fd;
  return f;
}

// Is [addr, addr+n) below MAXVA? Catches absurd pointers before any side effect; copyin and
// copyout still check every page.
static int
user_range_ok(uint64 addr, int n)
{
  return n >= 0 && addr < MAXVA && (uint64)n <= MAXVA - addr;
}

// The lowest free descriptor of the current process, now owning the caller's reference to f;
// -1 if all NOFILE are in use.
static int
fdalloc(struct file *f)
{
  struct proc *p = myproc();
  int fd = 0;
  while(fd < NOFILE && p->ofile[fd] != 0)
    fd++;
  if(fd == NOFILE)
    return -1;
  p->ofile[fd] = f;
  return fd;
}

// read() and write(): a descriptor, a buffer, a byte count.
static uint64
fileio(int writing)
{
  struct file *f = fdarg(0, 0);
  uint64 addr;
  int n;
  argaddr(1, &addr);
  argint(2, &n);
  if(f == 0 || !user_range_ok(addr, n))
    return -1;
  return writing ? filewrite(f, addr, n) : fileread(f, addr, n);
}

uint64
sys_read(void)
{
  return fileio(0);
}

uint64
sys_write(void)
{
  return fileio(1);
}

// dup(fd): a second descriptor for fd's file, sharing its offset.
uint64
sys_dup(void)
{
  struct file *f = fdarg(0, 0);
  int newfd = (f != 0) ? fdalloc(f) : -1;
  if(newfd >= 0)
    filedup(f);           // the reference newfd owns
  return newfd;
}

// close(fd): the descriptor is free at once; the file closes with its last reference.
uint64
sys_close(void)
{
  int fd;
  struct file *f = fdarg(0, &fd);
  if(f != 0){
    myproc()->ofile[fd] = 0;
    fileclose(f);
  }
  return f != 0 ? 0 : -1;
}

uint64
sys_fstat(void)
{
  struct file *f = fdarg(0, 0);
  uint64 st;
  argaddr(1, &st);
  if(f == 0 || !user_range_ok(st, sizeof(struct stat)))
    return -1;
  return filestat(f, st);
}

// pipe(int fds[2]): fds[0] the read end, fds[1] the write end.
uint64
sys_pipe(void)
{
  uint64 ufds;
  struct file *rf, *wf;
  struct proc *p = myproc();

  argaddr(0, &ufds);
  if(!user_range_ok(ufds, 2 * sizeof(int)) || pipealloc(&rf, &wf) < 0)
    return -1;
  int fds[2] = { fdalloc(rf), -1 };
  if(fds[0] >= 0)
    fds[1] = fdalloc(wf);
  if(fds[1] >= 0 && copyout(p->pagetable, ufds, (char*)fds, sizeof(fds)) == 0)
    return 0;
  // The program never learned the descriptors: take them back and close both ends.
  for(int i = 0; i < 2; i++)
    if(fds[i] >= 0)
      p->ofile[fds[i]] = 0;
  fileclose(rf);
  fileclose(wf);
  return -1;
}

// Is ip a directory? Locks ip briefly; the type of a referenced inode cannot change.
static int
isdir(struct inode *ip)
{
  ilock(ip);
  int r = ip->type == T_DIR;
  iunlock(ip);
  return r;
}

// The directory that holds (or would hold) path's last element, locked, with the element in
// name; or 0. Not a removed directory (nlink 0): entries made in it could never be reached.
static struct inode*
lockparent(char *path, char *name)
{
  struct inode *dp = nameiparent(path, name);
  if(dp == 0)
    return 0;
  ilock(dp);
  if(dp->type != T_DIR || dp->nlink == 0){
    iunlockput(dp);
    return 0;
  }
  return dp;
}

// Make a new inode of the given type called name in dp (locked, live, no entry called name).
// Returns it locked and referenced, or 0 with nothing changed.
static struct inode*
newinode(struct inode *dp, char *name, short type, short major, short minor)
{
  if(type == T_DIR && dp->nlink >= MAXNLINK)
    return 0;                 // the new directory's ".." would be one link too many
  struct inode *ip = ialloc(dp->dev, type);
  if(ip == 0)
    return 0;
  ilock(ip);
  ip->major = major;
  ip->minor = minor;
  ip->nlink = 1;
  iupdate(ip);
  // A directory's "." and ".." do not count in its own nlink; ".." counts in dp's, below.
  int dirok = type != T_DIR ||
              (dirlink(ip, ".", ip->inum) == 0 && dirlink(ip, "..", dp->inum) == 0);
  if(!dirok || dirlink(dp, name, ip->inum) < 0){
    // Give it back: with no links, the last iput() frees the inode and any block it got.
    ip->nlink = 0;
    iupdate(ip);
    iunlockput(ip);
    return 0;
  }
  if(type == T_DIR){
    dp->nlink++;              // for ip's ".."
    iupdate(dp);
  }
  return ip;
}

// Make path a new inode of the given type and return it locked and referenced, or 0. For
// open(O_CREATE), type T_FILE, an existing file or device node is returned instead.
static struct inode*
create(char *path, short type, short major, short minor)
{
  char name[DIRSIZ];
  struct inode *dp = lockparent(path, name);
  if(dp == 0)
    return 0;
  uint inum = dirlookup(dp, name, 0);
  if(inum == 0){
    struct inode *ip = newinode(dp, name, type, major, minor);
    iunlockput(dp);
    return ip;
  }
  // The name exists. Only open(O_CREATE) may use what is there, so only it needs the inode.
  struct inode *ip = (type == T_FILE) ? iget(dp->dev, inum) : 0;
  iunlockput(dp);             // before ilock(ip): ip may be dp itself (".") or its parent
  if(ip == 0)
    return 0;
  ilock(ip);
  if(ip->type == T_FILE || ip->type == T_DEVICE)
    return ip;
  iunlockput(ip);
  return 0;
}

// May ip (locked) be opened with omode? A directory only for reading, a device node only if
// its major number can have a driver.
static int
mayopen(struct inode *ip, int omode)
{
  if(ip->type == T_DIR)
    return omode == O_RDONLY;
  if(ip->type == T_DEVICE)
    return ip->major >= 0 && ip->major < NDEV;
  return 1;
}

// open(): returns the new descriptor, or -1.
static int
openpath(char *path, int omode)
{
  struct inode *ip;
  if(omode & O_CREATE){
    ip = create(path, T_FILE, 0, 0);
  } else if((ip = namei(path)) != 0){
    ilock(ip);
  }
  if(ip == 0)
    return -1;
  if(!mayopen(ip, omode)){
    iunlockput(ip);
    return -1;
  }
  struct file *f = filealloc();
  int fd = (f != 0) ? fdalloc(f) : -1;
  if(fd < 0){
    if(f != 0)
      fileclose(f);           // still FD_NONE: only gives the slot back
    iunlockput(ip);
    return -1;
  }
  f->type = (ip->type == T_DEVICE) ? FD_DEVICE : FD_INODE;
  f->ip = ip;                 // the file owns our reference to ip
  f->major = ip->major;
  f->off = 0;
  f->readable = (omode & O_WRONLY) == 0;                // O_WRONLY|O_RDWR is write-only
  f->writable = (omode & (O_WRONLY | O_RDWR)) != 0;
  if((omode & O_TRUNC) && ip->type == T_FILE)
    itrunc(ip);
  iunlock(ip);
  return fd;
}

// Add the entry name in dp (locked, live) for ip (referenced, unlocked, not a directory).
static int
addname(struct inode *dp, char *name, struct inode *ip)
{
  if(dp->dev != ip->dev)
    return -1;
  ilock(ip);
  // nlink 0: ip lost its last name after we found it; a removed file stays removed.
  int ok = ip->nlink > 0 && ip->nlink < MAXNLINK && dirlink(dp, name, ip->inum) == 0;
  if(ok){
    ip->nlink++;
    iupdate(ip);
  }
  iunlock(ip);
  return ok ? 0 : -1;
}

// link(): give the inode that old names the second name new. Not for directories: a directory
// has exactly one name, the one its ".." entry points back to.
static int
linkpath(char *old, char *new)
{
  char name[DIRSIZ];
  struct inode *ip = namei(old);
  if(ip == 0)
    return -1;
  int r = -1;
  // The type is checked before new's directory is locked: a directory ip could be that
  // directory's ancestor, which must not be locked after it.
  if(!isdir(ip)){
    struct inode *dp = lockparent(new, name);
    if(dp != 0){
      r = addname(dp, name, ip);
      iunlockput(dp);
    }
  }
  iput(ip);
  return r;
}

// Remove the entry name from dp (locked, live). A directory goes only when empty; "." and ".."
// never, being part of their directory rather than names for it.
static int
dropname(struct inode *dp, char *name)
{
  uint off;
  if(namecmp(name, ".") == 0 || namecmp(name, "..") == 0)
    return -1;
  uint inum = dirlookup(dp, name, &off);
  if(inum == 0)
    return -1;
  struct inode *ip = iget(dp->dev, inum);
  if(ip == 0)
    return -1;
  ilock(ip);                  // neither dp nor its parent, so locking it after dp is in order
  int ok = ip->nlink > 0 && (ip->type != T_DIR || isdirempty(ip)) && dirremove(dp, off) == 0;
  if(ok){
    if(ip->type == T_DIR){
      dp->nlink--;            // ip's ".." stops counting as a link
      iupdate(dp);
    }
    ip->nlink--;
    iupdate(ip);
  }
  iunlockput(ip);             // frees ip if that was its last name and nothing has it open
  return ok ? 0 : -1;
}

// unlink()
static int
unlinkpath(char *path)
{
  char name[DIRSIZ];
  struct inode *dp = lockparent(path, name);
  if(dp == 0)
    return -1;
  int r = dropname(dp, name);
  iunlockput(dp);
  return r;
}

// chdir()
static int
chdirpath(char *path)
{
  struct inode *ip = namei(path);
  if(ip == 0)
    return -1;
  if(!isdir(ip)){
    iput(ip);
    return -1;
  }
  struct proc *p = myproc();
  iput(p->cwd);               // may free a removed directory, hence the transaction
  p->cwd = ip;
  return 0;
}

// The calls whose one argument is a path: run op on it inside one transaction.
static uint64
onpath(int (*op)(char *path))
{
  char path[MAXPATH];
  if(argstr(0, path, MAXPATH) < 0)
    return -1;
  begin_op();
  int r = op(path);
  end_op();
  return r;
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
  int fd = openpath(path, omode);
  end_op();
  return fd;
}

// mkdir() and mknod(): the path in argument 0 as a new inode of the given type. 0 or -1.
static uint64
makenode(short type, short major, short minor)
{
  char path[MAXPATH];
  if(argstr(0, path, MAXPATH) < 0)
    return -1;
  begin_op();
  struct inode *ip = create(path, type, major, minor);
  if(ip != 0)
    iunlockput(ip);
  end_op();
  return ip != 0 ? 0 : -1;
}

uint64
sys_mkdir(void)
{
  return makenode(T_DIR, 0, 0);
}

uint64
sys_mknod(void)
{
  int major, minor;
  argint(1, &major);
  argint(2, &minor);
  // Both are shorts on disk; a major number indexes devsw[].
  if(major < 0 || major >= NDEV || minor < 0 || minor > 0x7fff)
    return -1;
  return makenode(T_DEVICE, major, minor);
}

uint64
sys_link(void)
{
  char old[MAXPATH], new[MAXPATH];
  if(argstr(0, old, MAXPATH) < 0 || argstr(1, new, MAXPATH) < 0)
    return -1;
  begin_op();
  int r = linkpath(old, new);
  end_op();
  return r;
}

uint64
sys_unlink(void)
{
  return onpath(unlinkpath);
}

uint64
sys_chdir(void)
{
  return onpath(chdirpath);
}

// Copy exec's argument strings, listed at user address uargv, into kalloc'd pages in argv[]
// (MAXARG entries, all 0 on entry). Succeeds only if the list ends with a null pointer within
// MAXARG entries, so that argv[] ends with one too. 0, or -1; either way the caller kfrees the
// non-null entries.
static int
fetchargs(uint64 uargv, char **argv)
{
  for(int i = 0; i < MAXARG; i++){
    uint64 uarg;
    if(fetchaddr(uargv + i * sizeof(uint64), &uarg) < 0)
      return -1;
    if(uarg == 0)
      return 0;
    if((argv[i] = kalloc()) == 0 || fetchstr(uarg, argv[i], PGSIZE) < 0)
      return -1;
  }
  return -1;
}

uint64
sys_exec(void)
{
  char path[MAXPATH], *argv[MAXARG];
  uint64 uargv;
  argaddr(1, &uargv);
  if(argstr(0, path, MAXPATH) < 0)
    return -1;
  memset(argv, 0, sizeof(argv));
  int r = (fetchargs(uargv, argv) < 0) ? -1 : exec(path, argv);
  for(int i = 0; i < MAXARG && argv[i] != 0; i++)
    kfree(argv[i]);
  return r;
}

// sync(): returns 0 once every file-system call that finished before it is on disk.
uint64
sys_sync(void)
{
  log_sync(1);
  return 0;
}

// halt(): sync, then power the machine off (SBI System Reset, sbi.c). Never returns.
uint64
sys_halt(void)
{
  log_sync(1);
  sbi_shutdown();
}
