// lines: 4 processes print 150 lines each at the same time, for make check's shell session:
// every line must reach the console whole (one printf is one write()).
#include "kernel/types.h"
#include "user/user.h"

int
main(void)
{
  for(int w = 0; w < 4; w++){
    int pid = fork();
    if(pid < 0){
      fprintf(2, "lines: fork failed\n");
      exit(1);
    }
    if(pid == 0){
      for(int i = 0; i < 150; i++)
        printf("lines: %d %d abcdefghijklmnopqrstuvwxyz0123456789 %d\n", w, i, w * 1000 + i);
      exit(0);
    }
  }
  while(wait(0) > 0)
    ;
  printf("lines: done\n");
  exit(0);
}
