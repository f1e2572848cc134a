// Kernel formatted output to the console, and panic(). Output of one printf() call reaches
// the UART whole (no other hart's printf, no write() bytes inside), except while panicking.
#include <stdarg.h>
#include "kernel/types.h"
#include "kernel/spinlock.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"

// Once panicked is set, only panic_hart may still produce output: uart.c
// freezes every other hart that tries, so the panic message stays readable.
volatile int panicked = 0;
volatile int panic_hart = -1;

// Held for a whole printf(), and by uartstart() while it feeds the UART. A leaf: only polled
// UART output happens under it.
struct spinlock printlock;

static const char digits[] = "0123456789abcdef";

static void
printnum(uint64 x, int base, int negative)
{
  char buf[24];   // 2^64 has 20 decimal digits
  int i = 0;

  do {
    buf[i++] = digits[x % base];
    x /= base;
  } while(x != 0);
  if(negative)
    buf[i++] = '-';
  while(--i >= 0)
    consputc(buf[i]);
}

static void
printptr(uint64 x)
{
  consputc('0');
  consputc('x');
  for(int i = 0; i < (int)(sizeof(uint64) * 2); i++, x <<= 4)
    consputc(digits[x >> (sizeof(uint64) * 8 - 4)]);
}

static void
printstr(const char *s)
{
  if(s == 0)
    s = "(null)";
  for(; *s; s++)
    consputc(*s);
}

// Print one conversion whose letter is c and length modifier count is longs
// (0 for int, 1 for l, 2 for ll; long and long long are both 64 bits here).
static void
printconv(int c, int longs, va_list *ap)
{
  long long v;

  switch(c){
  case 'd':
    v = longs ? va_arg(*ap, long long) : va_arg(*ap, int);
    printnum(v < 0 ? -(uint64)v : (uint64)v, 10, v < 0);   // -(uint64): LLONG_MIN works too
    break;
  case 'u':
    printnum(longs ? va_arg(*ap, uint64) : va_arg(*ap, uint), 10, 0);
    break;
  case 'x':
    printnum(longs ? va_arg(*ap, uint64) : va_arg(*ap, uint), 16, 0);
    break;
  case 'p':
    printptr(va_arg(*ap, uint64));
    break;
  case 's':
    printstr(va_arg(*ap, char *));
    break;
  case 'c':
    consputc(va_arg(*ap, int));
    break;
  case '%':
    consputc('%');
    break;
  default:
    // Unknown conversion: show it as written so the mistake is visible.
    consputc('%');
    for(int i = 0; i < longs; i++)
      consputc('l');
    consputc(c);
    break;
  }
}

// Supports %d %u %x %p %s %c %% and the l / ll forms of d, u, x.
int
printf(char *fmt, ...)
{
  va_list ap;
  int locking = !panicked;

  if(locking)
    acquire(&printlock);

  va_start(ap, fmt);
  for(int i = 0; fmt[i] != 0; i++){
    int c = fmt[i] & 0xff;
    if(c != '%'){
      consputc(c);
      continue;
    }
    int longs = 0;
    while(fmt[i+1] == 'l' && longs < 2){
      longs++;
      i++;
    }
    c = fmt[++i] & 0xff;
    if(c == 0)
      break;
    printconv(c, longs, &ap);
  }
  va_end(ap);

  if(locking)
    release(&printlock);
  return 0;
}

void
panic(char *s)
{
  intr_off();
  // The first hart to panic owns the console; a second one just stops.
  if(__sync_lock_test_and_set(&panicked, 1) != 0){
    for(;;)
      ;
  }
  panic_hart = cpuid();
  __sync_synchronize();

  // printf skips printlock now: a hart frozen mid-printf may hold it.
  printf("panic: %s\n", s);
  for(;;)
    ;
}

void
printfinit(void)
{
  initlock(&printlock, "pr");
}
