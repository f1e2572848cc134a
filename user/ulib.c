// The user library: program entry (_main), string and memory helpers, gets, stat, atoi, sbrk.
// Everything here runs in user mode on top of the system-call stubs in usys.S.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "user/user.h"

// Entry point named by user.ld. exec() starts us with argc in a0 and argv in a1.
// Returning from main is the same as calling exit() with main's result.
void
_main(int argc, char **argv)
{
  extern int main(int, char **);

  exit(main(argc, argv));
}

// GCC could turn the copy and fill loops below back into calls to memcpy or memset, i.e.
// into calls to themselves; forbid that transformation for them.
#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

char*
strcpy(char *dst, const char *src)
{
  int i = 0;

  do {
    dst[i] = src[i];
  } while(src[i++] != 0);
  return dst;
}

// Compares as unsigned chars, so bytes >= 0x80 sort after ASCII, as C's strcmp does.
int
strcmp(const char *a, const char *b)
{
  int i = 0;

  while(a[i] != 0 && a[i] == b[i])
    i++;
  return (uchar)a[i] - (uchar)b[i];
}

uint
strlen(const char *s)
{
  uint n = 0;

  while(s[n])
    n++;
  return n;
}

NO_LIBCALLS void*
memset(void *dst, int c, uint n)
{
  uchar *d = dst;

  for(uint i = 0; i < n; i++)
    d[i] = (uchar)c;
  return dst;
}

// The first c in s, or 0. Looking for the terminating NUL finds nothing.
char*
strchr(const char *s, char c)
{
  for(int i = 0; s[i] != 0; i++)
    if(s[i] == c)
      return (char*)&s[i];
  return 0;
}

// Read standard input into buf up to and including the first '\n' or '\r', but at most
// max-1 bytes. The result is NUL-terminated (when max > 0); an empty string means end of
// input or a read error.
char*
gets(char *buf, int max)
{
  int n = 0;
  char c;

  if(max <= 0)
    return buf;
  while(n < max - 1 && read(0, &c, 1) == 1){
    buf[n++] = c;
    if(c == '\n' || c == '\r')
      break;
  }
  buf[n] = 0;
  return buf;
}

// The metadata of the file at path, via a short-lived descriptor. 0, or -1 if path
// cannot be opened.
int
stat(const char *path, struct stat *st)
{
  int fd = open(path, O_RDONLY);
  int r = -1;

  if(fd >= 0){
    r = fstat(fd, st);
    close(fd);
  }
  return r;
}

// Decimal digits with an optional leading '-'; stops at the first other character.
int
atoi(const char *s)
{
  int sign = 1, n = 0;

  if(*s == '-'){
    sign = -1;
    s++;
  }
  for(; *s >= '0' && *s <= '9'; s++)
    n = 10 * n + (*s - '0');
  return sign * n;
}

NO_LIBCALLS static void
copy_ascending(char *d, const char *s, uint n)
{
  for(uint i = 0; i < n; i++)
    d[i] = s[i];
}

NO_LIBCALLS static void
copy_descending(char *d, const char *s, uint n)
{
  while(n > 0){
    n--;
    d[n] = s[n];
  }
}

// The regions may overlap. If dst starts inside src, an ascending copy would overwrite
// source bytes before reading them, so that case copies from the top down.
void*
memmove(void *dst, const void *src, int n)
{
  char *d = dst;
  const char *s = src;

  if(n <= 0)
    return dst;
  if(d > s && d < s + n)
    copy_descending(d, s, n);
  else
    copy_ascending(d, s, n);
  return dst;
}

// <0, 0 or >0 by the first differing byte, compared as unsigned chars.
int
memcmp(const void *a, const void *b, uint n)
{
  const uchar *p = a, *q = b;
  uint i = 0;

  while(i < n && p[i] == q[i])
    i++;
  return i == n ? 0 : p[i] - q[i];
}

// The compiler may emit calls to memcpy for structure copies, so it must exist.
// The regions must not overlap (use memmove when they might).
void*
memcpy(void *dst, const void *src, uint n)
{
  copy_ascending(dst, src, n);
  return dst;
}

char*
sbrk(int n)
{
  return sys_sbrk(n, SBRK_EAGER);
}

char*
sbrklazy(int n)
{
  return sys_sbrk(n, SBRK_LAZY);
}

// The time CSR, which user mode may read: ticks of the platform timer (10 MHz on QEMU virt).
uint64
rdtime(void)
{
  uint64 t;
  asm volatile("csrr %0, time" : "=r" (t));
  return t;
}
