// fault: a user program that faults on purpose, for make check's shell session. It prints its
// pid and the address it is about to touch; the kernel must kill it with one console line
// naming the pid, the name "fault", the cause, that address and the pc, and carry on.
//   fault store   write into our own text (mapped read-only)
//   fault load    read an address that is not mapped at all
#include "kernel/types.h"
#include "kernel/riscv.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  volatile char *va;

  if(argc != 2 || (strcmp(argv[1], "store") != 0 && strcmp(argv[1], "load") != 0)){
    fprintf(2, "usage: fault store|load\n");
    exit(2);
  }
  if(argv[1][0] == 's')
    va = (volatile char *)main;
  else
    va = (volatile char *)(MAXVA / 2);   // far above any heap this program has
  printf("fault: pid %d %s at %p\n", getpid(), argv[1], (void *)va);
  if(argv[1][0] == 's')
    *va = 1;
  else
    printf("fault: read %d\n", *va);
  printf("fault: survived\n");
  exit(1);
}
