// stressfs: several processes each write a file, read it back and check every byte, concurrently,
// so the file system's locking and log see overlapping transactions. Prints "stressfs ok" only if
// every process read back exactly what it wrote.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define NWORKER 4     // concurrent processes
#define NCHUNK  20    // chunks per file (more than NDIRECT blocks, so the indirect block is used)
#define CHUNK   512   // bytes per write

static char buf[CHUNK];

// The byte worker id stores at offset i of chunk c: differs between workers and chunks.
static char
pattern(int id, int c, int i)
{
  return 'a' + (id * 7 + c * 3 + i) % 26;
}

static void
fill(int id, int c)
{
  int i;

  for(i = 0; i < CHUNK; i++)
    buf[i] = pattern(id, c, i);
}

static int
check(int id, int c)
{
  int i;

  for(i = 0; i < CHUNK; i++){
    if(buf[i] != pattern(id, c, i))
      return -1;
  }
  return 0;
}

static int
writefile(int id, const char *name)
{
  int fd, c;

  if((fd = open(name, O_CREATE | O_TRUNC | O_RDWR)) < 0){
    printf("stressfs: cannot open %s\n", name);
    return -1;
  }
  for(c = 0; c < NCHUNK; c++){
    fill(id, c);
    if(write(fd, buf, CHUNK) != CHUNK){
      printf("stressfs: write error in %s\n", name);
      close(fd);
      return -1;
    }
  }
  close(fd);
  return 0;
}

static int
readfile(int id, const char *name)
{
  struct stat st;
  int fd, c;

  if((fd = open(name, O_RDONLY)) < 0){
    printf("stressfs: cannot open %s\n", name);
    return -1;
  }
  if(fstat(fd, &st) < 0 || st.size != NCHUNK * CHUNK){
    printf("stressfs: %s has the wrong size\n", name);
    close(fd);
    return -1;
  }
  for(c = 0; c < NCHUNK; c++){
    if(read(fd, buf, CHUNK) != CHUNK || check(id, c) < 0){
      printf("stressfs: bad data in %s chunk %d\n", name, c);
      close(fd);
      return -1;
    }
  }
  if(read(fd, buf, 1) != 0){
    printf("stressfs: %s is too long\n", name);
    close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

// One worker's whole job; its result is the process's exit status.
static int
worker(int id)
{
  char name[] = "stressfs0";

  name[sizeof(name) - 2] = '0' + id;
  if(writefile(id, name) < 0 || readfile(id, name) < 0)
    return 1;
  if(unlink(name) < 0){
    printf("stressfs: cannot unlink %s\n", name);
    return 1;
  }
  return 0;
}

int
main(void)
{
  int i, pid, status, started = 0, ok = 1;

  printf("stressfs starting\n");
  for(i = 0; i < NWORKER; i++){
    pid = fork();
    if(pid < 0){
      printf("stressfs: fork failed\n");
      ok = 0;
      break;
    }
    if(pid == 0)
      exit(worker(i));
    started++;
  }
  for(; started > 0; started--){
    if(wait(&status) < 0 || status != 0)
      ok = 0;
  }
  if(!ok){
    printf("stressfs failed\n");
    exit(1);
  }
  printf("stressfs ok\n");
  exit(0);
}
