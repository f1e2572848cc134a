// Kernel initialisation order: the boot hart sets up every subsystem, then wakes the
// other harts through SBI HSM and waits until they have said so; only then does it make
// the first user process, and every hart enters its scheduler.
#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"

// SBI HSM hart_get_status() value for a hart that is waiting to be started.
#define SBI_HSM_STATE_STOPPED 1

extern char _entry_secondary[];   // entry.S

// How long the boot hart waits for the harts it started: 10 s of the time CSR (10 MHz on QEMU
// virt). A hart arrives within milliseconds, unless a loaded host does not run its thread.
#define HART_WAIT (10 * 10000000UL)

// Set by the boot hart once all shared state is initialised; secondary harts spin on it and
// must see every earlier store, hence the fences around it.
static volatile int started = 0;
static int arrived = 0;   // secondary harts that have announced themselves (atomic adds)

// Ask SBI HSM to start every other hart; returns how many it accepted.
static int
start_other_harts(void)
{
  int me = cpuid(), n = 0;
  for(int id = 0; id < NCPU; id++){
    if(id == me)
      continue;
    if(sbi_hart_get_status(id) != SBI_HSM_STATE_STOPPED)
      continue;   // absent (error) or already running
    if(sbi_hart_start(id, (uint64)_entry_secondary, 0) == 0)
      n++;
    else
      printf("main: could not start hart %d\n", id);
  }
  return n;
}

// Wait (at most HART_WAIT) until n secondary harts have announced themselves, so that their
// "hart N starting" lines come before anything init and the shell print.
static void
wait_for_harts(int n)
{
  uint64 deadline = r_time() + HART_WAIT;
  while(__atomic_load_n(&arrived, __ATOMIC_SEQ_CST) < n && r_time() < deadline)
    ;
  int missing = n - __atomic_load_n(&arrived, __ATOMIC_SEQ_CST);
  if(missing > 0)
    printf("main: %d hart(s) started by SBI have not arrived; going on without waiting\n",
           missing);
}

static void
boot_hart_init(void)
{
  consoleinit();
  printfinit();
  printf("\nxv6-cow kernel is booting on hart %d\n\n", cpuid());
  kinit();             // physical page allocator
  kvminit();           // kernel page table
  kvminithart();       // paging on
  procinit();          // process table
  trapinit();          // tick lock
  trapinithart();      // kernel trap vector
  plicinit();          // interrupt priorities
  plicinithart();      // this hart's interrupt enables
  binit();             // buffer cache
  iinit();             // inode table
  fileinit();          // file table
  virtio_disk_init();  // disk
  timerinit();         // this hart's clock

  __sync_synchronize();
  started = 1;
}

static void
secondary_hart_init(void)
{
  while(started == 0)
    ;
  __sync_synchronize();
  kvminithart();
  trapinithart();
  plicinithart();
  timerinit();
}

// start() calls main() on every hart with interrupts off; boot is 1 on the hart OpenSBI
// entered the kernel on.
void
main(int boot)
{
  if(boot){
    boot_hart_init();
    printf("hart %d starting\n", cpuid());
    wait_for_harts(start_other_harts());
    userinit();        // first user process
  } else {
    secondary_hart_init();
    printf("hart %d starting\n", cpuid());
    __atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
  }
  scheduler();
}
