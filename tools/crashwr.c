// crashwr: the in-OS half of tools/crashtest.py (built with EXTRA_PROGS). Each scenario writes
// files whose contents can be checked after a crash and a reboot; the host kills QEMU at a
// moment the scenario's output tells it, then runs the matching check.
//
//   crashwr init         create the NFILES files cw0.. at generation 0 and make them durable
//   crashwr run          rewrite them forever, one write() per file (<= 5 KiB: one transaction),
//                        several files per round before closing them, plus scratch files (t*)
//                        and directories (d*) created and removed around them
//   crashwr check        every cw file is one whole generation and every scratch file a clean
//                        prefix of its pattern
//   crashwr close N E    N writer processes at once, each creating NCLOSE files k<w>_<i> of
//                        sizes given by E (one write() of up to 12 KiB, so up to three write
//                        chunks), printing "crashwr: closed NAME SIZE cSUM" after each close()
//   crashwr closecheck N E   one line "crashwr: NAME LEN of SIZE" per k file found, each a clean
//                        prefix of whole write chunks (or complete)
//   crashwr orphan       create, write, unlink while open, write more, make that durable by
//                        closing another written file, print, then sleep forever
//   crashwr orphancheck  the removed name is gone and the other file is there
//   crashwr idle         create and write files and a directory without closing anything,
//                        print, then sleep forever (the system is idle: nobody commits but
//                        the kernel on its own)
//   crashwr idlecheck    all of it is there after the reboot
//   crashwr hogs         as idle, with 60 CPU-bound processes running (then idlecheck)
// Every scenario and check ends with one line "crashwr NAME: OK" or "crashwr NAME: FAIL".
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "kernel/fs.h"
#include "kernel/stat.h"
#include "user/user.h"

#define NFILES 6                                   // cw files
#define NSCRATCH 40                                // t files
#define NCLOSE 16                                  // k files per writer
#define CHUNK ((MAXOPBLOCKS - 5) * BSIZE)          // WRITE_CHUNK in kernel/file.c
#define IDLESIZE 3000
static const int sizes[NFILES] = { 100, 1024, 2000, 3500, 4096, 5120 };
static char buf[16384];

// Byte k of the pattern seed. Every file holds one pattern, so a reader can tell its bytes
// from garbage (blocks that belonged to another file, or were never written).
static char
pat(int seed, int k)
{
  return (char)(seed * 31 + k * 7 + (k >> 8));
}

static void
fill(int seed, int off, int n)
{
  for(int k = 0; k < n; k++)
    buf[k] = pat(seed, off + k);
}

// n bytes of pattern seed, starting at its byte off, in one write().
static int
putpat(int fd, int seed, int off, int n)
{
  fill(seed, off, n);
  return write(fd, buf, n) == n ? 0 : -1;
}

// Reads fd to its end, byte off of the file onwards; each byte must be pattern seed's.
// Returns the file's length, or -1 after naming the first wrong byte.
static int
getpat(int fd, char *s, int seed, int off)
{
  int n;
  while((n = read(fd, buf, sizeof(buf))) > 0){
    for(int k = 0; k < n; k++){
      if(buf[k] != pat(seed, off + k)){
        printf("crashwr: %s byte %d is garbage\n", s, off + k);
        return -1;
      }
    }
    off += n;
  }
  return off;
}

// getpat() of the whole file s; -2 if there is no such file.
static int
patfile(char *s, int seed)
{
  int fd = open(s, O_RDONLY);
  if(fd < 0)
    return -2;
  int n = getpat(fd, s, seed, 0);
  close(fd);
  return n;
}

// s = prefix followed by i in n decimal digits.
static char *
name(char *s, char *prefix, int i, int n)
{
  int len = strlen(prefix);
  memmove(s, prefix, len);
  for(s[len + n] = 0; n > 0; n--, i /= 10)
    s[len + n - 1] = '0' + i % 10;
  return s;
}

static void
verdict(char *what, int bad)
{
  printf("crashwr %s: %s\n", what, bad ? "FAIL" : "OK");
  exit(bad);
}

static void
sleepforever(void)
{
  for(;;)
    pause(100);
}

// ---- init, run, check: files rewritten whole, one generation at a time ----

