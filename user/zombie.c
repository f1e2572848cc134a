// zombie: leaves behind a child that has exited but was never waited for.
// The child exits at once; the parent sleeps and exits without calling wait,
// so the zombie child is handed to init, which must reap it.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "user/user.h"

#define PARENT_SLEEP 5   // ticks: long enough for the child to have exited

int
main(void)
{
  int pid = fork();

  if(pid < 0){
    fprintf(2, "zombie: fork failed\n");
    exit(1);
  }
  if(pid > 0)
    pause(PARENT_SLEEP);
  exit(0);
}
