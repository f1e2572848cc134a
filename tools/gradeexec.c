// gradeexec, built by grade-cow.py into each grading run's fs.img.
// gradeexec PROGRAM ARGS... prints each line PROGRAM writes after this grading run's token
// ("TOKEN line"), and when PROGRAM has ended all of them again ("TOKEN.line"), at a quiet
// moment: a line printed while the test runs can be mixed with kernel messages.
#include "kernel/types.h"
#include "user/user.h"

#define LINE 200
#define KEEP 65536          // bytes of output kept to print again

static char token[] = "@TOKEN-SLOT-OF-24-CHARS@";  // the grader writes the token here
static char kept[KEEP];     // in .bss: allocated at exec, before the test measures memory
static int nkept;

// Prints the token, sep and the n bytes at s as one line, in one write: never mixed with
// another process's line. A line printed as it came (sep ' ') is kept to print again.
static void
emit(char sep, char *s, int n)
{
  char out[sizeof(token) + LINE + 1];

  memmove(out, token, sizeof(token) - 1);
  out[sizeof(token) - 1] = sep;
  memmove(out + sizeof(token), s, n);
  out[sizeof(token) + n] = '\n';
  write(1, out, sizeof(token) + n + 1);
  if(sep == ' ' && nkept + n + 1 <= KEEP){
    memmove(kept + nkept, s, n);
    kept[nkept + n] = '\n';
    nkept += n + 1;
  }
}

int
main(int argc, char *argv[])
{
  char buf[128], cur[LINE];
  int fds[2], n, len = 0;

  if(argc < 2 || pipe(fds) < 0){
    printf("gradeexec: usage: gradeexec PROGRAM ARGS...\n");
    exit(1);
  }
  if(fork() == 0){
    close(1);
    dup(fds[1]);
    close(2);
    dup(fds[1]);
    close(fds[0]);
    close(fds[1]);
    exec(argv[1], argv + 1);
    printf("gradeexec: exec %s failed\n", argv[1]);
    exit(1);
  }
  close(fds[1]);
  while((n = read(fds[0], buf, sizeof(buf))) > 0){
    for(int i = 0; i < n; i++){
      if(buf[i] == '\n' || len == LINE){
        emit(' ', cur, len);
        len = 0;
      }
      if(buf[i] != '\n')
        cur[len++] = buf[i];
    }
  }
  if(len > 0)
    emit(' ', cur, len);
  if(n < 0){
    // Only the kernel can make this read fail: say so, as the test's own last line.
    static char why[] = "gradeexec: read of the test's output returned -1";
    emit(' ', why, sizeof(why) - 1);
  }
  close(fds[0]);    // a test still writing gets an error instead of a pipe nobody drains
  wait(0);
  for(int at = 0; at < nkept; at += n + 1){
    for(n = 0; kept[at + n] != '\n'; n++)
      ;
    emit('.', kept + at, n);
  }
  exit(0);
}
