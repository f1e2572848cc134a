// Driver for the 16550-compatible UART on QEMU virt: initialisation, polled output
// for the kernel's printf and echo, and interrupt-driven buffered output for write().
#include "kernel/types.h"
#include "kernel/memlayout.h"
#include "kernel/riscv.h"
#include "kernel/spinlock.h"
#include "kernel/defs.h"

// 16550 registers, as byte offsets from UART0.
#define RHR 0                 // receive holding (read)
#define THR 0                 // transmit holding (write)
#define DLL 0                 // divisor latch low (when LCR_DLAB)
#define IER 1                 // interrupt enable
#define   IER_RX_READY (1<<0)
#define   IER_TX_EMPTY (1<<1)
#define DLM 1                 // divisor latch high (when LCR_DLAB)
#define FCR 2                 // FIFO control (write)
#define   FCR_ENABLE   (1<<0)
#define   FCR_CLEAR    (3<<1) // reset both FIFOs
#define ISR 2                 // interrupt status (read)
#define LCR 3                 // line control
#define   LCR_8N1      3      // 8 data bits, no parity, 1 stop bit
#define   LCR_DLAB     (1<<7) // expose the baud-rate divisor
#define LSR 5                 // line status
#define   LSR_RX_READY (1<<0) // a received byte is waiting in RHR
#define   LSR_TX_IDLE  (1<<5) // THR can take another byte

// 1.8432 MHz input clock / (16 * 38400 baud).
#define BAUD_DIVISOR_38400 3

#define Reg(r) ((volatile uint8 *)(UART0 + (r)))
#define ReadReg(r) (*Reg(r))
#define WriteReg(r, v) (*Reg(r) = (v))

// Set by panic() in printf.c: from then on only panic_hart may print.
extern volatile int panicked;
extern volatile int panic_hart;

// Harts currently inside uartputc_sync(); lets the panicking hart wait for
// bytes already in flight so none lands inside the panic message.
static volatile int sync_writers;

// Output waiting for the UART. tx_w and tx_r only grow; slot = index % size.
#define UART_TX_BUF_SIZE 32
static struct {
  struct spinlock lock;
  char buf[UART_TX_BUF_SIZE];
  uint64 tx_w;   // next slot uartputc() fills
  uint64 tx_r;   // next slot handed to the UART
} tx;

static void uartstart(void);

void
uartinit(void)
{
  WriteReg(IER, 0x00);
  WriteReg(LCR, LCR_DLAB);
  WriteReg(DLL, BAUD_DIVISOR_38400 & 0xff);
  WriteReg(DLM, BAUD_DIVISOR_38400 >> 8);
  WriteReg(LCR, LCR_8N1);       // also clears DLAB
  WriteReg(FCR, FCR_ENABLE | FCR_CLEAR);
  WriteReg(IER, IER_RX_READY | IER_TX_EMPTY);

  initlock(&tx.lock, "uart");
}

// Queue c for output, sleeping while the ring is full. Process context only
// (used by console writes); interrupts drain the ring.
void
uartputc(int c)
{
  acquire(&tx.lock);
  if(panicked){
    for(;;)
      ;
  }
  while(tx.tx_w == tx.tx_r + UART_TX_BUF_SIZE)
    sleep(&tx.tx_r, &tx.lock);
  tx.buf[tx.tx_w % UART_TX_BUF_SIZE] = c;
  tx.tx_w++;
  uartstart();
  release(&tx.lock);
}

// Write c by polling, bypassing the ring: usable with interrupts off and
// from interrupt handlers (printf, panic, echo).
void
uartputc_sync(int c)
{
  push_off();
  // Announce this writer before looking at panicked, so that either the
  // panicking hart waits for our byte or we see panicked and freeze.
  __sync_fetch_and_add(&sync_writers, 1);
  if(panicked){
    if(panic_hart != cpuid()){
      __sync_fetch_and_sub(&sync_writers, 1);
      for(;;)
        ;
    }
    while(sync_writers > 1)
      ;   // another hart is finishing a byte it started before the panic
  }
  while((ReadReg(LSR) & LSR_TX_IDLE) == 0)
    ;
  WriteReg(THR, c);
  __sync_fetch_and_sub(&sync_writers, 1);
  pop_off();
}

// Move queued bytes into the UART while it will take them. Caller holds tx.lock. When the
// UART is busy, its transmit-empty interrupt calls us again. Under printf's lock, so that no
// ring byte lands inside a kernel printf() line.
static void
uartstart(void)
{
  uint64 r = tx.tx_r;

  if(panicked)
    return;
  acquire(&printlock);
  while(tx.tx_r != tx.tx_w && (ReadReg(LSR) & LSR_TX_IDLE) != 0){
    WriteReg(THR, tx.buf[tx.tx_r % UART_TX_BUF_SIZE]);
    tx.tx_r++;
  }
  release(&printlock);
  if(tx.tx_r != r)
    wakeup(&tx.tx_r);   // room in the ring for a sleeping uartputc()
}

// Turn the receive-data interrupt on or off: the console's flow control (console.c), under
// cons.lock, which keeps IER writes serialised.
void
uartsetrx(int on)
{
  WriteReg(IER, IER_TX_EMPTY | (on ? IER_RX_READY : 0));
}

// One received byte, or -1 if none is waiting.
static int
uartgetc(void)
{
  if(ReadReg(LSR) & LSR_RX_READY)
    return ReadReg(RHR);
  return -1;
}

// The UART interrupted: input arrived, or it can take more output, or both.
void
uartintr(void)
{
  // Reading ISR acknowledges a transmit-empty interrupt.
  (void)ReadReg(ISR);

  // Only while the console has room (flow control, console.c).
  int c;
  while(consoleroom() && (c = uartgetc()) != -1)
    consoleintr(c);

  acquire(&tx.lock);
  uartstart();
  release(&tx.lock);
}
