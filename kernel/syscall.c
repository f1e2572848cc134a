// System-call dispatch: fetching arguments from the trapframe and from user memory, and
// the table mapping kernel/syscall.h numbers to their sys_ functions.
// Every fetch from user memory goes through copyin/copyinstr, so a bad pointer is -1.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/syscall.h"
#include "kernel/defs.h"

// Read the 8-byte word at user address addr into *ip. 0, or -1 if any of the 8 bytes
// lies outside the process's memory.
int
fetchaddr(uint64 addr, uint64 *ip)
{
  struct proc *p = myproc();

  if(addr >= p->sz || addr + sizeof(uint64) > p->sz || addr + sizeof(uint64) < addr)
    return -1;
  if(copyin(p->pagetable, (char *)ip, addr, sizeof(*ip)) != 0)
    return -1;
  return 0;
}

// Copy the NUL-terminated string at user address addr into buf (max bytes, NUL
// included). Its length, or -1 for a bad address or a string that does not fit.
int
fetchstr(uint64 addr, char *buf, int max)
{
  struct proc *p = myproc();

  if(max <= 0)
    return -1;
  if(copyinstr(p->pagetable, buf, addr, max) < 0)
    return -1;
  return strlen(buf);
}

// Raw value of argument register a0..a5.
static uint64
argraw(int n)
{
  struct trapframe *tf = myproc()->trapframe;

  switch(n){
  case 0: return tf->a0;
  case 1: return tf->a1;
  case 2: return tf->a2;
  case 3: return tf->a3;
  case 4: return tf->a4;
  case 5: return tf->a5;
  }
  panic("argraw: no such argument register");
}

// The n'th argument as an int. Any value is legal here; the caller validates it.
void
argint(int n, int *ip)
{
  *ip = (int)argraw(n);
}

// The n'th argument as a user address. Not checked here: copyin/copyout do that.
void
argaddr(int n, uint64 *ip)
{
  *ip = argraw(n);
}

// The n'th argument as a user string copied into buf. Its length, or -1 if the pointer
// is bad or the string (with its NUL) is longer than max.
int
argstr(int n, char *buf, int max)
{
  uint64 addr;

  argaddr(n, &addr);
  return fetchstr(addr, buf, max);
}

extern uint64 sys_fork(void);
extern uint64 sys_exit(void);
extern uint64 sys_wait(void);
extern uint64 sys_pipe(void);
extern uint64 sys_read(void);
extern uint64 sys_kill(void);
extern uint64 sys_exec(void);
extern uint64 sys_fstat(void);
extern uint64 sys_chdir(void);
extern uint64 sys_dup(void);
extern uint64 sys_getpid(void);
extern uint64 sys_sbrk(void);
extern uint64 sys_pause(void);
extern uint64 sys_uptime(void);
extern uint64 sys_open(void);
extern uint64 sys_write(void);
extern uint64 sys_mknod(void);
extern uint64 sys_unlink(void);
extern uint64 sys_link(void);
extern uint64 sys_mkdir(void);
extern uint64 sys_close(void);
extern uint64 sys_memstat(void);

// Indexed by system-call number; the gaps (0) are unknown calls.
// SYS_sleep is SYS_pause, so the one entry serves both names.
static uint64 (*syscalls[])(void) = {
  [SYS_fork]    sys_fork,
  [SYS_exit]    sys_exit,
  [SYS_wait]    sys_wait,
  [SYS_pipe]    sys_pipe,
  [SYS_read]    sys_read,
  [SYS_kill]    sys_kill,
  [SYS_exec]    sys_exec,
  [SYS_fstat]   sys_fstat,
  [SYS_chdir]   sys_chdir,
  [SYS_dup]     sys_dup,
  [SYS_getpid]  sys_getpid,
  [SYS_sbrk]    sys_sbrk,
  [SYS_pause]   sys_pause,
  [SYS_uptime]  sys_uptime,
  [SYS_open]    sys_open,
  [SYS_write]   sys_write,
  [SYS_mknod]   sys_mknod,
  [SYS_unlink]  sys_unlink,
  [SYS_link]    sys_link,
  [SYS_mkdir]   sys_mkdir,
  [SYS_close]   sys_close,
  [SYS_memstat] sys_memstat,
};

// Called by usertrap() for an ecall from user mode: the number is in a7, the result
// goes back in a0.
void
syscall(void)
{
  struct proc *p = myproc();
  uint64 num = p->trapframe->a7;

  if(num < NELEM(syscalls) && syscalls[num] != 0){
    p->trapframe->a0 = syscalls[num]();
  } else {
    printf("pid %d (%s): unknown system call %d\n", p->pid, p->name, (int)num);
    p->trapframe->a0 = -1;
  }
}
