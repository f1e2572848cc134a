// grep: prints the lines of each file (or of standard input) that match a pattern.
// Patterns: c matches itself, '.' any character, 'x*' zero or more x,
// a leading '^' anchors at line start, a trailing '$' at line end.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define BUFSZ 1024

static char buf[BUFSZ + 1];   // one spare byte so a final unterminated line can get its '\n'

static int
charmatch(char pat, char c)
{
  return pat == '.' || pat == c;
}

// Does re match a prefix of s? Stars try the fewest repetitions first.
static int
matchat(const char *re, const char *s)
{
  const char *t;

  for(;;){
    if(re[0] == 0)
      return 1;
    if(re[1] == '*'){
      for(t = s; ; t++){
        if(matchat(re + 2, t))
          return 1;
        if(*t == 0 || !charmatch(re[0], *t))
          return 0;
      }
    }
    if(re[0] == '$' && re[1] == 0)
      return *s == 0;
    if(*s == 0 || !charmatch(re[0], *s))
      return 0;
    re++;
    s++;
  }
}

// Does re match anywhere in the NUL-terminated line s?
static int
match(const char *re, const char *s)
{
  if(re[0] == '^')
    return matchat(re + 1, s);
  for(;; s++){
    if(matchat(re, s))
      return 1;
    if(*s == 0)
      return 0;
  }
}

// Checks line[0..len) (not NUL-terminated, with room for one more byte) and prints it on a match.
static void
doline(const char *re, char *line, int len)
{
  line[len] = 0;
  if(match(re, line)){
    line[len] = '\n';
    write(1, line, len + 1);
  }
}

// First newline in [p, end), or 0.
static char*
memchr_nl(char *p, char *end)
{
  for(; p < end; p++){
    if(*p == '\n')
      return p;
  }
  return 0;
}

// Returns 0 on success, -1 on a read error.
static int
grep(const char *re, int fd, const char *name)
{
  int n, have = 0;
  char *p, *nl;

  // Invariant: buf[0..have) holds the start of a line whose newline has not been read yet.
  while((n = read(fd, buf + have, BUFSZ - have)) > 0){
    have += n;
    p = buf;
    while((nl = memchr_nl(p, buf + have)) != 0){
      doline(re, p, nl - p);
      p = nl + 1;
    }
    have -= p - buf;
    memmove(buf, p, have);
    if(have == BUFSZ){
      // A line longer than the buffer: judge what we have as a line of its own.
      doline(re, buf, have);
      have = 0;
    }
  }
  if(have > 0)
    doline(re, buf, have);
  if(n < 0){
    fprintf(2, "grep: read error in %s\n", name);
    return -1;
  }
  return 0;
}

int
main(int argc, char *argv[])
{
  int i, fd, status = 0;
  char *re;

  if(argc < 2){
    fprintf(2, "usage: grep pattern [file ...]\n");
    exit(1);
  }
  re = argv[1];
  if(argc == 2)
    exit(grep(re, 0, "standard input") < 0);

  for(i = 2; i < argc; i++){
    if((fd = open(argv[i], O_RDONLY)) < 0){
      fprintf(2, "grep: cannot open %s\n", argv[i]);
      status = 1;
      continue;
    }
    if(grep(re, fd, argv[i]) < 0)
      status = 1;
    close(fd);
  }
  exit(status);
}
