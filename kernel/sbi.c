// Calls from the S-mode kernel into the OpenSBI firmware (SBI specification v1.0+): the timer,
// starting harts, and shutting the machine down.
#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"

// Extension ids (a7) and function ids (a6) from the SBI specification.
#define SBI_EXT_LEGACY_SET_TIMER   0x00
#define SBI_EXT_LEGACY_SHUTDOWN    0x08
#define SBI_EXT_BASE               0x10
#define   SBI_BASE_PROBE_EXTENSION   3
#define SBI_EXT_TIME               0x54494D45   // "TIME"
#define   SBI_TIME_SET_TIMER         0
#define SBI_EXT_HSM                0x48534D     // "HSM"
#define   SBI_HSM_HART_START         0
#define   SBI_HSM_HART_GET_STATUS    2
#define SBI_EXT_SRST               0x53525354   // "SRST"
#define   SBI_SRST_SYSTEM_RESET      0
#define   SBI_SRST_TYPE_SHUTDOWN     0
#define   SBI_SRST_REASON_NONE       0

struct sbiret {
  long error;   // 0 on success, a negative SBI error code otherwise
  long value;
};

// The firmware preserves every register except a0 and a1.
static struct sbiret
sbi_call(uint64 ext, uint64 fn, uint64 arg0, uint64 arg1, uint64 arg2)
{
  register uint64 a0 asm("a0") = arg0;
  register uint64 a1 asm("a1") = arg1;
  register uint64 a2 asm("a2") = arg2;
  register uint64 a6 asm("a6") = fn;
  register uint64 a7 asm("a7") = ext;
  asm volatile("ecall" : "+r" (a0), "+r" (a1) : "r" (a2), "r" (a6), "r" (a7) : "memory");
  return (struct sbiret){ (long)a0, (long)a1 };
}

// Whether the TIME extension exists: 0 = not asked yet, 1 = yes, -1 = no. Harts may race to
// fill it in; they all compute the same answer.
static volatile int time_ext;

// Request a timer interrupt on this hart once the time CSR reaches when; also clears a pending one.
void
sbi_set_timer(uint64 when)
{
  if(time_ext == 0){
    struct sbiret r = sbi_call(SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION, SBI_EXT_TIME, 0, 0);
    time_ext = (r.error == 0 && r.value != 0) ? 1 : -1;
  }
  if(time_ext > 0)
    sbi_call(SBI_EXT_TIME, SBI_TIME_SET_TIMER, when, 0, 0);
  else
    sbi_call(SBI_EXT_LEGACY_SET_TIMER, 0, when, 0, 0);
}

// Start a stopped hart at start_addr in S-mode with a0 = hartid, a1 = opaque. Returns 0 or a
// negative SBI error code.
int
sbi_hart_start(uint64 hartid, uint64 start_addr, uint64 opaque)
{
  return (int)sbi_call(SBI_EXT_HSM, SBI_HSM_HART_START, hartid, start_addr, opaque).error;
}

// The HSM state of a hart (0 started, 1 stopped, ...), or a negative error code (e.g. for a
// hart id the machine does not have).
int
sbi_hart_get_status(uint64 hartid)
{
  struct sbiret r = sbi_call(SBI_EXT_HSM, SBI_HSM_HART_GET_STATUS, hartid, 0, 0);
  return (int)(r.error != 0 ? r.error : r.value);
}

void
sbi_shutdown(void)
{
  sbi_call(SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET, SBI_SRST_TYPE_SHUTDOWN, SBI_SRST_REASON_NONE, 0);
  // Only reached if the firmware lacks SRST: try the legacy call.
  sbi_call(SBI_EXT_LEGACY_SHUTDOWN, 0, 0, 0, 0);
  for(;;)
    asm volatile("wfi");
}
