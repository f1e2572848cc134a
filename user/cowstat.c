// cowstat: print the kernel's physical-memory and copy-on-write statistics (memstat()).
#include "kernel/types.h"
#include "kernel/memstat.h"
#include "user/user.h"

int
main(void)
{
  struct memstat st;

  if(memstat(&st) < 0){
    fprintf(2, "cowstat: memstat failed\n");
    exit(1);
  }
  printf("free pages:       %lu\n", st.freepages);
  printf("total pages:      %lu\n", st.totalpages);
  printf("shared pages:     %lu\n", st.sharedpages);
  printf("cow faults:       %lu\n", st.cowfaults);
  printf("cow copies:       %lu\n", st.cowcopies);
  printf("cow reuses:       %lu\n", st.cowreuses);
  printf("fork shares:      %lu\n", st.cowshared);
  exit(0);
}
