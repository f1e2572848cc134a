// crashwr: the in-OS half of tools/crashtest.py (built with EXTRA_PROGS). Each scenario writes
// files whose bytes follow a pattern, so what survives a crash can be checked after a reboot;
// the host kills QEMU when the output says, then runs the matching check, which ends with
// "crashwr NAME: OK" or "crashwr NAME: FAIL".
//   init, run, check     cw* rewritten whole (one write() each) to one generation after another,
//                        among scratch files t* and directories d*
//   close N E, closecheck N E   N writers create files k<w>_<i>, sizes from E, a line after
//                        each close(); a k file must be a prefix of whole write chunks
//   orphan, orphancheck  a file removed while open, made durable, then sleep
//   idle, hogs, idlecheck   files and a directory written, nothing closed, then sleep (hogs:
//                        beside NHOGS CPU-bound processes)
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "kernel/fs.h"
#include "kernel/stat.h"
#include "user/user.h"

#define NFILES 6                                   // cw files
#define NSCRATCH 40                                // t files
#define NCLOSE 16                                  // k files per writer
#define NHOGS 60
#define CHUNK ((MAXOPBLOCKS - 5) * BSIZE)          // WRITE_CHUNK in kernel/file.c
#define IDLESIZE 3000
#define ABSENT (-2)                                // readpat(), expect(): no such file
#define ISDIR (-3)                                 // expect(): a directory
#define INHEADER (-1)                              // readpat(): the seed is in the file
static const int sizes[NFILES] = { 100, 1024, 2000, 3500, 4096, 5120 };
static char buf[16384];

// Byte k of the pattern seed. Every file holds one pattern, so a reader can tell its bytes
// from garbage (blocks that belonged to another file, or were never written).
static char
pat(int seed, int k)
{
  return (char)(seed * 31 + k * 7 + (k >> 8));
}

// n bytes of pattern seed, from its byte off, into buf; returns buf.
static char *
fill(int seed, int off, int n)
{
  for(int k = 0; k < n; k++)
    buf[k] = pat(seed, off + k);
  return buf;
}

// n bytes of pattern seed, from its byte off, in one write(): 0, or -1.
static int
putpat(int fd, int seed, int off, int n)
{
  return write(fd, fill(seed, off, n), n) == n ? 0 : -1;
}

