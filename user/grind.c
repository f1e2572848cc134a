// grind: a random stress of system calls. NWORKER processes each run random sequences of file,
// pipe, process and memory calls in their own directory; the parent restarts any that end or die.
// `grind` runs until stopped; `grind N` stops after N generations of workers and checks for leaks.
#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/riscv.h"
#include "kernel/memlayout.h"
#include "kernel/memstat.h"
#include "user/user.h"

#define NWORKER    4
#define LIFEOPS    400               // random operations in one worker's life
#define KIDOPS     20                // ... and in the life of a worker's child
#define MAXFD      6                 // descriptors a worker keeps open at once
#define MAXKIDS    4                 // children a worker keeps alive at once
#define HEAPLIMIT  (4*1024*1024)     // a worker never grows its heap beyond this
#define LAZYCHUNK  (256*1024)
#define FAULTODDS  1500              // about one deliberate crash per this many operations
#define IOSZ       3000
#define NELEM(x)   ((int)(sizeof(x)/sizeof((x)[0])))

static char *files[] = { "a", "b", "c", "d0/a", "d0/b", "d1/c" };
static char *dirs[] = { "d0", "d1" };
static char iobuf[IOSZ];
static uint64 rstate;
static char home[16];                // this worker's directory, absolute

// Addresses that system calls must refuse: kernel memory, beyond MAXVA, the trapframe.
static uint64 badaddrs[] = { KERNBASE, PHYSTOP - 16, TRAPFRAME, MAXVA, MAXVA + PGSIZE,
                             0xffffffffffffffffUL, 1UL << 50 };

static uint
rnd(void)
{
  rstate ^= rstate << 13;
  rstate ^= rstate >> 7;
  rstate ^= rstate << 17;
  return (uint)(rstate >> 16);
}

static char *
pick(char **names, int n)
{
  return names[rnd() % n];
}

static void
mkname(char *dst, char *prefix, int n)
{
  char tmp[12];
  int k = 0;
  while(*prefix)
    *dst++ = *prefix++;
  do { tmp[k++] = '0' + n % 10; n /= 10; } while(n > 0);
  while(k > 0)
    *dst++ = tmp[--k];
  *dst = 0;
}

// One random file-system operation on this process's names. fds holds *nfd open descriptors.
static void
fileop(int *fds, int *nfd)
{
  int fd = *nfd > 0 ? fds[rnd() % *nfd] : -1;
  struct stat st;

  switch(rnd() % 14){
  case 0:
  case 1: {
    int f = open(pick(files, NELEM(files)), O_CREATE | O_RDWR | (rnd() % 4 == 0 ? O_TRUNC : 0));
    if(f >= 0 && *nfd < MAXFD)
      fds[(*nfd)++] = f;
    else if(f >= 0)
      close(f);
    break;
  }
  case 2:
    if(*nfd > 0){
      int i = rnd() % *nfd;
      close(fds[i]);
      fds[i] = fds[--(*nfd)];
    }
    break;
  case 3:
  case 4:
    if(fd >= 0)
      write(fd, iobuf, rnd() % IOSZ);
    break;
  case 5:
    if(fd >= 0)
      read(fd, iobuf, rnd() % IOSZ);
    break;
  case 6:
    unlink(pick(files, NELEM(files)));
    break;
  case 7:
    mkdir(pick(dirs, NELEM(dirs)));
    break;
  case 8:
    unlink(pick(dirs, NELEM(dirs)));   // fails while the directory has entries
    break;
  case 9:
    link(pick(files, NELEM(files)), pick(files, NELEM(files)));
    break;
  case 10:
    if(chdir(pick(dirs, NELEM(dirs))) == 0){
      int f = open(pick(files, 3), O_CREATE | O_RDWR);
      if(f >= 0){
        write(f, iobuf, rnd() % 100);
        close(f);
      }
      chdir(home);
    }
    break;
  case 11:
    if(fd >= 0)
      fstat(fd, &st);
    break;
  case 12:
    if(fd >= 0){                       // bad buffers must fail with -1, never hurt us
      uint64 a = badaddrs[rnd() % NELEM(badaddrs)];
      int w = write(fd, (char *)a, 1 + rnd() % 500);
      int r = read(fd, (char *)a, 1 + rnd() % 500);   // 0 at end of file is fine: nothing copied
      if(w != -1 || r > 0)
        printf("grind: bad address %p accepted: write %d, read %d\n", (void *)a, w, r);
    }
    break;
  case 13:
    if(fd >= 0){
      int d = dup(fd);
      if(d >= 0)
        close(d);
    }
    break;
  }
}

