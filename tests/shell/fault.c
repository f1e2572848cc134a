// fault store|load: prints its pid and the address it then writes (our own text, read-only)
// or reads (not mapped at all), for make check's shell session. The kernel must kill it with
// one console line (pid, "fault", cause, that address, pc) and carry on.
#include "kernel/types.h"
#include "kernel/riscv.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  volatile char *va = (volatile char *)main;

  if(argc != 2 || (strcmp(argv[1], "store") != 0 && strcmp(argv[1], "load") != 0)){
    fprintf(2, "usage: fault store|load\n");
    exit(2);
  }
  if(argv[1][0] == 'l')
    va = (volatile char *)(MAXVA / 2);   // far above any heap this program has
  printf("fault: pid %d %s at %p\n", getpid(), argv[1], (void *)va);
  if(argv[1][0] == 's')
    *va = 1;
  else
    printf("fault: read %d\n", *va);
  printf("fault: survived\n");
  exit(1);
}
