// System-call dispatch: the table from kernel/syscall.h's numbers to the sys_ functions, and the
// argument fetchers they use. A user program puts the number in a7 and up to six arguments in
// a0..a5, and gets the result back in a0. Nothing it passes is trusted: user memory is read only
// through copyin/copyinstr, which fail (-1) on any address the process does not own.

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/proc.h"
#include "kernel/syscall.h"
#include "kernel/defs.h"

// Argument register a0 + n, as the user left it. Only kernel code picks n.
static uint64
argraw(int n)
{
  if(n < 0 || n > 5)
    panic("argraw: system calls take at most six arguments, a0..a5");
  return myproc()->trapframe->a[n];
}

// The n'th argument as an int: its low 32 bits, as the C calling convention passes one.
// Every value is possible; the system call decides what each means.
void
argint(int n, int *ip)
{
  *ip = (int)argraw(n);
}

// The n'th argument as a user address, unchecked: copyin/copyout check it when used.
void
argaddr(int n, uint64 *ip)
{
  *ip = argraw(n);
}

// The n'th argument as a pointer to a user string, copied into buf. The string's length,
// or -1 if the pointer is bad or the string and its NUL need more than max bytes.
int
argstr(int n, char *buf, int max)
{
  return fetchstr(argraw(n), buf, max);
}

// The 8-byte word at user address addr (an argv[] entry) into *ip: 0, or -1 unless all of it
// lies below the process's size and is readable.
int
fetchaddr(uint64 addr, uint64 *ip)
{
  struct proc *p = myproc();
  int inside = addr < p->sz && p->sz - addr >= sizeof(*ip);
  return inside && copyin(p->pagetable, (char *)ip, addr, sizeof(*ip)) == 0 ? 0 : -1;
}

// The NUL-terminated user string at addr into buf (max bytes, NUL included). Its length, or
// -1 for a bad address or a string that does not fit.
int
fetchstr(uint64 addr, char *buf, int max)
{
  int ok = max > 0 && copyinstr(myproc()->pagetable, buf, addr, max) == 0;
  return ok ? strlen(buf) : -1;
}

extern uint64 sys_exit(void), sys_getpid(void), sys_fork(void), sys_wait(void),
              sys_kill(void), sys_uptime(void), sys_pause(void), sys_sbrk(void),
              sys_memstat(void), sys_vmquery(void), sys_setfg(void);   // sysproc.c
extern uint64 sys_read(void), sys_write(void), sys_open(void), sys_close(void),
              sys_dup(void), sys_pipe(void), sys_fstat(void), sys_link(void),
              sys_unlink(void), sys_mkdir(void), sys_mknod(void), sys_chdir(void),
              sys_exec(void), sys_sync(void), sys_halt(void);           // sysfile.c

// A system call: fetches its own arguments, returns the value for a0.
typedef uint64 (*sysfn)(void);

// Indexed by number. A hole (0) is not a system call; neither is any number past the end.
// SYS_sleep is another name for SYS_pause.
static const sysfn syscalls[] = {
  [SYS_fork]    = sys_fork,
  [SYS_exit]    = sys_exit,
  [SYS_wait]    = sys_wait,
  [SYS_pipe]    = sys_pipe,
  [SYS_read]    = sys_read,
  [SYS_kill]    = sys_kill,
  [SYS_exec]    = sys_exec,
  [SYS_fstat]   = sys_fstat,
  [SYS_chdir]   = sys_chdir,
  [SYS_dup]     = sys_dup,
  [SYS_getpid]  = sys_getpid,
  [SYS_sbrk]    = sys_sbrk,
  [SYS_pause]   = sys_pause,
  [SYS_uptime]  = sys_uptime,
  [SYS_open]    = sys_open,
  [SYS_write]   = sys_write,
  [SYS_mknod]   = sys_mknod,
  [SYS_unlink]  = sys_unlink,
  [SYS_link]    = sys_link,
  [SYS_mkdir]   = sys_mkdir,
  [SYS_close]   = sys_close,
  [SYS_memstat] = sys_memstat,
  [SYS_vmquery] = sys_vmquery,
  [SYS_sync]    = sys_sync,
  [SYS_halt]    = sys_halt,
  [SYS_setfg]   = sys_setfg,
};

// usertrap() calls this for an ecall from user mode. All 64 bits of a7 count: high bits make
// the number unknown, not another call.
void
syscall(void)
{
  struct proc *p = myproc();
  struct trapframe *tf = p->trapframe;
  sysfn fn = (tf->a7 < NELEM(syscalls)) ? syscalls[tf->a7] : 0;
  if(fn == 0){
    printf("pid %d (%s): no system call %ld; returning -1\n", p->pid, p->name, (long)tf->a7);
    tf->a0 = -1;
    return;
  }
  tf->a0 = fn();
}
