// crashwr: the in-OS half of tools/crashtest.py (built with EXTRA_PROGS). Each scenario writes
// files whose contents can be checked after a crash and a reboot; the host kills QEMU at a
// moment the scenario's output tells it, then runs the matching check.
//
//   crashwr init         create the NFILES files cw0.. at generation 0 and make them durable
//   crashwr run          rewrite them forever, one write() per file (<= 5 KiB: one transaction),
//                        several files per round before closing them, plus scratch files (t*)
//                        and directories (d*) created and removed around them
//   crashwr check        every cw file is one whole generation and every scratch file a clean
//                        prefix of its pattern; prints "crashwr check: OK" or "... FAIL"
//   crashwr close N E    N writer processes at once, each creating NCLOSE files k<w>_<i> of
//                        sizes given by E (one write() of up to 12 KiB, so up to three write
//                        chunks), printing "crashwr: closed NAME SIZE cSUM" after each close()
//   crashwr closecheck N E   one line "crashwr: NAME LEN of SIZE" per k file found, each a clean
//                        prefix of whole write chunks (or complete); "crashwr closecheck: OK"
//   crashwr orphan       create, write, unlink while open, write more, make that durable by
//                        closing another written file, print, then sleep forever
//   crashwr orphancheck  the removed name is gone and the other file is there
//   crashwr idle         create and write files and a directory without closing anything,
//                        print, then sleep forever (the system is idle: nobody commits but
//                        the kernel on its own)
//   crashwr idlecheck    all of it is there after the reboot
//   crashwr hogs         as idle, with 60 CPU-bound processes running (then idlecheck)
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "kernel/fs.h"
#include "kernel/stat.h"
#include "user/user.h"

#define NFILES 6
static const int sizes[NFILES] = { 100, 1024, 2000, 3500, 4096, 5120 };
static char buf[16384];

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

// ---- close: several writers; every file whose close() returned must survive whole ----

#define NCLOSE 16                                  // files per writer
#define CHUNK ((MAXOPBLOCKS - 5) * BSIZE)          // WRITE_CHUNK in kernel/file.c

static int
closesize(int w, int i, int e)
{
  return 1 + (int)(((uint)(w * 7919 + i * 4099 + e * 104729)) % 12288);
}

static char
closebyte(int w, int i, int k)
{
  return (char)(w * 37 + i * 11 + k * 13 + (k >> 9));
}

static void
closename(char *s, int w, int i)
{
  s[0] = 'k';
  s[1] = '0' + w;
  s[2] = '_';
  name(s + 3, '0' + (i / 1000) % 10, i);
}

static void
closewriter(int w, int e)
{
  char s[16];
  for(int i = 0; i < NCLOSE; i++){
    int n = closesize(w, i, e);
    closename(s, w, i);
    for(int k = 0; k < n; k++)
      buf[k] = closebyte(w, i, k);
    int fd = open(s, O_CREATE | O_WRONLY);
    if(fd < 0 || write(fd, buf, n) != n){
      printf("crashwr: writer %d cannot write %s\n", w, s);
      exit(1);
    }
    close(fd);
    // The host kills QEMU right after some of these lines; lines of several writers may
    // interleave on the console, so the host only believes lines whose sum matches.
    printf("crashwr: closed %s %d c%d\n", s, n, (w * 3 + i * 7 + n) % 97);
  }
  exit(0);
}

static void
closers(int nw, int e)
{
  if(nw < 1 || nw > 9){
    printf("crashwr close: 1 to 9 writers\n");
    exit(1);
  }
  for(int w = 0; w < nw; w++){
    int pid = fork();
    if(pid < 0){
      printf("crashwr close: fork failed\n");
      exit(1);
    }
    if(pid == 0)
      closewriter(w, e);
  }
  int bad = 0, st;
  for(int w = 0; w < nw; w++){
    wait(&st);
    bad |= st;
  }
  printf(bad ? "crashwr close: FAIL\n" : "crashwr close: done\n");
  exit(bad);
}

// A file may be missing (never created, or created by an operation the crash lost) or any
// prefix of whole write chunks; the host decides which files had to be complete.
static int
closecheckfile(int w, int i, int e)
{
  char s[16];
  int want = closesize(w, i, e), len = 0, n;
  closename(s, w, i);
  int fd = open(s, O_RDONLY);
  if(fd < 0)
    return 0;
  while((n = read(fd, buf, sizeof(buf))) > 0){
    for(int k = 0; k < n; k++){
      if(buf[k] != closebyte(w, i, len + k)){
        printf("crashwr: %s BAD: byte %d is garbage\n", s, len + k);
        close(fd);
        return -1;
      }
    }
    len += n;
  }
  close(fd);
  if(len > want || (len != want && len % CHUNK != 0)){
    printf("crashwr: %s BAD: %d bytes of %d, not a prefix of whole %d-byte write chunks\n",
           s, len, want, CHUNK);
    return -1;
  }
  printf("crashwr: %s %d of %d\n", s, len, want);
  return 0;
}

static void
closecheck(int nw, int e)
{
  int bad = 0;
  for(int w = 0; w < nw; w++)
    for(int i = 0; i < NCLOSE; i++)
      if(closecheckfile(w, i, e) < 0)
        bad = 1;
  printf(bad ? "crashwr closecheck: FAIL\n" : "crashwr closecheck: OK\n");
  exit(bad);
}

