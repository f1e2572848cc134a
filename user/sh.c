// sh: the shell. Reads a line, parses it into a command tree, and runs the tree in child processes.
// At the console, ^C ends the command being waited for (setfg), and up/down recall earlier lines.
// Grammar:  list := pipeline { (';' | '&') [pipeline] }    pipeline := command { '|' command }
//           command := '(' list ')' {redir} | { word | redir }    redir := ('<' | '>' | '>>') word
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define LINESZ   512   // longest input line
#define MAXWORDS (MAXARG - 1)   // words per simple command: exec needs room for the final 0
#define MAXREDIR 4     // redirections per command
#define NCMD     64    // tree nodes per line
// depth of ( ) nesting: parsing and running recurse, and the stack is one page
#define MAXNEST  8
#define NHIST    8     // earlier lines that up and down recall
#define ESC      '\x1b' // the console passes ESC [ A (up) and ESC [ B (down) on at once

enum { EXEC = 1, PIPE, LIST, BACK, SUB };

struct redir {
  char *file;
  int fd;       // 0 for '<', 1 for '>' and '>>'
  int mode;     // open() flags
  int append;   // '>>': start writing at the end (there is no O_APPEND, so read up to it)
};

// One node of the command tree. EXEC uses argv; SUB wraps a list in left;
// PIPE and LIST join left and right; BACK runs left without waiting.
// EXEC and SUB may carry redirections, applied in order before running.
struct cmd {
  int type;
  struct cmd *left, *right;
  int argc;
  char *argv[MAXWORDS + 1];
  int nredir;
  struct redir redir[MAXREDIR];
};

// Per-line storage: the tree and the NUL-terminated words live here, not on the heap,
// so nothing leaks and the (one page) stack stays small. Reset before each line.
static struct cmd cmdpool[NCMD];
static int ncmd;
static char words[2 * LINESZ];   // each word copied with its NUL: never more than twice the line
static int nwords;
static char line[LINESZ];

static char hist[NHIST][LINESZ];   // earlier lines without their '\n'; line i in hist[i % NHIST]
static int nhist;                  // lines ever saved

// Job control, only when reading the console: each command the shell itself waits for is
// made the console's foreground job (a process group of its own), so ^C ends it and
// everything it started, but not the shell, nor & jobs. Between commands there is no
// foreground job, so ^C at the prompt only gives the shell an empty line, also in a shell
// started from another one.
static int jobs;
static int shellpid;

// ---- tokenizer ----

enum { T_END, T_WORD, T_LT, T_GT, T_APPEND, T_PIPE, T_SEMI, T_AMP, T_LPAREN, T_RPAREN };

static char *pos;          // next unread character of line
static int tok;            // current token
static char *tokword;      // its text, when tok == T_WORD
static const char *errmsg; // first parse error of this line, or 0
static int nest;           // ( ) currently open while parsing

static int
isspace(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v';
}

static int
issym(char c)
{
  return c != 0 && strchr("<>|;&()", c) != 0;
}

static void
error(const char *msg)
{
  if(errmsg == 0)
    errmsg = msg;
}

// Advances to the next token.
static void
next(void)
{
  char *start;

  while(isspace(*pos))
    pos++;
  tokword = 0;
  switch(*pos){
  case 0:   tok = T_END; return;
  case '<': tok = T_LT; pos++; return;
  case '|': tok = T_PIPE; pos++; return;
  case ';': tok = T_SEMI; pos++; return;
  case '&': tok = T_AMP; pos++; return;
  case '(': tok = T_LPAREN; pos++; return;
  case ')': tok = T_RPAREN; pos++; return;
  case '>':
    pos++;
    tok = T_GT;
    if(*pos == '>'){
      tok = T_APPEND;
      pos++;
    }
    return;
  }
  start = pos;
  while(*pos && !isspace(*pos) && !issym(*pos))
    pos++;
  tok = T_WORD;
  tokword = &words[nwords];
  memmove(tokword, start, pos - start);
  nwords += pos - start;
  words[nwords++] = 0;
}

// ---- parser: each function returns 0 after calling error() ----

static struct cmd*
newcmd(int type)
{
  struct cmd *c;

  if(ncmd >= NCMD){
    error("command too long");
    return 0;
  }
  c = &cmdpool[ncmd++];
  memset(c, 0, sizeof(*c));
  c->type = type;
  return c;
}

static struct cmd*
join(int type, struct cmd *left, struct cmd *right)
{
  struct cmd *c;

  if(left == 0 || (c = newcmd(type)) == 0)
    return 0;
  c->left = left;
  c->right = right;
  return c;
}

// Parses one redirection if the current token starts one; returns 1 if it did.
static int
parseredir(struct cmd *c)
{
  struct redir *r;
  int t = tok;

  if(t != T_LT && t != T_GT && t != T_APPEND)
    return 0;
  next();
  if(tok != T_WORD){
    error("missing file name after redirection");
    return 1;
  }
  if(c->nredir >= MAXREDIR){
    error("too many redirections");
    return 1;
  }
  r = &c->redir[c->nredir++];
  r->file = tokword;
  if(t == T_LT){
    r->fd = 0;
    r->mode = O_RDONLY;
  } else {
    r->fd = 1;
    r->append = t == T_APPEND;
    r->mode = r->append ? O_RDWR | O_CREATE : O_WRONLY | O_CREATE | O_TRUNC;
  }
  next();
  return 1;
}

