// job: processes for make check's ^C steps (the shell session).
//   job spin N   N processes (this one and its children) loop forever, "job: N spinning" printed
//                once all exist: only ^C (or kill) ends them
//   job nap T    sleep T ticks in silence, then exit: a background job that ^C must not end
#include "kernel/types.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  int n = argc == 3 ? atoi(argv[2]) : 0, pid = 1;

  if(argc == 3 && strcmp(argv[1], "nap") == 0)
    exit(pause(n));             // 0: slept all n ticks
  if(argc != 3 || strcmp(argv[1], "spin") != 0){
    fprintf(2, "usage: job spin N | job nap TICKS\n");
    exit(2);
  }
  for(int i = 1; i < n && pid > 0; i++)
    pid = fork();               // only the first process forks
  if(pid < 0){
    fprintf(2, "job: fork failed\n");
    exit(1);
  }
  if(pid > 0)
    printf("job: %d spinning\n", n);
  for(;;)
    ;
}
