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

char*
strcpy(char *dst, const char *src)
{
  char *d = dst;

  while((*d++ = *src++) != 0)
    ;
  return dst;
}

int
strcmp(const char *a, const char *b)
{
  while(*a && *a == *b){
    a++;
    b++;
  }
  // Compare as unsigned so that bytes >= 0x80 sort after ASCII, as in C's strcmp.
  return (uchar)*a - (uchar)*b;
}

uint
strlen(const char *s)
{
  const char *p = s;

  while(*p)
    p++;
  return p - s;
}

void*
memset(void *dst, int c, uint n)
{
  uchar *d = dst;

  while(n-- > 0)
    *d++ = c;
  return dst;
}

char*
strchr(const char *s, char c)
{
  for(; *s; s++){
    if(*s == c)
      return (char*)s;
  }
  return 0;
}

// Reads one line (newline kept) or until max-1 bytes, whichever comes first.
// The result is always NUL-terminated; an empty string means end of file or a read error.
char*
gets(char *buf, int max)
{
  int i = 0;
  char c;

  while(i + 1 < max){
    if(read(0, &c, 1) != 1)
      break;
    buf[i++] = c;
    if(c == '\n' || c == '\r')
      break;
  }
  if(max > 0)
    buf[i] = '\0';
  return buf;
}

int
stat(const char *path, struct stat *st)
{
  int fd, r;

  fd = open(path, O_RDONLY);
  if(fd < 0)
    return -1;
  r = fstat(fd, st);
  close(fd);
  return r;
}

// Decimal digits only, with an optional leading '-'; stops at the first non-digit.
int
atoi(const char *s)
{
  int neg = 0, n = 0;

  if(*s == '-'){
    neg = 1;
    s++;
  }
  while(*s >= '0' && *s <= '9')
    n = n*10 + (*s++ - '0');
  return neg ? -n : n;
}

// Handles overlapping regions: copies backwards when dst lies above src.
void*
memmove(void *dst, const void *src, int n)
{
  char *d = dst;
  const char *s = src;

  if(n <= 0 || d == s)
    return dst;
  if(d < s){
    while(n-- > 0)
      *d++ = *s++;
  } else {
    d += n;
    s += n;
    while(n-- > 0)
      *--d = *--s;
  }
  return dst;
}

int
memcmp(const void *a, const void *b, uint n)
{
  const uchar *p = a, *q = b;

  for(; n > 0; n--, p++, q++){
    if(*p != *q)
      return *p - *q;
  }
  return 0;
}

// The compiler may emit calls to memcpy for structure copies, so it must exist.
// The regions must not overlap (use memmove when they might).
void*
memcpy(void *dst, const void *src, uint n)
{
  uchar *d = dst;
  const uchar *s = src;

  while(n-- > 0)
    *d++ = *s++;
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