// Reads the file s (its first sizeof(buf) bytes) into buf; every byte must be pattern
// seed's, or with seed INHEADER, every byte after the first four, which hold the seed.
// Returns the file's length, ABSENT, or -1 after naming the first wrong byte.
static int
readpat(char *s, int seed)
{
  int fd = open(s, O_RDONLY), n = 0, m, from = 0;
  if(fd < 0)
    return ABSENT;
  while((m = read(fd, buf + n, sizeof(buf) - n)) > 0)
    n += m;
  close(fd);
  if(seed == INHEADER){
    memmove(&seed, buf, sizeof(seed));
    from = sizeof(seed);
  }
  for(int k = from; k < n; k++){
    if(buf[k] != pat(seed, k)){
      printf("crashwr: %s byte %d is garbage\n", s, k);
      return -1;
    }
  }
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

// ---- init, run, check: files rewritten whole, one generation at a time ----

// Every cw file at generation g: bytes 0..3 hold its seed, so a reader knows which pattern
// the rest must be. The closes come after all the writes, so that with group commit several
// whole-file writes share one transaction. 0, or 1 if a write failed.
static int
writegen(uint g)
{
  char s[8];
  int fds[NFILES], bad = 0;
  for(int f = 0; f < NFILES; f++){
    int seed = g * NFILES + f;
    memmove(fill(seed, 0, sizes[f]), &seed, sizeof(seed));
    fds[f] = open(name(s, "cw", f, 1), O_CREATE | O_RDWR);
    if(fds[f] < 0 || write(fds[f], buf, sizes[f]) != sizes[f]){
      printf("crashwr: cannot write %s\n", s);
      bad = 1;
    }
  }
  for(int f = 0; f < NFILES; f++)
    close(fds[f]);
  return bad;
}

static int
init(int unused1, int unused2)
{
  return writegen(0);
}

// Besides the cw files: scratch files of a few KiB in 1 KiB writes, and directories, made
// and removed, so that fsck has block and inode allocation and freeing to check.
static int
run(int unused1, int unused2)
{
  char s[8];
  for(uint g = 1; writegen(g) == 0; g++){
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
  return 1;
}

// A scratch file may have any length (its writes are separate calls), but every byte in it
// must be its pattern's.
static int
check(int unused1, int unused2)
{
  char s[8];
  int bad = 0;
  for(int f = 0; f < NFILES; f++){
    int seed, n = readpat(name(s, "cw", f, 1), INHEADER);
    memmove(&seed, buf, sizeof(seed));
    if(n == sizes[f] && seed % NFILES == f){
      printf("crashwr: %s generation %d whole\n", s, seed / NFILES);
      continue;
    }
    printf("crashwr: %s is missing, short or mixed (%d bytes of %d)\n", s, n, sizes[f]);
    bad = 1;
  }
  for(int id = 0; id < NSCRATCH; id++)
    bad |= readpat(name(s, "t", id, 3), id) == -1;
  return bad;
}

// ---- close: several writers; every file whose close() returned must survive whole ----

// Writer w's file i: its name k<w>_<i> into s; returns its size, which epoch e picks.
static int
closefile(char *s, int w, int i, int e)
{
  char prefix[] = { 'k', '0' + w, '_', 0 };
  name(s, prefix, i, 4);
  return 1 + (int)(((uint)(w * 7919 + i * 4099 + e * 104729)) % 12288);
}

// Lines of several writers may interleave on the console and garble each other, so each
// carries a sum: the host believes only lines whose sum matches.
static void
closewriter(int w, int e)
{
  char s[16];
  for(int i = 0; i < NCLOSE; i++){
    int n = closefile(s, w, i, e);
    int fd = open(s, O_CREATE | O_WRONLY);
    if(fd < 0 || putpat(fd, w * NCLOSE + i, 0, n) < 0){
      printf("crashwr: writer %d cannot write %s\n", w, s);
      exit(1);
    }
    close(fd);
    printf("crashwr: closed %s %d c%d\n", s, n, (w * 3 + i * 7 + n) % 97);
  }
  exit(0);
}

static int
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
  return bad;
}

// A file may be missing (never created, or its creation lost in the crash) or any prefix
// of whole write chunks; the host decides which files had to be complete.
static int
closecheck(int nw, int e)
{
  char s[16];
  int bad = 0;
  for(int w = 0; w < nw; w++){
    for(int i = 0; i < NCLOSE; i++){
      int want = closefile(s, w, i, e);
      int len = readpat(s, w * NCLOSE + i);
      if(len == ABSENT)
        continue;
      if(len >= 0 && (len == want || (len < want && len % CHUNK == 0))){
        printf("crashwr: %s %d of %d\n", s, len, want);
        continue;
      }
      printf("crashwr: %s BAD: %d bytes of %d, not a prefix of whole %d-byte chunks\n",
             s, len, want, CHUNK);
      bad = 1;
    }
  }
  return bad;
}

// ---- orphan, idle, hogs: finished calls, then every process asleep ----

// Prints line (the host's cue to kill QEMU) and sleeps forever.
static void
sleepsaying(char *line)
{
  printf("%s\n", line);
  for(;;)
    pause(100);
}

// Closing the other file, opened for writing, makes every finished call durable, the
// unlink too, while the removed file stays open.
static int
orphan(int unused1, int unused2)
{
  int fd = open("orphan", O_CREATE | O_RDWR);
  int fd2 = open("orphan-flush", O_CREATE | O_WRONLY);
  if(fd < 0 || putpat(fd, 1, 0, 8192) < 0 || unlink("orphan") < 0 ||
     putpat(fd, 1, 8192, 2048) < 0 || fd2 < 0 || putpat(fd2, 2, 0, 100) < 0)
    return 1;
  close(fd2);
  sleepsaying("crashwr orphan: removed while open, sleeping");
  return 1;
}

// Nothing is closed: close() would make it durable; the kernel must commit on its own.
static int
idle(int unused1, int unused2)
{
  int fd = open("idle", O_CREATE | O_RDWR);
  int fd2 = open("idle2", O_CREATE | O_RDWR);
  if(fd < 0 || fd2 < 0 || putpat(fd, 3, 0, IDLESIZE) < 0 ||
     putpat(fd2, 4, 0, 100) < 0 || mkdir("idled") < 0)
    return 1;
  sleepsaying("crashwr idle: written, sleeping");
  return 1;
}

static int
hogs(int unused1, int unused2)
{
  for(int i = 0; i < NHOGS; i++){
    int pid = fork();
    if(pid < 0)
      return 1;
    if(pid == 0)
      for(;;)
        ;
  }
  return idle(0, 0);
}

// 0 if s is size bytes of pattern seed (ABSENT: no such file; ISDIR: a directory); else 1,
// saying so.
static int
expect(char *s, int seed, int size)
{
  struct stat st;
  int ok = size == ISDIR ? stat(s, &st) == 0 && st.type == T_DIR : readpat(s, seed) == size;
  if(!ok)
    printf("crashwr: %s is not %s\n", s, size == ABSENT ? "gone" : "all there");
  return !ok;
}

static int
orphancheck(int unused1, int unused2)
{
  return expect("orphan", 0, ABSENT) | expect("orphan-flush", 2, 100);
}

static int
idlecheck(int unused1, int unused2)
{
  return expect("idle", 3, IDLESIZE) | expect("idle2", 4, 100) | expect("idled", 0, ISDIR);
}

static struct {
  char *name;
  int nargs;
  int (*run)(int, int);      // 0 if all went well
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
    if(argc < 2 || strcmp(argv[1], scenarios[i].name) != 0 || argc != 2 + scenarios[i].nargs)
      continue;
    int bad = scenarios[i].run(argc > 2 ? atoi(argv[2]) : 0, argc > 3 ? atoi(argv[3]) : 0);
    printf("crashwr %s: %s\n", argv[1], bad ? "FAIL" : "OK");
    exit(bad);
  }
  printf("usage: crashwr init|run|check|close N E|closecheck N E|orphan|orphancheck|"
         "idle|idlecheck|hogs\n");
  exit(1);
}
