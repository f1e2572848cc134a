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

// Compare n bytes as unsigned chars: <0, 0 or >0 at the first difference.
int
memcmp(const void *v1, const void *v2, uint n)
{
  const uchar *a = v1, *b = v2;
  uint i = 0;
  while(i < n && a[i] == b[i])
    i++;
  return i == n ? 0 : a[i] - b[i];
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

// When dst overlaps the end of src, copy byte by byte from the top down: that case is rare
// (editing a line in place), so it needs no word loop.
NO_LIBCALLS void*
memmove(void *dst, const void *src, uint n)
{
  uchar *d = dst;
  const uchar *s = src;
  if(s < d && s + n > d){
    while(n-- > 0)
      d[n] = s[n];
  } else {
    copy_up(d, s, n);
  }
  return dst;
}

// The compiler emits calls to memcpy for structure assignments. Its regions never overlap,
// so the ascending copy is always right.
NO_LIBCALLS void*
memcpy(void *dst, const void *src, uint n)
{
  copy_up(dst, src, n);
  return dst;
}

// Compare at most n bytes, as unsigned chars; a NUL ends both strings.
int
strncmp(const char *p, const char *q, uint n)
{
  for(uint i = 0; i < n; i++){
    uchar a = p[i], b = q[i];
    if(a != b || a == 0)
      return a - b;
  }
  return 0;
}

// Copy t into the n bytes at s and fill the rest with NULs; when t has n or more
// characters, s is left without a terminating NUL (file names in directory entries).
char*
strncpy(char *s, const char *t, int n)
{
  int i = 0;
  for(; i < n && t[i] != 0; i++)
    s[i] = t[i];
  if(i < n)
    memset(s + i, 0, n - i);
  return s;
}

// Copy as much of t as fits in n bytes and always terminate it (when n > 0); no padding.
char*
safestrcpy(char *s, const char *t, int n)
{
  if(n <= 0)
    return s;
  int i = 0;
  for(; i < n - 1 && t[i] != 0; i++)
    s[i] = t[i];
  s[i] = 0;
  return s;
}

int
strlen(const char *s)
{
  int n = 0;
  while(s[n])
    n++;
  return n;
}
