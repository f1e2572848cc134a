// The console device (major CONSOLE): line-buffered, echoed keyboard input with simple editing, ^C
// for the foreground job, and output to the UART. Input arrives from uartintr() via consoleintr().
#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/spinlock.h"
#include "kernel/sleeplock.h"
#include "kernel/fs.h"
#include "kernel/file.h"
#include "kernel/riscv.h"
#include "kernel/proc.h"
#include "kernel/defs.h"

#define CTRL(x) ((x) - '@')   // the code the terminal sends for Control-x
#define BACKSPACE 0x100       // consputc(): erase the previous character
#define DEL 0x7f
#define ESC 0x1b              // starts ESC [ A (up arrow) and ESC [ B (down), passed to readers

#define INPUT_BUF_SIZE 128

// Invariant: r <= w <= e <= r + INPUT_BUF_SIZE (indices only grow; slot = i % size). [r, w) is
// committed input readers may take: whole lines, a ^D, an arrow key's ESC [ A or ESC [ B, or a
// full buffer. [w, e) is the line being edited: no '\n', ^D or ESC. Only the reader holding
// `reading` advances r, so r stays put while it copies out without cons.lock.
//
// Flow control, so that no typed or pasted byte is dropped: while the buffer is full we take
// nothing from the UART. consoleroom() turns its receive interrupt off on finding no room,
// consoleread() back on once it consumed bytes; meanwhile bytes wait in the UART's FIFO (and in
// QEMU), and re-enabling raises the interrupt that drains them. Both decide under cons.lock, so
// a reader cannot make room unseen in between. A full buffer is committed (w == e), so editing
// keys have nothing to erase then; ^P and ^C wait with the rest.
static struct {
  struct spinlock lock;
  char buf[INPUT_BUF_SIZE];
  uint r;         // next byte a reader takes
  uint w;         // end of committed input
  uint e;         // end of the line being edited
  int reading;    // a reader is between choosing bytes and consuming them
  int rx_stopped; // the UART's receive interrupt is off because buf is full
  int esc;        // 1 after ESC, 2 after ESC [
  int fg;         // process group of the foreground job (setfg), 0 for none
  struct sleeplock writing;   // held for a whole write(): lines of processes stay whole
} cons;

// Print one character synchronously. Used for echo and by printf, so it must work with
// interrupts off and never sleep.
void
consputc(int c)
{
  if(c == BACKSPACE){
    uartputc_sync('\b');
    uartputc_sync(' ');
    uartputc_sync('\b');
  } else {
    uartputc_sync(c);
  }
}

// write() to the console, queued whole through the UART's output ring. Output cannot be taken
// back: a user source not all readable returns -1 with nothing printed. A killed writer stops
// at the next chunk. Returns n or -1.
static int
consolewrite(int user_src, uint64 src, int n)
{
  char chunk[64];
  struct proc *p = myproc();
  int done = 0;

  if(n <= 0)
    return n == 0 ? 0 : -1;
  if(user_src && userrange(p->pagetable, src, n, 0) < 0)
    return -1;
  acquiresleep(&cons.writing);
  while(done < n){
    int m = n - done < (int)sizeof(chunk) ? n - done : (int)sizeof(chunk);
    if(killed(p) || either_copyin(chunk, user_src, src + done, m) < 0)
      break;
    for(int i = 0; i < m; i++)
      uartputc(chunk[i]);
    done += m;
  }
  releasesleep(&cons.writing);
  return done == n ? n : -1;
}

// Wait, holding cons.lock, until this process is the only reader and input is available.
// Returns -1 (reading not taken) if the process is killed.
static int
wait_for_input(void)
{
  struct proc *p = myproc();
  while(cons.reading){
    if(killed(p))
      return -1;
    sleep(&cons.reading, &cons.lock);
  }
  cons.reading = 1;
  while(cons.r == cons.w){
    if(killed(p)){
      cons.reading = 0;
      wakeup(&cons.reading);
      return -1;
    }
    sleep(&cons.r, &cons.lock);
  }
  return 0;
}

