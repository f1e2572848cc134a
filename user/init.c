// init: the first user process. Sets up the console as fds 0, 1, 2, keeps a shell running,
// and reaps every orphan the kernel hands to it.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/spinlock.h"
#include "kernel/sleeplock.h"
#include "kernel/fs.h"
#include "kernel/file.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define RETRY_TICKS 10   // back-off before retrying a failed fork or a shell that dies at once

static char *sh_argv[] = { "sh", 0 };

// Opens the console as fd 0 (creating the device node on a fresh disk) and copies it to 1 and 2.
static void
open_console(void)
{
  if(open("console", O_RDWR) < 0){
    mknod("console", CONSOLE, 0);
    if(open("console", O_RDWR) < 0)
      exit(1);   // nowhere to report it; the kernel will say init exited
  }
  dup(0);   // stdout
  dup(0);   // stderr
}

// Starts one shell; returns its pid, or -1 if fork failed.
static int
start_shell(void)
{
  int pid;

  printf("init: starting sh\n");
  pid = fork();
  if(pid == 0){
    exec("sh", sh_argv);
    exec("/sh", sh_argv);
    printf("init: exec sh failed\n");
    exit(1);
  }
  return pid;
}

int
main(void)
{
  int pid, wpid, start;

  open_console();
  for(;;){
    start = uptime();
    pid = start_shell();
    if(pid < 0){
      printf("init: fork failed\n");
      pause(RETRY_TICKS);
      continue;
    }
    // Every wait that returns another pid has reaped an orphan; keep going until the shell exits.
    // init must never exit, so even an unexpected wait error only leads to a new shell.
    for(;;){
      wpid = wait(0);
      if(wpid == pid || wpid < 0)
        break;
    }
    if(uptime() - start < RETRY_TICKS)
      pause(RETRY_TICKS);   // avoid a tight loop if sh cannot run at all
  }
  return 0;
}
