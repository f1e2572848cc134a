// exec(): replace the current process's user image with an ELF executable from the file
// system. The new image is built in a page table of its own and swapped in only when it is
// complete, so every failure (bad file, bad arguments, no memory) leaves the old image running.

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

// The stack region right above the segments: a guard page, then USERSTACK stack pages.
// Segments must end low enough to leave room for it below TRAPFRAME.
#define STACK_REGION ((USERSTACK + 1) * PGSIZE)
#define SEGMENT_LIMIT (TRAPFRAME - STACK_REGION)

// Can we load a file of fsize bytes with this header? A 64-bit RISC-V object whose program
// header table lies within the file.
static int
header_ok(struct elfhdr *eh, uint fsize)
{
  if(memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
    return 0;
  if(eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_RISCV)
    return 0;
  if(eh->e_phnum == 0 || eh->e_phentsize != sizeof(struct proghdr))
    return 0;
  uint64 tablesz = (uint64)eh->e_phnum * sizeof(struct proghdr);
  if(eh->e_phoff + tablesz < eh->e_phoff || eh->e_phoff + tablesz > fsize)
    return 0;
  return 1;
}

// May this PT_LOAD segment of a file of fsize bytes go above the sz bytes mapped so far? Its
// sizes must agree and not wrap, its start be page-aligned and at or above sz (segments come
// in order, without overlap), its end leave room for the stack, and its file bytes exist.
static int
segment_ok(struct proghdr *ph, uint64 sz, uint fsize)
{
  uint64 end = ph->p_vaddr + ph->p_memsz;
  if(ph->p_memsz < ph->p_filesz || end < ph->p_vaddr)
    return 0;
  if(ph->p_vaddr % PGSIZE != 0 || ph->p_vaddr < sz || end > SEGMENT_LIMIT)
    return 0;
  if(ph->p_offset + ph->p_filesz < ph->p_offset || ph->p_offset + ph->p_filesz > fsize)
    return 0;
  return 1;
}

// Read n bytes at file offset off into the pages mapped at va (page-aligned) in pagetable.
// 0, or -1 if a page is missing or the file is short.
static int
loadseg(pagetable_t pagetable, uint64 va, struct inode *ip, uint off, uint n)
{
  for(uint done = 0; done < n; done += PGSIZE){
    uint64 page = walkaddr(pagetable, va + done);
    uint m = MIN(n - done, PGSIZE);
    if(page == 0 || readi(ip, 0, page, off + done, m) != m)
      return -1;
  }
  return 0;
}

// Map and fill every PT_LOAD segment of ip (locked) into pagetable. 0, or -1. Either way *szp
// is the size mapped so far, for the caller to free.
static int
load_segments(pagetable_t pagetable, struct inode *ip, struct elfhdr *eh, uint64 *szp)
{
  for(uint i = 0; i < eh->e_phnum; i++){
    struct proghdr ph;
    uint off = eh->e_phoff + (uint64)i * sizeof(ph);
    if(readi(ip, 0, (uint64)&ph, off, sizeof(ph)) != sizeof(ph))
      return -1;
    if(ph.p_type != PT_LOAD)
      continue;
    if(!segment_ok(&ph, *szp, ip->size))
      return -1;
    int perm = PTE_U | PTE_R | (ph.p_flags & PF_W ? PTE_W : 0) | (ph.p_flags & PF_X ? PTE_X : 0);
    uint64 newsz = uvmalloc(pagetable, *szp, ph.p_vaddr + ph.p_memsz, perm);
    if(newsz == 0)
      return -1;
    *szp = newsz;
    if(loadseg(pagetable, ph.p_vaddr, ip, ph.p_offset, ph.p_filesz) < 0)
      return -1;
  }
  return 0;
}

// A new page table for p holding the program at path, with its header in *eh and the size
// of its segments in *szp; 0 if path is not a program we can load, or memory runs out.
static pagetable_t
load_program(struct proc *p, char *path, struct elfhdr *eh, uint64 *szp)
{
  pagetable_t pagetable = 0;
  *szp = 0;
  begin_op();                // namei() and iput() may need the transaction
  struct inode *ip = namei(path);
  if(ip == 0){
    end_op();
    return 0;
  }
  ilock(ip);
  if(readi(ip, 0, (uint64)eh, 0, sizeof(*eh)) == sizeof(*eh) && header_ok(eh, ip->size))
    pagetable = proc_pagetable(p);
  if(pagetable != 0 && load_segments(pagetable, ip, eh, szp) < 0){
    proc_freepagetable(pagetable, *szp);
    pagetable = 0;
  }
  iunlockput(ip);
  end_op();
  return pagetable;
}

// Push n bytes from src onto the user stack, moving *sp down and keeping it 16-byte aligned
// (the RISC-V calling convention), but not below base. 0, or -1 if they do not fit.
static int
push(pagetable_t pagetable, uint64 *sp, uint64 base, void *src, uint64 n)
{
  if(n > *sp - base || ((*sp - n) & ~15UL) < base)
    return -1;
  *sp = (*sp - n) & ~15UL;
  return copyout(pagetable, *sp, src, n);
}

// Push the argument strings, then the argv[] array that points at them, onto the stack that
// spans [base, *sp). Returns argc, or -1 if there are more than MAXARG arguments (argv ends
// with a null pointer) or they do not fit.
static int
push_args(pagetable_t pagetable, char **argv, uint64 base, uint64 *sp)
{
  uint64 uargv[MAXARG + 1];
  int argc = 0;
  for(; argv[argc] != 0; argc++){
    if(argc >= MAXARG || push(pagetable, sp, base, argv[argc], strlen(argv[argc]) + 1) < 0)
      return -1;
    uargv[argc] = *sp;
  }
  uargv[argc] = 0;
  return push(pagetable, sp, base, uargv, (argc + 1) * sizeof(uint64)) < 0 ? -1 : argc;
}

// Map the stack region above the *szp bytes of segments and push argv onto it. Returns argc with
// *szp the new size and *spp the initial stack pointer, or -1 (*szp is what the caller must free).
static int
setup_stack(pagetable_t pagetable, char **argv, uint64 *szp, uint64 *spp)
{
  uint64 base = PGROUNDUP(*szp);
  uint64 top = uvmalloc(pagetable, base, base + STACK_REGION, PTE_R | PTE_W | PTE_U);
  if(top == 0)
    return -1;
  *szp = top;
  uvmclear(pagetable, base);
  *spp = top;
  return push_args(pagetable, argv, top - USERSTACK * PGSIZE, spp);
}

// Replace the current process's image with the program at path, called with the kernel
// strings argv (null-terminated). Returns argc, which the system call returns in a0 (argv
// goes in a1), or -1 with the old image untouched.
int
exec(char *path, char **argv)
{
  struct proc *p = myproc();
  struct elfhdr eh;
  uint64 sz, sp;

  pagetable_t pagetable = load_program(p, path, &eh, &sz);
  if(pagetable == 0)
    return -1;
  int argc = setup_stack(pagetable, argv, &sz, &sp);
  if(argc < 0){
    proc_freepagetable(pagetable, sz);
    return -1;
  }

  // Commit to the new image: nothing below can fail. The name is path's last element.
  char *last = path;
  for(char *s = path; *s != 0; s++)
    if(*s == '/')
      last = s + 1;
  safestrcpy(p->name, last, sizeof(p->name));
  pagetable_t oldpagetable = p->pagetable;
  uint64 oldsz = p->sz;
  p->pagetable = pagetable;
  p->sz = sz;
  p->trapframe->epc = eh.e_entry;  // a bad entry point just faults, in user mode
  p->trapframe->sp = sp;
  p->trapframe->a1 = sp;           // argv
  proc_freepagetable(oldpagetable, oldsz);
  return argc;
}
