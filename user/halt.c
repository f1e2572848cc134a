// halt: makes the file system durable, then powers the machine off (QEMU exits).
#include "kernel/types.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  if(argc != 1){
    fprintf(2, "usage: halt\n");
    exit(1);
  }
  printf("halt: powering off\n");
  halt();
  fprintf(2, "halt: the firmware did not power off\n");
  exit(1);
}
