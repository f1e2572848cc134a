// sync: makes every file-system call that finished before it durable (on disk) before it exits.
#include "kernel/types.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  if(argc != 1){
    fprintf(2, "usage: sync\n");
    exit(1);
  }
  if(sync() < 0){
    fprintf(2, "sync: failed\n");
    exit(1);
  }
  exit(0);
}