// File cwF at generation g: its bytes 0..3 hold g, so a reader knows which pattern the
// rest must be; written in one call, so one transaction.
static int
writegen(int fd, int f, uint g)
{
  fill(g * NFILES + f, 0, sizes[f]);
  memmove(buf, &g, sizeof(g));
  return write(fd, buf, sizes[f]) == sizes[f] ? 0 : -1;
}

static void
init(int unused1, int unused2)
{
  char s[8];
  for(int f = 0; f < NFILES; f++){
    int fd = open(name(s, "cw", f, 1), O_CREATE | O_RDWR | O_TRUNC);
    if(fd < 0 || writegen(fd, f, 0) < 0){
      printf("crashwr: cannot create %s\n", s);
      verdict("init", 1);
    }
    close(fd);
  }
  verdict("init", 0);
}

static void
run(int unused1, int unused2)
{
  char s[8];
  int fds[NFILES];
  for(uint g = 1; ; g++){
    // Every file rewritten in place; the closes come after all writes, so with group
    // commit several whole-file writes share one transaction.
    for(int f = 0; f < NFILES; f++){
      if((fds[f] = open(name(s, "cw", f, 1), O_RDWR)) < 0 || writegen(fds[f], f, g) < 0){
        printf("crashwr: rewrite of %s failed\n", s);
        verdict("run", 1);
      }
    }
    for(int f = 0; f < NFILES; f++)
      close(fds[f]);

    // Scratch files of a few KiB written in 1 KiB calls, and directories, created and
    // removed: block and inode allocation and freeing for fsck to check.
    int id = g % NSCRATCH, fd;
    unlink(name(s, "t", id, 3));
    if((fd = open(s, O_CREATE | O_WRONLY)) >= 0){
      for(int off = 0; off < 1024 * (1 + g % 9); off += 1024)
        putpat(fd, id, off, 1024);
      close(fd);
    }
    if(mkdir(name(s, "d", g % 7, 3)) < 0)
      unlink(s);
    if(g % 50 == 0)
      printf("crashwr: generation %d\n", g);
  }
}

static int
checkgen(int f)
{
  char s[8];
  uint g = 0;
  int fd = open(name(s, "cw", f, 1), O_RDONLY), n = -1;
  if(fd >= 0 && read(fd, &g, sizeof(g)) == sizeof(g))
    n = getpat(fd, s, g * NFILES + f, sizeof(g));
  if(fd >= 0)
    close(fd);
  if(n != sizes[f]){
    printf("crashwr: %s is missing, short or mixed (%d bytes of %d)\n", s, n, sizes[f]);
    return -1;
  }
  printf("crashwr: %s generation %d whole\n", s, g);
  return 0;
}

// A scratch file may have any length (its writes are separate calls), but every byte in it
// must be its pattern's.
static void
check(int unused1, int unused2)
{
  char s[8];
  int bad = 0;
  for(int f = 0; f < NFILES; f++)
    bad |= checkgen(f) < 0;
  for(int id = 0; id < NSCRATCH; id++)
    bad |= patfile(name(s, "t", id, 3), id) == -1;
  verdict("check", bad);
}

// ---- close: several writers; every file whose close() returned must survive whole ----

static int
closesize(int w, int i, int e)
{
  return 1 + (int)(((uint)(w * 7919 + i * 4099 + e * 104729)) % 12288);
}

static char *
closename(char *s, int w, int i)
{
  char prefix[] = { 'k', '0' + w, '_', 0 };
  return name(s, prefix, i, 4);
}