static struct cmd *parselist(void);

// A simple command (words and redirections) or a parenthesized list with redirections.
static struct cmd*
parsecommand(void)
{
  struct cmd *c;

  if(tok == T_LPAREN){
    if(nest >= MAXNEST){
      error("( ) nested too deeply");
      return 0;
    }
    next();
    if((c = newcmd(SUB)) == 0)
      return 0;
    nest++;
    c->left = parselist();
    nest--;
    if(errmsg)
      return 0;
    if(c->left == 0){
      error("empty ( )");
      return 0;
    }
    if(tok != T_RPAREN){
      error("missing )");
      return 0;
    }
    next();
    while(!errmsg && parseredir(c))
      ;
    return errmsg ? 0 : c;
  }

  if((c = newcmd(EXEC)) == 0)
    return 0;
  while(!errmsg){
    if(tok == T_WORD){
      if(c->argc >= MAXWORDS){
        error("too many arguments");
        return 0;
      }
      c->argv[c->argc++] = tokword;
      next();
    } else if(!parseredir(c)){
      break;
    }
  }
  if(errmsg)
    return 0;
  if(c->argc == 0 && c->nredir == 0){
    error("missing command");
    return 0;
  }
  return c;
}

// Built left-leaning, (a|b)|c, by iteration rather than recursion to keep the stack shallow.
static struct cmd*
parsepipeline(void)
{
  struct cmd *c, *right;

  c = parsecommand();
  while(c != 0 && tok == T_PIPE){
    next();
    if((right = parsecommand()) == 0)
      return 0;
    c = join(PIPE, c, right);
  }
  return c;
}

// Returns 0 both for an empty list and on error; callers tell them apart with errmsg.
static struct cmd*
parselist(void)
{
  struct cmd *list = 0, *c;

  while(!errmsg && tok != T_END && tok != T_RPAREN){
    if((c = parsepipeline()) == 0)
      return 0;
    if(tok == T_AMP){
      c = join(BACK, c, 0);
      next();
    } else if(tok == T_SEMI){
      next();
    } else if(tok != T_END && tok != T_RPAREN){
      error("unexpected symbol");
      return 0;
    }
    list = list ? join(LIST, list, c) : c;
  }
  return errmsg ? 0 : list;
}

// Parses line into a tree. Returns 0 for an empty line or on error (then errmsg is set).
static struct cmd*
parseline(void)
{
  struct cmd *c;

  ncmd = 0;
  nwords = 0;
  errmsg = 0;
  nest = 0;
  pos = line;
  next();
  c = parselist();
  if(!errmsg && tok != T_END)
    error("unexpected )");
  return errmsg ? 0 : c;
}

// ---- execution ----

static void die(const char *msg) __attribute__((noreturn));

static void
die(const char *msg)
{
  fprintf(2, "%s\n", msg);
  exit(1);
}

static int
fork1(void)
{
  int pid = fork();

  if(pid < 0)
    fprintf(2, "fork failed\n");
  return pid;
}

// Runs cd in this process if c is one; returns 1 if it was.
static int
builtin(struct cmd *c)
{
  char *dir;

  if(c->type != EXEC || c->argc == 0 || strcmp(c->argv[0], "cd") != 0 || c->nredir != 0)
    return 0;
  if(c->argc > 2){
    fprintf(2, "usage: cd [dir]\n");
    return 1;
  }
  dir = c->argc == 2 ? c->argv[1] : "/";
  if(chdir(dir) < 0)
    fprintf(2, "cannot cd %s\n", dir);
  return 1;
}

// Waits for child pid; other children reaped on the way belong to no one we track.
static void
waitfor(int pid)
{
  int w;

  do {
    w = wait(0);
  } while(w >= 0 && w != pid);
}

static void
applyredirs(struct cmd *c)
{
  static char skip[512];
  struct redir *r;
  int i, n;

  for(i = 0; i < c->nredir; i++){
    r = &c->redir[i];
    close(r->fd);
    // open() returns the lowest free descriptor, which is the one just closed.
    if(open(r->file, r->mode) != r->fd){
      fprintf(2, "open %s failed\n", r->file);
      exit(1);
    }
    if(r->append){
      // Reading to end of file leaves the offset there, so writes append.
      while((n = read(r->fd, skip, sizeof(skip))) > 0)
        ;
      if(n < 0){
        fprintf(2, "cannot append to %s\n", r->file);
        exit(1);
      }
    }
  }
}

static void
runexec(struct cmd *c)
{
  static char path[MAXPATH];

  if(c->argc == 0)
    exit(0);   // redirections only: the files have been opened, nothing to run
  if(builtin(c))
    exit(0);
  exec(c->argv[0], c->argv);
  // Programs live in the root directory; let them be found from elsewhere too.
  if(strchr(c->argv[0], '/') == 0 && strlen(c->argv[0]) + 2 <= sizeof(path)){
    path[0] = '/';
    strcpy(path + 1, c->argv[0]);
    exec(path, c->argv);
  }
  fprintf(2, "exec %s failed\n", c->argv[0]);
  exit(1);
}