// A worker's child: a few file operations, perhaps a pipe message, then exit.
static void
kid(int wfd)
{
  int fds[MAXFD], nfd = 0;
  for(int i = 0; i < KIDOPS; i++)
    fileop(fds, &nfd);
  if(wfd >= 0)
    write(wfd, "k", 1);
  if(rnd() % 4 == 0)
    pause(rnd() % 3);
  exit(rnd() % 3);
}

// Waits for one child and drops it from kids; returns 0 if there was none.
static int
reap(int *kids, int *nkid)
{
  int pid = wait(0);
  if(pid < 0){
    *nkid = 0;
    return 0;
  }
  for(int i = 0; i < *nkid; i++)
    if(kids[i] == pid){
      kids[i] = kids[--(*nkid)];
      break;
    }
  return 1;
}

// One random operation of a worker: files mostly, then processes, pipes and memory.
static void
workop(int *fds, int *nfd, int *kids, int *nkid, char *heapbase)
{
  switch(rnd() % 12){
  case 0: case 1: case 2: case 3: case 4:
    fileop(fds, nfd);
    break;
  case 5:                              // fork a child, sometimes talking through a pipe
    if(*nkid < MAXKIDS){
      int p[2], usepipe = rnd() % 2 && pipe(p) == 0;
      int pid = fork();
      if(pid == 0){
        if(usepipe)
          close(p[0]);
        kid(usepipe ? p[1] : -1);
      }
      if(pid > 0)
        kids[(*nkid)++] = pid;
      if(usepipe){
        close(p[1]);
        if(pid > 0)
          read(p[0], iobuf, 1);        // returns at the child's byte or its exit
        close(p[0]);
      }
    }
    break;
  case 6:                              // reap a child
    if(*nkid > 0)
      reap(kids, nkid);
    break;
  case 7:                              // kill one of our children
    if(*nkid > 0){
      kill(kids[rnd() % *nkid]);
    }
    break;
  case 8: {                            // pipe traffic within this process
    int p[2];
    if(pipe(p) == 0){
      // at least 1: we hold the write end, so an empty read would block
      int n = 1 + rnd() % 400;
      write(p[1], iobuf, n);
      read(p[0], iobuf, rnd() % 500);
      close(p[0]);
      close(p[1]);
    }
    break;
  }
  case 9: {                            // grow or shrink the heap, eagerly or lazily
    char *top = sbrk(0);
    int grow = rnd() % 2;
    if(grow && top - heapbase < HEAPLIMIT){
      int n = rnd() % (64*1024);
      char *p = rnd() % 2 ? sbrk(n) : sbrklazy(n);
      if(p != SBRK_ERROR && n > 0){
        p[0] = 1;
        p[n - 1] = 2;
      }
    } else if(top > heapbase){
      sbrk(-(int)((rnd() % (top - heapbase)) + 1));
    }
    break;
  }
  case 10: {                           // a lazy region touched here and there, then given back
    char *p = sbrklazy(LAZYCHUNK);
    if(p != SBRK_ERROR){
      for(int i = 0; i < 8; i++)
        p[rnd() % LAZYCHUNK] = i;
      sbrk(-LAZYCHUNK);
    }
    break;
  }
  case 11:
    if(rnd() % (FAULTODDS / 12) == 0)    // rarely: die by a fault, for the parent to restart
      *(volatile char *)(badaddrs[rnd() % NELEM(badaddrs)]) = 1;
    else if(rnd() % 2)
      pause(rnd() % 2);
    else {
      char *argv[] = { "grind-nothing", 0 };
      exec("/grind-no-such-program", argv);
    }
    break;
  }
}