// read() from the console: at most one line, up to n bytes. ^D at the start of a read means end
// of file (returns 0); ^D after some bytes ends this read and is left for the next one. Nothing
// is consumed if the copy-out fails.
static int
consoleread(int user_dst, uint64 dst, int n)
{
  char line[INPUT_BUF_SIZE];
  int len = 0;        // bytes to hand to the caller
  int consume = 0;    // bytes to drop from the buffer on success

  if(n <= 0)
    return 0;

  acquire(&cons.lock);
  if(wait_for_input() < 0){
    release(&cons.lock);
    return -1;
  }
  for(uint i = cons.r; i != cons.w && len < n; i++){
    char c = cons.buf[i % INPUT_BUF_SIZE];
    if(c == CTRL('D')){
      if(len == 0)
        consume = 1;
      break;
    }
    line[len++] = c;
    if(c == '\n')
      break;
  }
  consume += len;
  release(&cons.lock);

  // Not under cons.lock, a leaf lock: copying out may fault in a page (kalloc).
  int ok = either_copyout(user_dst, dst, line, len) != -1;

  acquire(&cons.lock);
  if(ok)
    cons.r += consume;
  if(cons.rx_stopped && cons.e - cons.r < INPUT_BUF_SIZE){
    cons.rx_stopped = 0;
    uartsetrx(1);   // bytes already waiting raise the interrupt at once
  }
  cons.reading = 0;
  wakeup(&cons.reading);
  release(&cons.lock);

  return ok ? len : -1;
}

// Commit the edited line so readers can take it.
static void
commit_input(void)
{
  cons.w = cons.e;
  wakeup(&cons.r);
}

// Called by uartintr() before it takes each byte from the UART: 1 if the input buffer has
// room for one more, else 0 with the receive interrupt off (the flow-control rule above).
int
consoleroom(void)
{
  int room;

  acquire(&cons.lock);
  room = cons.e - cons.r < INPUT_BUF_SIZE;
  if(!room && !cons.rx_stopped){
    cons.rx_stopped = 1;
    uartsetrx(0);
  }
  release(&cons.lock);
  return room;
}

// Append c to the edited line, unechoed. Caller holds cons.lock and checked the room.
static void
putin(int c)
{
  cons.buf[cons.e++ % INPUT_BUF_SIZE] = c;
}

// Whether c belongs to an escape sequence (then used up here). ESC [ A and ESC [ B end the
// edited line, unechoed, so that a reader (sh) sees the arrow at once; others are dropped.
static int
escape(int c)
{
  int seen = cons.esc;

  cons.esc = (c == ESC) ? 1 : (seen == 1 && c == '[') ? 2 : 0;
  if(seen == 2 && (c == 'A' || c == 'B') && cons.e - cons.r + 3 <= INPUT_BUF_SIZE){
    putin(ESC);
    putin('[');
    putin(c);
    commit_input();
  }
  return seen != 0 || c == ESC;
}

// One input character from the UART interrupt: edit, echo, buffer. uartintr() passes a byte
// only after consoleroom() said there is room.
void
consoleintr(int c)
{
  int dump = 0, stop = 0;

  acquire(&cons.lock);
  if(escape(c))
    c = 0;       // used up
  switch(c){
  case CTRL('C'):
    // Drop the edited line; end the foreground job, or with none give the shell an empty line,
    // so that it prompts again.
    cons.e = cons.w;
    for(char *s = "^C\n"; *s; s++)
      consputc(*s);
    stop = cons.fg;
    if(stop == 0){
      putin('\n');
      commit_input();
    }
    break;
  case CTRL('P'):
    dump = 1;
    break;
  case CTRL('U'):     // erase the edited line
  case CTRL('H'):     // erase one character
  case DEL:
    while(cons.e != cons.w){
      cons.e--;
      consputc(BACKSPACE);
      if(c != CTRL('U'))
        break;
    }
    break;
  default:
    if(c == 0 || cons.e - cons.r >= INPUT_BUF_SIZE)
      break;     // nothing typed; no room cannot happen (consoleroom() checked)
    if(c == '\r')
      c = '\n';
    if(c != CTRL('D'))
      consputc(c);
    putin(c);
    if(c == '\n' || c == CTRL('D') || cons.e - cons.r == INPUT_BUF_SIZE)
      commit_input();
    break;
  }
  release(&cons.lock);

  // procdump() and killgroup() take process locks; cons.lock must not be held then.
  if(dump)
    procdump();
  if(stop)
    killgroup(stop);
}

int
consolesetfg(int pgid)
{
  acquire(&cons.lock);
  int old = cons.fg;
  cons.fg = pgid;
  release(&cons.lock);
  return old;
}

// What read() and write() on a CONSOLE device node do.
static const struct devsw console_ops = { .read = consoleread, .write = consolewrite };

// Called once by the boot hart, before interrupts are enabled.
void
consoleinit(void)
{
  initlock(&cons.lock, "cons");
  initsleeplock(&cons.writing, "conswrite");
  devsw[CONSOLE] = console_ops;
  uartinit();
}