static void runcmd(struct cmd *c) __attribute__((noreturn));
static void runwait(struct cmd *c);

// Runs c in this (already forked) process; never returns.
static void
runcmd(struct cmd *c)
{
  int p[2], left, right;

  switch(c->type){
  case EXEC:
    applyredirs(c);
    runexec(c);
    break;

  case SUB:
    applyredirs(c);
    runcmd(c->left);
    break;

  case LIST:
    runwait(c->left);
    runcmd(c->right);

  case BACK:
    // The child is not waited for; when we exit it is handed to init.
    if((left = fork1()) == 0)
      runcmd(c->left);
    exit(left < 0);

  case PIPE:
    if(pipe(p) < 0)
      die("pipe failed");
    if((left = fork1()) == 0){
      close(1);
      dup(p[1]);
      close(p[0]);
      close(p[1]);
      runcmd(c->left);
    }
    right = left < 0 ? -1 : fork1();
    if(right == 0){
      close(0);
      dup(p[0]);
      close(p[0]);
      close(p[1]);
      runcmd(c->right);
    }
    // Both ends must be closed here, or the reader never sees end of file.
    close(p[0]);
    close(p[1]);
    if(left > 0)
      waitfor(left);
    if(right > 0)
      waitfor(right);
    exit(left < 0 || right < 0);
  }
  die("sh: bad command");
}

// Runs c to completion and returns. Lists are walked in this process so that a cd
// affects it (the shell itself, or a subshell); everything else runs in a child we wait for.
static void
runwait(struct cmd *c)
{
  int pid;

  if(c->type == LIST){
    runwait(c->left);
    runwait(c->right);
    return;
  }
  if(builtin(c))
    return;
  int fg = jobs && c->type != BACK && getpid() == shellpid;
  if((pid = fork1()) < 0)
    return;
  if(pid == 0){
    if(fg)
      setfg(getpid());   // here too, so that even what it forks at once is in its group
    runcmd(c);
  }
  if(fg)
    setfg(pid);
  waitfor(pid);
  if(fg)
    setfg(0);
}

// Replaces the n characters typed so far (shown after the prompt) by the line `back` lines up
// the history (0: an empty one). Returns the new length.
static int
recall(int n, int back)
{
  while(n-- > 0)
    write(2, "\b \b", 3);
  line[0] = 0;
  if(back > 0)
    strcpy(line, hist[(nhist - back) % NHIST]);
  n = strlen(line);
  write(2, line, n);
  return n;
}

// Saves line[] without its '\n' in the history, unless it is empty or repeats the last one.
static void
remember(void)
{
  int n = strlen(line);
  char end = line[n - 1];

  if(end == '\n')
    line[--n] = 0;
  if(n > 0 && (nhist == 0 || strcmp(hist[(nhist - 1) % NHIST], line) != 0))
    strcpy(hist[nhist++ % NHIST], line);
  line[n] = end == '\n' ? end : 0;
}

// Reads the next line into line[]; up and down replace it by an earlier line. Returns 0 at
// end of input, -1 for a line too long to hold.
static int
getcmd(void)
{
  int n = 0, back = 0;
  char c, seq[2];

  fprintf(2, "$ ");
  memset(line, 0, sizeof(line));
  while(n < LINESZ - 1 && read(0, &c, 1) == 1){
    if(c == ESC && read(0, seq, 2) == 2 && seq[0] == '['){
      if(seq[1] == 'A' && back < nhist && back < NHIST)
        n = recall(n, ++back);
      else if(seq[1] == 'B' && back > 0)
        n = recall(n, --back);
      continue;
    }
    line[n++] = c;
    if(c == '\n' || c == '\r')
      break;
  }
  line[n] = 0;
  if(n == 0)
    return 0;
  if(n == LINESZ - 1 && line[n-1] != '\n' && line[n-1] != '\r'){
    // Discard the rest of the overlong line so it is not run as a command of its own.
    while(read(0, &c, 1) == 1 && c != '\n' && c != '\r')
      ;
    return -1;
  }
  remember();
  return 1;
}

int
main(void)
{
  struct cmd *c;
  int fd, r;

  // Make sure fds 0, 1 and 2 are open, so children's output has somewhere to go.
  while((fd = open("console", O_RDWR)) >= 0){
    if(fd >= 3){
      close(fd);
      break;
    }
  }
  struct stat st;
  jobs = fstat(0, &st) == 0 && st.type == T_DEVICE;
  shellpid = getpid();
  if(jobs)
    setfg(0);

  while((r = getcmd()) != 0){
    if(r < 0){
      fprintf(2, "sh: line too long\n");
      continue;
    }
    c = parseline();
    if(errmsg){
      fprintf(2, "sh: syntax error: %s\n", errmsg);
      continue;
    }
    if(c)
      runwait(c);
  }
  exit(0);
}
