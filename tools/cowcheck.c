// cowcheck, built by grade-cow.py into each grading run's fs.img (the fork-is-cow test):
// does fork share a big address space or copy it?
#include "kernel/types.h"
#include "kernel/memstat.h"
#include "user/user.h"

#define PAGE     4096
#define GROW_MB  32
#define GROW     (GROW_MB * 1024 * 1024)

static void
check(int ok, const char *what)
{
  if(!ok){
    printf("cowcheck: %s failed\n", what);
    exit(1);
  }
}

int
main(void)
{
  struct memstat before, after;
  int fds[2];
  char c = 0;
  char *mem = sbrk(GROW);

  check(mem != SBRK_ERROR, "sbrk");
  for(int off = 0; off < GROW; off += PAGE)
    mem[off] = (char)(off / PAGE + 1);
  check(pipe(fds) >= 0, "pipe");
  check(memstat(&before) >= 0, "memstat");
  int pid = fork();
  check(pid >= 0, "fork");
  if(pid == 0){
    // Parked on the pipe so the parent measures while both share everything.
    close(fds[1]);
    read(fds[0], &c, 1);
    exit(0);
  }
  check(memstat(&after) >= 0, "memstat");
  printf("cowcheck: touched %d pages; fork allocated %d pages; %d mappings shared\n",
         GROW / PAGE, (int)(before.freepages - after.freepages),
         (int)(after.cowshared - before.cowshared));
  write(fds[1], &c, 1);
  close(fds[1]);
  wait(0);
  for(int off = 0; off < GROW; off += PAGE)
    check(mem[off] == (char)(off / PAGE + 1), "parent's memory check");
  printf("cowcheck: done\n");
  exit(0);
}
