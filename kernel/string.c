// Memory and string helpers for the kernel. memset/memmove/memcpy move 8-byte words
// when alignment allows, since whole pages are cleared and copied all the time.
#include "kernel/types.h"

#define WORD sizeof(uint64)

// GCC could turn these loops back into calls to memset/memcpy, i.e. into
// infinite recursion; forbid that transformation in this file.
#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

static inline int
aligned(uint64 x)
{
  return (x & (WORD - 1)) == 0;
}

NO_LIBCALLS void*
memset(void *dst, int c, uint n)
{
  uchar *d = (uchar *)dst;
  uchar b = (uchar)c;

  while(n > 0 && !aligned((uint64)d)){
    *d++ = b;
    n--;
  }
  if(n >= WORD){
    uint64 pattern = b * 0x0101010101010101UL;
    uint64 *w = (uint64 *)d;
    for(; n >= WORD; n -= WORD)
      *w++ = pattern;
    d = (uchar *)w;
  }
  while(n-- > 0)
    *d++ = b;
  return dst;
}

int
memcmp(const void *v1, const void *v2, uint n)
{
  const uchar *s1 = v1, *s2 = v2;

  for(; n > 0; n--, s1++, s2++){
    if(*s1 != *s2)
      return *s1 - *s2;
  }
  return 0;
}

// Copy low to high; safe when dst is below src even if they overlap.
NO_LIBCALLS static void
copy_up(uchar *d, const uchar *s, uint n)
{
  if(aligned((uint64)d ^ (uint64)s)){
    while(n > 0 && !aligned((uint64)d)){
      *d++ = *s++;
      n--;
    }
    uint64 *wd = (uint64 *)d;
    const uint64 *ws = (const uint64 *)s;
    for(; n >= WORD; n -= WORD)
      *wd++ = *ws++;
    d = (uchar *)wd;
    s = (const uchar *)ws;
  }
  while(n-- > 0)
    *d++ = *s++;
}

// Copy high to low; safe when dst is above src even if they overlap.
NO_LIBCALLS static void
copy_down(uchar *d, const uchar *s, uint n)
{
  d += n;
  s += n;
  if(aligned((uint64)d ^ (uint64)s)){
    while(n > 0 && !aligned((uint64)d)){
      *--d = *--s;
      n--;
    }
    uint64 *wd = (uint64 *)d;
    const uint64 *ws = (const uint64 *)s;
    for(; n >= WORD; n -= WORD)
      *--wd = *--ws;
    d = (uchar *)wd;
    s = (const uchar *)ws;
  }
  while(n-- > 0)
    *--d = *--s;
}

void*
memmove(void *dst, const void *src, uint n)
{
  uchar *d = dst;
  const uchar *s = src;

  if(n == 0 || d == s)
    return dst;
  if(s < d && s + n > d)
    copy_down(d, s, n);
  else
    copy_up(d, s, n);
  return dst;
}

// Same as memmove; kept because the compiler may emit calls to memcpy.
void*
memcpy(void *dst, const void *src, uint n)
{
  return memmove(dst, src, n);
}

int
strncmp(const char *p, const char *q, uint n)
{
  for(; n > 0 && *p && *p == *q; n--, p++, q++)
    ;
  if(n == 0)
    return 0;
  return (uchar)*p - (uchar)*q;
}

// Copy at most n bytes, padding with zeros; the result may be unterminated.
char*
strncpy(char *s, const char *t, int n)
{
  char *os = s;

  for(; n > 0 && *t; n--)
    *s++ = *t++;
  for(; n > 0; n--)
    *s++ = 0;
  return os;
}

// Like strncpy but always NUL-terminates (when n > 0) and does not pad.
char*
safestrcpy(char *s, const char *t, int n)
{
  char *os = s;

  if(n <= 0)
    return os;
  for(; n > 1 && *t; n--)
    *s++ = *t++;
  *s = 0;
  return os;
}

int
strlen(const char *s)
{
  int n = 0;

  while(s[n])
    n++;
  return n;
}
