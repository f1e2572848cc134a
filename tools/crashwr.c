// crashwr: the in-OS half of tools/crashtest.py (built with EXTRA_PROGS). Writes files whose
// whole contents say which generation they are, so that after a crash each can be checked to
// be wholly one generation (old or new), never a mix.
//
//   crashwr init    create the NFILES files cw0.. at generation 0 and make them durable
//   crashwr run     rewrite them forever, one write() per file (<= 5 KiB: one transaction),
//                   several files per round before closing them, plus scratch files (t*) and
//                   directories (d*) created and removed around them
//   crashwr check   verify every cw file is one whole generation and every scratch file is a
//                   clean prefix of its pattern; prints "crashwr check: OK" or "... FAIL"
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "kernel/fs.h"
#include "kernel/stat.h"
#include "user/user.h"

#define NFILES 6
static const int sizes[NFILES] = { 100, 1024, 2000, 3500, 4096, 5120 };
static char buf[8192];

// Byte k of file f at generation g. Bytes 0..3 hold g itself, so a reader knows which
// generation the rest must be.
static void
fill(int f, uint g, int n)
{
  for(int k = 0; k < n; k++)
    buf[k] = (char)(g * 131 + f * 17 + k * 7 + (k >> 8));
  memmove(buf, &g, sizeof(g));
}

static char
scratch(int id, int k)
{
  return (char)(id * 31 + k * 7);
}

static void
name(char *s, char c, int i)
{
  s[0] = c;
  s[1] = '0' + (i / 100) % 10;
  s[2] = '0' + (i / 10) % 10;
  s[3] = '0' + i % 10;
  s[4] = 0;
}

static void
cwname(char *s, int f)
{
  s[0] = 'c'; s[1] = 'w'; s[2] = '0' + f; s[3] = 0;
}

static int
writefile(int fd, int f, uint g)
{
  fill(f, g, sizes[f]);
  return write(fd, buf, sizes[f]) == sizes[f] ? 0 : -1;
}

static void
init(void)
{
  char s[8];
  for(int f = 0; f < NFILES; f++){
    cwname(s, f);
    int fd = open(s, O_CREATE | O_RDWR | O_TRUNC);
    if(fd < 0 || writefile(fd, f, 0) < 0){
      printf("crashwr: cannot create %s\n", s);
      exit(1);
    }
    close(fd);
  }
  printf("crashwr init: done\n");
}

static void
run(void)
{
  char s[8];
  int fds[NFILES];
  for(uint g = 1; ; g++){
    // Rewrite every file in place; the closes come after all writes, so with group commit
    // several whole-file writes share one transaction.
    for(int f = 0; f < NFILES; f++){
      cwname(s, f);
      if((fds[f] = open(s, O_RDWR)) < 0 || writefile(fds[f], f, g) < 0){
        printf("crashwr: rewrite of %s failed\n", s);
        exit(1);
      }
    }
    for(int f = 0; f < NFILES; f++)
      close(fds[f]);

    // Scratch files of a few KiB written in 1 KiB calls, and directories, created and
    // removed: block and inode allocation and freeing for fsck to check.
    int id = g % 40;
    name(s, 't', id);
    unlink(s);
    int fd = open(s, O_CREATE | O_WRONLY);
    if(fd >= 0){
      int n = 1024 * (1 + g % 9);
      for(int k = 0; k < n; k++)
        buf[k] = scratch(id, k);
      for(int off = 0; off < n; off += 1024)
        write(fd, buf + off, 1024);
      close(fd);
    }
    name(s, 'd', g % 7);
    if(mkdir(s) < 0)
      unlink(s);
    if(g % 50 == 0)
      printf("crashwr: generation %d\n", g);
  }
}

static int
checkfile(int f)
{
  char s[8];
  cwname(s, f);
  int fd = open(s, O_RDONLY);
  if(fd < 0){
    printf("crashwr: %s missing\n", s);
    return -1;
  }
  static char got[8192];
  int n = read(fd, got, sizeof(got));
  close(fd);
  uint g;
  if(n != sizes[f]){
    printf("crashwr: %s has %d bytes, not %d\n", s, n, sizes[f]);
    return -1;
  }
  memmove(&g, got, sizeof(g));
  fill(f, g, sizes[f]);
  for(int k = 0; k < n; k++){
    if(got[k] != buf[k]){
      printf("crashwr: %s MIXED: generation %d header, byte %d differs\n", s, g, k);
      return -1;
    }
  }
  printf("crashwr: %s generation %d whole\n", s, g);
  return 0;
}

// A scratch file may be any length (its writes are separate calls) but every byte present
// must be the pattern's: no garbage from blocks that did not belong to it.
static int
checkscratch(char *s, int id)
{
  int fd = open(s, O_RDONLY), n, off = 0;
  if(fd < 0)
    return 0;
  while((n = read(fd, buf, 1024)) > 0){
    for(int k = 0; k < n; k++){
      if(buf[k] != scratch(id, off + k)){
        printf("crashwr: %s byte %d is garbage\n", s, off + k);
        close(fd);
        return -1;
      }
    }
    off += n;
  }
  close(fd);
  return 0;
}

static void
check(void)
{
  int bad = 0;
  for(int f = 0; f < NFILES; f++)
    if(checkfile(f) < 0)
      bad = 1;
  char s[8];
  for(int id = 0; id < 40; id++){
    name(s, 't', id);
    if(checkscratch(s, id) < 0)
      bad = 1;
  }
  printf(bad ? "crashwr check: FAIL\n" : "crashwr check: OK\n");
  exit(bad);
}

int
main(int argc, char **argv)
{
  if(argc == 2 && strcmp(argv[1], "init") == 0)
    init();
  else if(argc == 2 && strcmp(argv[1], "run") == 0)
    run();
  else if(argc == 2 && strcmp(argv[1], "check") == 0)
    check();
  else
    printf("usage: crashwr init|run|check\n");
  exit(0);
}
