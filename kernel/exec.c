// exec(): replace the current process's user image with an ELF executable from the file
// system. The new image is built in a fresh page table and committed only when complete,
// so every failure (bad file, bad arguments, no memory) leaves the old image running.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/sleeplock.h"
#include "kernel/fs.h"
#include "kernel/file.h"
#include "kernel/defs.h"
#include "kernel/elf.h"

// Guard page plus USERSTACK stack pages, placed right above the loaded segments.
#define STACK_REGION ((USERSTACK + 1) * PGSIZE)

// Highest end address a segment may have, leaving room for the stack below TRAPFRAME.
#define SEGMENT_LIMIT (TRAPFRAME - STACK_REGION)

// PTE permissions for a program segment: always user-readable, X and W only when the
// ELF flags ask for them.
static int
flags2perm(uint32 flags)
{
  int perm = PTE_U | PTE_R;
  if(flags & ELF_PROG_FLAG_EXEC)
    perm |= PTE_X;
  if(flags & ELF_PROG_FLAG_WRITE)
    perm |= PTE_W;
  return perm;
}

// Copy n bytes at file offset off into user address va of pagetable. va is page
// aligned and the pages are already mapped. 0, or -1 on a short read.
static int
loadseg(pagetable_t pagetable, uint64 va, struct inode *ip, uint off, uint n)
{
  for(uint i = 0; i < n; i += PGSIZE){
    uint64 pa = walkaddr(pagetable, va + i);
    if(pa == 0)
      return -1;
    uint chunk = (n - i < PGSIZE) ? n - i : PGSIZE;
    if(readi(ip, 0, pa, off + i, chunk) != chunk)
      return -1;
  }
  return 0;
}

// Is this LOAD header safe to map after sz bytes already loaded? Checks the sizes, page
// alignment, overflow, that the bytes exist in a file of fsize bytes, that segments come
// in increasing order without overlap, and that they leave room for the stack.
static int
segment_ok(struct proghdr *ph, uint64 sz, uint fsize)
{
  if(ph->memsz < ph->filesz)
    return 0;
  if(ph->vaddr + ph->memsz < ph->vaddr)
    return 0;
  if(ph->vaddr % PGSIZE != 0)
    return 0;
  if(ph->vaddr < sz)
    return 0;
  if(ph->vaddr + ph->memsz > SEGMENT_LIMIT)
    return 0;
  if(ph->off + ph->filesz < ph->off || ph->off + ph->filesz > fsize)
    return 0;
  return 1;
}

// Read and map every LOAD segment of ip into pagetable. 0 on success, -1 on failure.
// Either way *szp is the size mapped so far, so the caller can free it.
static int
load_segments(pagetable_t pagetable, struct inode *ip, struct elfhdr *elf, uint64 *szp)
{
  struct proghdr ph;
  uint64 sz = 0;

  for(uint i = 0; i < elf->phnum; i++){
    uint off = elf->phoff + (uint64)i * sizeof(ph);
    if(readi(ip, 0, (uint64)&ph, off, sizeof(ph)) != sizeof(ph))
      return -1;
    if(ph.type != ELF_PROG_LOAD)
      continue;
    if(!segment_ok(&ph, sz, ip->size))
      return -1;
    uint64 newsz = uvmalloc(pagetable, sz, ph.vaddr + ph.memsz, flags2perm(ph.flags));
    if(newsz == 0)
      return -1;
    sz = newsz;
    *szp = sz;
    if(loadseg(pagetable, ph.vaddr, ip, ph.off, ph.filesz) < 0)
      return -1;
  }
  return 0;
}

// Is the ELF header one we can load? The program-header table must lie in the file.
static int
header_ok(struct elfhdr *elf, uint fsize)
{
  if(elf->magic != ELF_MAGIC)
    return 0;
  if(elf->phnum == 0)
    return 0;
  if(elf->phentsize != sizeof(struct proghdr))
    return 0;
  uint64 tablesz = (uint64)elf->phnum * sizeof(struct proghdr);
  if(elf->phoff + tablesz < elf->phoff || elf->phoff + tablesz > fsize)
    return 0;
  return 1;
}