static void
worker(int id, uint64 seed)
{
  int fds[MAXFD], nfd = 0, kids[MAXKIDS], nkid = 0;
  char *heapbase = sbrk(0);

  rstate = seed | 1;
  mkname(home, "/grind", id);
  mkdir(home);
  if(chdir(home) < 0){
    printf("grind: cannot enter %s\n", home);
    exit(1);
  }
  for(int i = 0; i < IOSZ; i++)
    iobuf[i] = 'a' + i % 26;
  for(int op = 0; op < LIFEOPS; op++){
    workop(fds, &nfd, kids, &nkid, heapbase);
    if(nkid > 0 && rnd() % 16 == 0)
      while(nkid > 0 && reap(kids, &nkid))
        ;
  }
  // kids[] holds only live, unreaped children, so these pids cannot belong to anyone else
  for(int i = 0; i < nkid; i++)
    kill(kids[i]);
  while(wait(0) > 0)
    ;
  exit(0);
}

static int
spawn(int id, uint64 seed)
{
  int pid = fork();
  if(pid == 0)
    worker(id, seed);
  return pid;
}

static void
rmpath(char *a, char *b, char *c)
{
  char path[48];
  strcpy(path, a);
  if(b){
    strcpy(path + strlen(path), "/");
    strcpy(path + strlen(path), b);
  }
  if(c){
    strcpy(path + strlen(path), "/");
    strcpy(path + strlen(path), c);
  }
  unlink(path);
}

// Removes everything the workers may have left behind: leaves first, then directories.
static void
cleanup(void)
{
  static char *leaves[] = { "a", "b", "c" };
  char dir[16];
  for(int id = 0; id < NWORKER; id++){
    mkname(dir, "/grind", id);
    for(int d = 0; d < NELEM(dirs); d++){
      for(int i = 0; i < NELEM(leaves); i++)
        rmpath(dir, dirs[d], leaves[i]);
      rmpath(dir, dirs[d], 0);
    }
    for(int i = 0; i < NELEM(leaves); i++)
      rmpath(dir, leaves[i], 0);
    rmpath(dir, 0, 0);
  }
}

int
main(int argc, char *argv[])
{
  int rounds = argc > 1 ? atoi(argv[1]) : 0;   // 0: forever
  int pids[NWORKER], started = 0, live = 0, done = 0;
  struct memstat ms;
  uint64 before = 0;

  if(rounds > 0){
    cleanup();
    if(memstat(&ms) == 0)
      before = ms.freepages;
  }
  for(int id = 0; id < NWORKER; id++){
    pids[id] = spawn(id, uptime() * 7919 + id * 104729 + started);
    started++;
    if(pids[id] > 0)
      live++;
  }
  while(live > 0){
    int st, pid = wait(&st);
    if(pid < 0)
      break;
    int id;
    for(id = 0; id < NWORKER && pids[id] != pid; id++)
      ;
    if(id == NWORKER)
      continue;                        // not a worker (cannot happen: orphans go to init)
    live--;
    pids[id] = -1;
    done++;
    write(1, ".", 1);
    if(rounds > 0 && started >= rounds * NWORKER)
      continue;
    while((pids[id] = spawn(id, uptime() * 7919 + id * 104729 + started)) < 0)
      pause(5);                        // out of processes or memory for now: try again soon
    started++;
    live++;
  }
  printf("\ngrind: %d worker lives done\n", done);
  cleanup();
  if(rounds > 0 && before > 0){
    // orphans of crashed workers finish on their own and are reaped by init
    for(int i = 0; i < 100 && memstat(&ms) == 0 && ms.freepages != before; i++)
      pause(2);
    if(ms.freepages != before){
      printf("grind: %d pages free before, %d after: leaked\n", (int)before, (int)ms.freepages);
      exit(1);
    }
    printf("grind: no pages leaked\n");
  }
  exit(0);
}
