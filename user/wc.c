// wc: counts lines, words and bytes of each named file (or of standard input).
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "user/user.h"

static char buf[512];

static int
isspace(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v';
}

// Prints "lines words bytes name" for fd. Returns 0 on success, -1 on a read error.
static int
wc(int fd, const char *name)
{
  int i, n, lines = 0, words = 0, bytes = 0;
  int inword = 0;   // the last byte seen was part of a word (carried across reads)

  while((n = read(fd, buf, sizeof(buf))) > 0){
    bytes += n;
    for(i = 0; i < n; i++){
      if(buf[i] == '\n')
        lines++;
      if(isspace(buf[i])){
        inword = 0;
      } else if(!inword){
        inword = 1;
        words++;
      }
    }
  }
  if(n < 0){
    fprintf(2, "wc: read error in %s\n", name);
    return -1;
  }
  printf("%d %d %d %s\n", lines, words, bytes, name);
  return 0;
}

int
main(int argc, char *argv[])
{
  int i, fd, status = 0;

  if(argc <= 1)
    exit(wc(0, "") < 0);

  for(i = 1; i < argc; i++){
    if((fd = open(argv[i], O_RDONLY)) < 0){
      fprintf(2, "wc: cannot open %s\n", argv[i]);
      status = 1;
      continue;
    }
    if(wc(fd, argv[i]) < 0)
      status = 1;
    close(fd);
  }
  exit(status);
}