// Push the argument strings and the argv[] array onto the new stack, which spans
// [stackbase, *spp). Returns argc and updates *spp (16-byte aligned), or -1 if there
// are more than MAXARG arguments or they do not fit.
static int
push_args(pagetable_t pagetable, char **argv, uint64 stackbase, uint64 *spp)
{
  uint64 ustack[MAXARG + 1];
  uint64 sp = *spp;
  int argc;

  for(argc = 0; argv[argc]; argc++){
    if(argc >= MAXARG)
      return -1;
    uint64 len = strlen(argv[argc]) + 1;
    if(len > sp - stackbase)
      return -1;
    sp -= len;
    sp -= sp % 16;             // RISC-V calling convention: sp stays 16-byte aligned
    if(sp < stackbase)
      return -1;
    if(copyout(pagetable, sp, argv[argc], len) < 0)
      return -1;
    ustack[argc] = sp;
  }
  ustack[argc] = 0;

  uint64 arraysz = (argc + 1) * sizeof(uint64);
  if(arraysz > sp - stackbase)
    return -1;
  sp -= arraysz;
  sp -= sp % 16;
  if(sp < stackbase)
    return -1;
  if(copyout(pagetable, sp, (char *)ustack, arraysz) < 0)
    return -1;

  *spp = sp;
  return argc;
}

// Replace the current process's image with the program at path, called with the kernel
// strings argv (0-terminated). Returns argc (the caller puts it in a0; argv goes in a1),
// or -1 with the old image untouched.
int
exec(char *path, char **argv)
{
  struct proc *p = myproc();
  struct elfhdr elf;
  struct inode *ip;
  pagetable_t pagetable = 0;
  uint64 sz = 0;

  begin_op();
  if((ip = namei(path)) == 0){
    end_op();
    return -1;
  }
  ilock(ip);

  if(readi(ip, 0, (uint64)&elf, 0, sizeof(elf)) != sizeof(elf))
    goto bad;
  if(!header_ok(&elf, ip->size))
    goto bad;
  if((pagetable = proc_pagetable(p)) == 0)
    goto bad;
  if(load_segments(pagetable, ip, &elf, &sz) < 0)
    goto bad;

  iunlockput(ip);
  end_op();
  ip = 0;

  // Stack: a guard page (no PTE_U, so user access faults) and USERSTACK pages above it.
  sz = PGROUNDUP(sz);
  uint64 newsz = uvmalloc(pagetable, sz, sz + STACK_REGION, PTE_R | PTE_W | PTE_U);
  if(newsz == 0)
    goto bad;
  sz = newsz;
  uvmclear(pagetable, sz - STACK_REGION);
  uint64 sp = sz;
  uint64 stackbase = sp - USERSTACK * PGSIZE;

  int argc = push_args(pagetable, argv, stackbase, &sp);
  if(argc < 0)
    goto bad;

  // Commit. Nothing below can fail.
  char *last = path;
  for(char *s = path; *s; s++)
    if(*s == '/')
      last = s + 1;
  safestrcpy(p->name, last, sizeof(p->name));

  pagetable_t oldpagetable = p->pagetable;
  uint64 oldsz = p->sz;
  p->pagetable = pagetable;
  p->sz = sz;
  p->trapframe->epc = elf.entry;   // a bad entry point just faults in user mode
  p->trapframe->sp = sp;
  p->trapframe->a1 = sp;           // argv
  proc_freepagetable(oldpagetable, oldsz);

  return argc;

bad:
  if(pagetable)
    proc_freepagetable(pagetable, sz);
  if(ip){
    iunlockput(ip);
    end_op();
  }
  return -1;
}