static void
closewriter(int w, int e)
{
  char s[16];
  for(int i = 0; i < NCLOSE; i++){
    int n = closesize(w, i, e);
    int fd = open(closename(s, w, i), O_CREATE | O_WRONLY);
    if(fd < 0 || putpat(fd, w * NCLOSE + i, 0, n) < 0){
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
  int bad = nw < 1 || nw > 9, st;
  for(int w = 0; w < nw && !bad; w++){
    int pid = fork();
    if(pid == 0)
      closewriter(w, e);
    bad = pid < 0;
  }
  for(int w = 0; w < nw && wait(&st) >= 0; w++)
    bad |= st;
  verdict("close", bad);
}

// A file may be missing (never created, or created by an operation the crash lost) or any
// prefix of whole write chunks; the host decides which files had to be complete.
static void
closecheck(int nw, int e)
{
  char s[16];
  int bad = 0;
  for(int w = 0; w < nw; w++){
    for(int i = 0; i < NCLOSE; i++){
      int want = closesize(w, i, e);
      int len = patfile(closename(s, w, i), w * NCLOSE + i);
      if(len == -2)
        continue;
      if(len < 0 || len > want || (len != want && len % CHUNK != 0)){
        printf("crashwr: %s BAD: %d bytes of %d, not a prefix of whole %d-byte chunks\n",
               s, len, want, CHUNK);
        bad = 1;
      } else {
        printf("crashwr: %s %d of %d\n", s, len, want);
      }
    }
  }
  verdict("closecheck", bad);
}

// ---- orphan: a file removed while still open ----

static void
orphan(int unused1, int unused2)
{
  int fd = open("orphan", O_CREATE | O_RDWR);
  if(fd < 0 || putpat(fd, 1, 0, 8192) < 0 || unlink("orphan") < 0 ||
     putpat(fd, 1, 8192, 2048) < 0){
    printf("crashwr orphan: cannot create, write and unlink the file\n");
    exit(1);
  }
  // Closing a file opened for writing makes every finished call durable, the unlink too.
  int fd2 = open("orphan-flush", O_CREATE | O_WRONLY);
  if(fd2 < 0 || putpat(fd2, 2, 0, 100) < 0){
    printf("crashwr orphan: cannot write orphan-flush\n");
    exit(1);
  }
  close(fd2);
  printf("crashwr orphan: removed while open, sleeping\n");
  sleepforever();
}

static void
orphancheck(int unused1, int unused2)
{
  struct stat st;
  int bad = 0;
  if(stat("orphan", &st) == 0){
    printf("crashwr: the removed name 'orphan' is back\n");
    bad = 1;
  }
  if(patfile("orphan-flush", 2) != 100){
    printf("crashwr: orphan-flush missing or short after its close() returned\n");
    bad = 1;
  }
  verdict("orphancheck", bad);
}

// ---- idle: finished calls, then nothing but sleeping processes ----

static void
idle(int unused1, int unused2)
{
  int fd = open("idle", O_CREATE | O_RDWR);
  int fd2 = open("idle2", O_CREATE | O_RDWR);
  if(fd < 0 || fd2 < 0 || putpat(fd, 3, 0, IDLESIZE) < 0 ||
     putpat(fd2, 4, 0, 100) < 0 || mkdir("idled") < 0){
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
hogs(int unused1, int unused2)
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
  idle(0, 0);
}

static void
idlecheck(int unused1, int unused2)
{
  struct stat st;
  int bad = 0;
  if(patfile("idle", 3) != IDLESIZE || patfile("idle2", 4) != 100){
    printf("crashwr: idle or idle2 missing or short\n");
    bad = 1;
  }
  if(stat("idled", &st) < 0 || st.type != T_DIR){
    printf("crashwr: directory idled missing\n");
    bad = 1;
  }
  verdict("idlecheck", bad);
}

static struct {
  char *name;
  int nargs;
  void (*run)(int, int);
} scenarios[] = {
  { "init", 0, init }, { "run", 0, run }, { "check", 0, check },
  { "close", 2, closers }, { "closecheck", 2, closecheck },
  { "orphan", 0, orphan }, { "orphancheck", 0, orphancheck },
  { "idle", 0, idle }, { "idlecheck", 0, idlecheck }, { "hogs", 0, hogs },
};

int
main(int argc, char **argv)
{
  for(int i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++){
    if(argc >= 2 && strcmp(argv[1], scenarios[i].name) == 0 && argc == 2 + scenarios[i].nargs)
      scenarios[i].run(argc > 2 ? atoi(argv[2]) : 0, argc > 3 ? atoi(argv[3]) : 0);
  }
  printf("usage: crashwr init|run|check|close N E|closecheck N E|orphan|orphancheck|"
         "idle|idlecheck|hogs\n");
  exit(1);
}
