// job: processes for make check's ^C steps (the shell session).
//   job spin N   fork until N processes (this one and its children) loop forever, print
//                "job: N spinning" once all exist: only ^C (or kill) ends them
//   job nap T    sleep T ticks in silence, then exit: a background job that ^C must not end
#include "kernel/types.h"
#include "user/user.h"

static void
spin(int n)
{
  for(int i = 1; i < n; i++){
    int pid = fork();
    if(pid < 0){
      fprintf(2, "job: fork failed\n");
      exit(1);
    }
    if(pid == 0)
      for(;;)
        ;
  }
  printf("job: %d spinning\n", n);
  for(;;)
    ;
}

int
main(int argc, char *argv[])
{
  if(argc == 3 && strcmp(argv[1], "spin") == 0)
    spin(atoi(argv[2]));
  if(argc == 3 && strcmp(argv[1], "nap") == 0){
    pause(atoi(argv[2]));
    exit(0);
  }
  fprintf(2, "usage: job spin N | job nap TICKS\n");
  exit(2);
}
