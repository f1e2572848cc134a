// tickgap: what the timer tick costs a CPU-bound process. Spins for SECONDS reading the time
// CSR (10 MHz, readable in user mode); a jump of more than GAP_US between two reads is time
// spent outside this loop: a trap (the timer tick) and whatever ran in it. Prints the jumps
// per second and the share of time they took. Run it alone on an idle machine at CPUS=1,
// where every tick lands on its hart: `make qemu CPUS=1 EXTRA_PROGS=tools/tickgap.c`.
#include "kernel/types.h"
#include "user/user.h"

#define TIMEBASE_HZ 10000000
#define SECONDS     5
#define GAP_US      2

int
main(void)
{
  uint64 start = rdtime(), end = start + SECONDS * (uint64)TIMEBASE_HZ, prev = start;
  uint64 gaps = 0, lost = 0;

  while(prev < end){
    uint64 now = rdtime();
    if(now - prev > GAP_US * (TIMEBASE_HZ / 1000000)){
      gaps++;
      lost += now - prev;
    }
    prev = now;
  }
  uint64 total = prev - start;
  printf("tickgap: %d gaps per second, %d us each on average, %d.%d%% of the time\n",
         (int)(gaps / SECONDS), gaps ? (int)(lost / gaps / (TIMEBASE_HZ / 1000000)) : 0,
         (int)(lost * 100 / total), (int)(lost * 1000 / total % 10));
  exit(0);
}
