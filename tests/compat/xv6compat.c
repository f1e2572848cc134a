// xv6compat: a user program written the way xv6-riscv programs are, against the classic and the
// current user API. make check builds it unmodified with EXTRA_PROGS and runs it; it prints one
// line per failed check and ends with "xv6compat: ok" or "xv6compat: N checks failed".
#include "kernel/param.h"
#include "kernel/types.h"
#include "kernel/stat.h"
#include "user/user.h"
#include "kernel/fs.h"
#include "kernel/fcntl.h"
#include "kernel/syscall.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"

static int failures;

#define check(cond) do { if(!(cond)) { failures++; \
      printf("xv6compat: line %d: check failed: %s\n", __LINE__, #cond); } } while(0)

// The constants xv6 programs size things by. Values follow xv6-riscv, except KERNBASE, which
// is where OpenSBI enters our kernel (it only has to lie inside RAM, below PHYSTOP).
static void
constants(void)
{
  check(PGSIZE == 4096);
  check(MAXVA == (1L << 38));
  check(TRAMPOLINE == MAXVA - PGSIZE);
  check(KERNBASE >= 0x80000000L && KERNBASE < PHYSTOP);
  check(PHYSTOP - KERNBASE <= 128L * 1024 * 1024);
  check(NPROC == 64);
  check(NOFILE == 16);
  check(NINODE == 50);
  check(MAXARG == 32);
  check(MAXPATH == 128);
  check(BSIZE == 1024);
  check(DIRSIZ == 14);
  check(MAXFILE == 268);        // 12 direct + 256 indirect blocks
  check(MAXOPBLOCKS == 10);
  check(sizeof(struct dirent) == 16);
  check(SYS_fork == 1 && SYS_exit == 2 && SYS_close == 21);
  check(PGROUNDUP(1) == PGSIZE && PGROUNDDOWN(PGSIZE + 1) == PGSIZE);
}

// open flags, struct stat, link/unlink, mkdir/chdir, and a directory read as struct dirents.
static void
files(void)
{
  struct stat st;
  struct dirent de;
  char buf[32];
  int fd, found = 0;

  fd = open("compat.tmp", O_CREATE | O_WRONLY);
  check(fd >= 0);
  check(write(fd, "hello, xv6", 10) == 10);
  check(fstat(fd, &st) == 0 && st.type == T_FILE && st.size == 10 && st.nlink == 1);
  close(fd);

  fd = open("compat.tmp", O_RDONLY);
  check(fd >= 0 && read(fd, buf, sizeof(buf)) == 10 && memcmp(buf, "hello, xv6", 10) == 0);
  check(write(fd, "x", 1) < 0);   // opened read-only
  close(fd);

  fd = open("compat.tmp", O_RDWR | O_TRUNC);
  check(fd >= 0 && fstat(fd, &st) == 0 && st.size == 0);
  close(fd);

  check(link("compat.tmp", "compat.lnk") == 0);
  check(stat("compat.lnk", &st) == 0 && st.nlink == 2);
  check(unlink("compat.lnk") == 0 && stat("compat.lnk", &st) < 0);
  check(unlink("compat.tmp") == 0);

  check(mkdir("compat.dir") == 0);
  check(stat("compat.dir", &st) == 0 && st.type == T_DIR);
  check(chdir("compat.dir") == 0 && chdir("..") == 0);
  check(unlink("compat.dir") == 0);

  check(stat("console", &st) == 0 && st.type == T_DEVICE);

  fd = open("/", O_RDONLY);
  check(fd >= 0);
  while(read(fd, &de, sizeof(de)) == sizeof(de)){
    if(de.inum == 0)
      continue;
    memmove(buf, de.name, DIRSIZ);
    buf[DIRSIZ] = 0;
    if(strcmp(buf, "xv6compat") == 0)
      found = 1;
  }
  close(fd);
  check(found);
}

// sbrk the classic way, sbrklazy, and sys_sbrk(n, how) with both SBRK_ flags.
static void
memory(void)
{
  char *old = sbrk(0), *p;

  p = sbrk(3 * PGSIZE);
  check(p == old && p != SBRK_ERROR);
  p[0] = 1;
  p[3 * PGSIZE - 1] = 2;
  check(sbrk(0) == old + 3 * PGSIZE);
  check(sbrk(-3 * PGSIZE) == old + 3 * PGSIZE && sbrk(0) == old);

  p = sbrklazy(16 * PGSIZE);
  check(p == old);
  for(int i = 0; i < 16; i += 5)
    p[i * PGSIZE] = i;          // each touch allocates one page
  for(int i = 0; i < 16; i += 5)
    check(p[i * PGSIZE] == i);
  check(sbrk(-16 * PGSIZE) == old + 16 * PGSIZE);

  p = sys_sbrk(PGSIZE, SBRK_EAGER);
  check(p == old);
  p[PGSIZE - 1] = 7;
  p = sys_sbrk(PGSIZE, SBRK_LAZY);
  check(p == old + PGSIZE);
  p[0] = 8;
  check(old[PGSIZE - 1] == 7 && old[PGSIZE] == 8);
  check(sbrk(-2 * PGSIZE) == old + 2 * PGSIZE);

  // The stack pointer lies in the user stack, the page of our locals, far below TRAPFRAME.
  int local = 0;
  uint64 sp = r_sp();
  check(PGROUNDDOWN(sp) == PGROUNDDOWN((uint64)&local));
  check(sp < TRAPFRAME);

  char *m = malloc(5000);
  check(m != 0);
  memset(m, 'z', 5000);
  check(m[4999] == 'z');
  free(m);
}

// fork/exit/wait with a status, pipe, dup, kill, getpid, and the classic and current sleep.
static void
processes(void)
{
  int fds[2], status = -1, pid, t0;
  char c = 0;

  pid = fork();
  if(pid == 0)
    exit(42);
  check(pid > 0 && wait(&status) == pid && status == 42);

  check(pipe(fds) == 0);
  pid = fork();
  if(pid == 0){
    close(1);
    check(dup(fds[1]) == 1);
    printf("%c", 'p');
    exit(getpid() > 0 ? 0 : 1);
  }
  close(fds[1]);
  check(read(fds[0], &c, 1) == 1 && c == 'p');
  close(fds[0]);
  check(wait(&status) == pid && status == 0);

  pid = fork();
  if(pid == 0){
    for(;;)
      pause(1);
  }
  check(kill(pid) == 0 && wait(0) == pid);

  t0 = uptime();
  check(sleep(2) == 0);
  check(pause(2) == 0);
  check(uptime() >= t0 + 4);

  check(atoi("1234") == 1234 && strlen("xv6") == 3 && strchr("xv6", '6') != 0);
}

int
main(int argc, char *argv[])
{
  constants();
  files();
  memory();
  processes();
  // The printf forms xv6 programs use; the shell-session check compares this line.
  printf("xv6compat: %d %u %x %p %s %c %ld %lu %lx %%\n",
         -7, 7u, 0xbeef, (void *)0x1000, "str", 'c', -8L, 8UL, 0xabcdefL);
  if(failures){
    printf("xv6compat: %d checks failed\n", failures);
    exit(1);
  }
  printf("xv6compat: ok\n");
  exit(0);
}
