// forktest: forks until the process table is full, checks that fork then fails cleanly,
// and that wait collects exactly the children that were created.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "user/user.h"

#define MAXTRY 1000   // far more than NPROC: reaching it means fork never fails

int
main(void)
{
  int n, pid;

  printf("fork test\n");
  for(n = 0; n < MAXTRY; n++){
    pid = fork();
    if(pid < 0)
      break;
    if(pid == 0)
      exit(0);
  }
  if(n == MAXTRY){
    printf("fork claimed to work %d times!\n", MAXTRY);
    exit(1);
  }
  for(; n > 0; n--){
    if(wait(0) < 0){
      printf("wait stopped early\n");
      exit(1);
    }
  }
  if(wait(0) != -1){
    printf("wait got too many\n");
    exit(1);
  }
  printf("fork test OK\n");
  exit(0);
}
