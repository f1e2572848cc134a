// xv6compat: written the way xv6-riscv programs are, against its classic and current user API.
// make check builds it unmodified and runs it: a line per failed check, then "xv6compat: ok".
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

// File system constants, open flags, struct stat, links, directories read as struct dirents.
static void
files(void)
{
  struct stat st;
  struct dirent de;
  char buf[10];
  int fd, found = 0;

  check(NPROC == 64 && NOFILE == 16 && NINODE == 50 && MAXARG == 32 && MAXPATH == 128);
  check(BSIZE == 1024 && DIRSIZ == 14 && MAXFILE == 12 + 256 && MAXOPBLOCKS == 10);
  check(sizeof(struct dirent) == 16 && SYS_fork == 1 && SYS_exit == 2 && SYS_close == 21);
  fd = open("compat.tmp", O_CREATE | O_WRONLY);
  check(fd >= 0 && write(fd, "hello, xv6", 10) == 10);
  check(fstat(fd, &st) == 0 && st.type == T_FILE && st.size == 10 && st.nlink == 1);
  close(fd);
  fd = open("compat.tmp", O_RDONLY);
  check(read(fd, buf, sizeof(buf)) == 10 && memcmp(buf, "hello, xv6", 10) == 0);
  check(write(fd, "x", 1) < 0 && close(fd) == 0);       // opened read-only
  fd = open("compat.tmp", O_RDWR | O_TRUNC);
  check(fstat(fd, &st) == 0 && st.size == 0 && close(fd) == 0);
  check(link("compat.tmp", "compat.lnk") == 0 && stat("compat.lnk", &st) == 0 && st.nlink == 2);
  check(unlink("compat.lnk") == 0 && stat("compat.lnk", &st) < 0 && unlink("compat.tmp") == 0);
  check(mkdir("compat.dir") == 0 && stat("compat.dir", &st) == 0 && st.type == T_DIR);
  check(chdir("compat.dir") == 0 && chdir("..") == 0 && unlink("compat.dir") == 0);
  check(stat("console", &st) == 0 && st.type == T_DEVICE);
  fd = open("/", O_RDONLY);
  while(read(fd, &de, sizeof(de)) == sizeof(de))
    found |= de.inum != 0 && memcmp(de.name, "xv6compat", 10) == 0;   // NUL-padded to DIRSIZ
  check(found && close(fd) == 0);
}

// Memory layout (our KERNBASE: OpenSBI's entry, in RAM), sbrk, sbrklazy, sys_sbrk, malloc.
static void
memory(void)
{
  char *old = sbrk(0), *p;

  check(PGSIZE == 4096 && MAXVA == (1L << 38) && TRAMPOLINE == MAXVA - PGSIZE);
  check(KERNBASE >= 0x80000000L && KERNBASE < PHYSTOP && PHYSTOP - KERNBASE <= (128L << 20));
  check(PGROUNDUP(1) == PGSIZE && PGROUNDDOWN(PGSIZE + 1) == PGSIZE);
  check((p = sbrk(3 * PGSIZE)) == old && p != SBRK_ERROR);
  p[0] = p[3 * PGSIZE - 1] = 1;
  check(sbrk(0) == old + 3 * PGSIZE && sbrk(-3 * PGSIZE) == old + 3 * PGSIZE && sbrk(0) == old);
  p = sbrklazy(16 * PGSIZE);    // a page is allocated when first touched
  p[15 * PGSIZE] = 15;
  check(p == old && p[15 * PGSIZE] == 15 && sbrk(-16 * PGSIZE) == old + 16 * PGSIZE);
  p = sys_sbrk(PGSIZE, SBRK_EAGER);
  p[PGSIZE - 1] = 7;
  check(p == old && sys_sbrk(PGSIZE, SBRK_LAZY) == old + PGSIZE);
  old[PGSIZE] = 8;
  check(old[PGSIZE - 1] == 7 && old[PGSIZE] == 8 && sbrk(-2 * PGSIZE) == old + 2 * PGSIZE);
  // The stack pointer lies in the user stack, the page of our locals, far below TRAPFRAME.
  check(PGROUNDDOWN(r_sp()) == PGROUNDDOWN((uint64)&p) && r_sp() < TRAPFRAME);
  p = malloc(5000);
  check(p != 0 && memset(p, 'z', 5000) == p && p[4999] == 'z');
  free(p);
}

// Both sleeps, processes, pipes, strings, and the printf forms the shell session compares.
int
main(int argc, char *argv[])
{
  int fds[2], status = -1, pid, t0 = uptime();
  char c = 0, s[4];

  check(sleep(2) == 0 && pause(2) == 0 && uptime() >= t0 + 4);
  files();
  memory();
  if((pid = fork()) == 0)
    exit(42);
  check(pid > 0 && wait(&status) == pid && status == 42);
  check(pipe(fds) == 0);
  if((pid = fork()) == 0){
    close(1);
    check(dup(fds[1]) == 1);
    printf("%c", 'p');
    exit(getpid() > 0 ? 0 : 1);
  }
  close(fds[1]);
  check(read(fds[0], &c, 1) == 1 && c == 'p' && wait(&status) == pid && status == 0);
  close(fds[0]);
  if((pid = fork()) == 0)
    for(;;)
      pause(1);
  check(kill(pid) == 0 && wait(0) == pid);
  check(strcmp(memmove(s, "xv6", 4), "xv6") == 0 && strlen(s) == 3 && strchr(s, '6') == s + 2);
  check(atoi("1234") == 1234);
  printf("xv6compat: %d %u %x %p %s %c %ld %lu %lx %%\n",
         -7, 7u, 0xbeef, (void *)0x1000, "str", 'c', -8L, 8UL, 0xabcdefL);
  if(failures == 0)
    printf("xv6compat: ok\n");
  exit(failures ? 1 : 0);
}