// ---- orphan: a file removed while still open ----

static void
sleepforever(void)
{
  for(;;)
    pause(100);
}

static int
writepattern(int fd, int id, int off, int n)
{
  for(int k = 0; k < n; k++)
    buf[k] = scratch(id, off + k);
  return write(fd, buf, n) == n ? 0 : -1;
}

static void
orphan(void)
{
  int fd = open("orphan", O_CREATE | O_RDWR);
  if(fd < 0 || writepattern(fd, 1, 0, 8192) < 0 || unlink("orphan") < 0 ||
     writepattern(fd, 1, 8192, 2048) < 0){
    printf("crashwr orphan: cannot create, write and unlink the file\n");
    exit(1);
  }
  // Closing a file opened for writing makes every finished call durable, the unlink too.
  int fd2 = open("orphan-flush", O_CREATE | O_WRONLY);
  if(fd2 < 0 || writepattern(fd2, 2, 0, 100) < 0){
    printf("crashwr orphan: cannot write orphan-flush\n");
    exit(1);
  }
  close(fd2);
  printf("crashwr orphan: removed while open, sleeping\n");
  sleepforever();
}

static void
orphancheck(void)
{
  struct stat st;
  int bad = 0;
  if(stat("orphan", &st) == 0){
    printf("crashwr: the removed name 'orphan' is back\n");
    bad = 1;
  }
  if(stat("orphan-flush", &st) < 0 || st.size != 100){
    printf("crashwr: orphan-flush missing or short after its close() returned\n");
    bad = 1;
  }
  printf(bad ? "crashwr orphancheck: FAIL\n" : "crashwr orphancheck: OK\n");
  exit(bad);
}

// ---- idle: finished calls, then nothing but sleeping processes ----

#define IDLESIZE 3000

static void
idle(void)
{
  int fd = open("idle", O_CREATE | O_RDWR);
  int fd2 = open("idle2", O_CREATE | O_RDWR);
  if(fd < 0 || fd2 < 0 || writepattern(fd, 3, 0, IDLESIZE) < 0 ||
     writepattern(fd2, 4, 0, 100) < 0 || mkdir("idled") < 0){
    printf("crashwr idle: cannot create the files\n");
    exit(1);
  }
  // Nothing is closed: close() would make it durable, which is not what is tested here.
  printf("crashwr idle: written, sleeping\n");
  sleepforever();
}

// ---- hogs: the same with 60 CPU-bound processes running (checked by idlecheck) ----

#define NHOGS 60

static void
hogs(void)
{
  for(int i = 0; i < NHOGS; i++){
    int pid = fork();
    if(pid < 0){
      printf("crashwr hogs: fork %d failed\n", i);
      exit(1);
    }
    if(pid == 0)
      for(;;)
        ;
  }
  idle();
}

static int
idlecheckfile(char *s, int id, int want)
{
  int fd = open(s, O_RDONLY);
  if(fd < 0){
    printf("crashwr: %s missing\n", s);
    return -1;
  }
  int n = read(fd, buf, sizeof(buf));
  close(fd);
  if(n != want){
    printf("crashwr: %s has %d bytes, not %d\n", s, n, want);
    return -1;
  }
  for(int k = 0; k < n; k++){
    if(buf[k] != scratch(id, k)){
      printf("crashwr: %s byte %d is garbage\n", s, k);
      return -1;
    }
  }
  return 0;
}

static void
idlecheck(void)
{
  struct stat st;
  int bad = 0;
  if(idlecheckfile("idle", 3, IDLESIZE) < 0 || idlecheckfile("idle2", 4, 100) < 0)
    bad = 1;
  if(stat("idled", &st) < 0 || st.type != T_DIR){
    printf("crashwr: directory idled missing\n");
    bad = 1;
  }
  printf(bad ? "crashwr idlecheck: FAIL\n" : "crashwr idlecheck: OK\n");
  exit(bad);
}

int
main(int argc, char **argv)
{
  char *cmd = argc >= 2 ? argv[1] : "";
  if(argc == 2 && strcmp(cmd, "init") == 0)
    init();
  else if(argc == 2 && strcmp(cmd, "run") == 0)
    run();
  else if(argc == 2 && strcmp(cmd, "check") == 0)
    check();
  else if(argc == 4 && strcmp(cmd, "close") == 0)
    closers(atoi(argv[2]), atoi(argv[3]));
  else if(argc == 4 && strcmp(cmd, "closecheck") == 0)
    closecheck(atoi(argv[2]), atoi(argv[3]));
  else if(argc == 2 && strcmp(cmd, "orphan") == 0)
    orphan();
  else if(argc == 2 && strcmp(cmd, "orphancheck") == 0)
    orphancheck();
  else if(argc == 2 && strcmp(cmd, "idle") == 0)
    idle();
  else if(argc == 2 && strcmp(cmd, "idlecheck") == 0)
    idlecheck();
  else if(argc == 2 && strcmp(cmd, "hogs") == 0)
    hogs();
  else
    printf("usage: crashwr init|run|check|close N E|closecheck N E|orphan|orphancheck|"
           "idle|idlecheck|hogs\n");
  exit(0);
}
