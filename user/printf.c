// Formatted output for user programs: printf and fprintf.
// Output is gathered in a buffer and handed to write() once per call (or per full buffer),
// so one printf is normally one write and lines from concurrent processes do not interleave.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "user/user.h"

#include <stdarg.h>

#define OUTBUFSZ 256

// Pending output of the printf in progress. User programs are single-threaded and
// printf is not re-entered, so one static buffer suffices and costs no stack.
static struct {
  int fd;
  int n;
  char buf[OUTBUFSZ];
} out;

static const char hexdigits[] = "0123456789abcdef";

static void
flush(void)
{
  if(out.n > 0)
    write(out.fd, out.buf, out.n);
  out.n = 0;
}

static void
putc(char c)
{
  if(out.n == OUTBUFSZ)
    flush();
  out.buf[out.n++] = c;
}

static void
putstr(const char *s)
{
  while(*s)
    putc(*s++);
}

// Prints x in the given base; neg asks for a leading '-'.
static void
putnum(unsigned long long x, int base, int neg)
{
  char tmp[24];   // 2^64 has 20 decimal digits
  int i = 0;

  do {
    tmp[i++] = hexdigits[x % base];
    x /= base;
  } while(x != 0);
  if(neg)
    putc('-');
  while(--i >= 0)
    putc(tmp[i]);
}

static void
putsigned(long long v)
{
  // Negate in unsigned arithmetic so the most negative value is handled too.
  if(v < 0)
    putnum(-(unsigned long long)v, 10, 1);
  else
    putnum(v, 10, 0);
}

static void
putptr(uint64 p)
{
  int i;

  putc('0');
  putc('x');
  for(i = 0; i < (int)(sizeof(p) * 2); i++, p <<= 4)
    putc(hexdigits[p >> (sizeof(p) * 8 - 4)]);
}

// Handles one conversion whose length modifier count is nlong (0, 1 = l, 2 = ll).
static void
convert(char c, int nlong, va_list *ap)
{
  const char *s;

  switch(c){
  case 'd':
    if(nlong == 0)
      putsigned(va_arg(*ap, int));
    else if(nlong == 1)
      putsigned(va_arg(*ap, long));
    else
      putsigned(va_arg(*ap, long long));
    break;
  case 'u':
  case 'x':
    if(nlong == 0)
      putnum(va_arg(*ap, uint), c == 'x' ? 16 : 10, 0);
    else if(nlong == 1)
      putnum(va_arg(*ap, unsigned long), c == 'x' ? 16 : 10, 0);
    else
      putnum(va_arg(*ap, unsigned long long), c == 'x' ? 16 : 10, 0);
    break;
  case 'p':
    putptr((uint64)va_arg(*ap, void*));
    break;
  case 's':
    s = va_arg(*ap, const char*);
    putstr(s ? s : "(null)");
    break;
  case 'c':
    putc(va_arg(*ap, int));
    break;
  case '%':
    putc('%');
    break;
  default:
    // Unknown conversion: show it literally so the mistake is visible.
    putc('%');
    while(nlong-- > 0)
      putc('l');
    putc(c);
    break;
  }
}

// Takes the va_list by pointer so each conversion consumes its argument from the caller's list.
static void
vprintf(int fd, const char *fmt, va_list *ap)
{
  int nlong;

  out.fd = fd;
  out.n = 0;
  while(*fmt){
    if(*fmt != '%'){
      putc(*fmt++);
      continue;
    }
    fmt++;
    nlong = 0;
    while(*fmt == 'l' && nlong < 2){
      nlong++;
      fmt++;
    }
    if(*fmt == 0){
      // A lone '%' at the end: print it rather than reading past the string.
      putc('%');
      break;
    }
    convert(*fmt++, nlong, ap);
  }
  flush();
}

void
fprintf(int fd, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vprintf(fd, fmt, &ap);
  va_end(ap);
}

void
printf(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vprintf(1, fmt, &ap);
  va_end(ap);
}
