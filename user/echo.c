// echo: prints its arguments separated by single spaces, then a newline.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  int i;

  for(i = 1; i < argc; i++){
    if(write(1, argv[i], strlen(argv[i])) < 0 || write(1, i + 1 < argc ? " " : "\n", 1) != 1)
      exit(1);
  }
  if(argc <= 1 && write(1, "\n", 1) != 1)
    exit(1);
  exit(0);
}
