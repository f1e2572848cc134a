// ls: lists files as "name type inode size"; a directory argument lists its entries.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fs.h"
#include "kernel/fcntl.h"
#include "user/user.h"

// The last path component, blank-padded to DIRSIZ so the columns line up.
static char*
fmtname(const char *path)
{
  static char name[DIRSIZ + 1];
  const char *p = path + strlen(path);
  int n;

  while(p > path && p[-1] != '/')
    p--;
  n = strlen(p);
  if(n >= DIRSIZ)
    return (char*)p;
  memmove(name, p, n);
  memset(name + n, ' ', DIRSIZ - n);
  name[DIRSIZ] = 0;
  return name;
}

static void
show(const char *name, struct stat *st)
{
  printf("%s %d %d %lu\n", fmtname(name), st->type, st->ino, (unsigned long)st->size);
}

// Lists the entries of directory fd, whose path is dir. Returns 0 on success.
static int
lsdir(int fd, const char *dir)
{
  static char path[MAXPATH];
  struct dirent de;
  struct stat st;
  char *p;
  int n, status = 0;

  if(strlen(dir) + 1 + DIRSIZ + 1 > sizeof(path)){
    fprintf(2, "ls: path too long\n");
    return -1;
  }
  strcpy(path, dir);
  p = path + strlen(path);
  *p++ = '/';
  while((n = read(fd, &de, sizeof(de))) == sizeof(de)){
    if(de.inum == 0)
      continue;
    memmove(p, de.name, DIRSIZ);
    p[DIRSIZ] = 0;   // a DIRSIZ-long name has no NUL of its own
    if(stat(path, &st) < 0){
      fprintf(2, "ls: cannot stat %s\n", path);
      status = -1;
      continue;
    }
    show(p, &st);
  }
  if(n != 0){
    fprintf(2, "ls: read error in %s\n", dir);
    status = -1;
  }
  return status;
}

static int
ls(const char *path)
{
  struct stat st;
  int fd, r = 0;

  if((fd = open(path, O_RDONLY)) < 0){
    fprintf(2, "ls: cannot open %s\n", path);
    return -1;
  }
  if(fstat(fd, &st) < 0){
    fprintf(2, "ls: cannot stat %s\n", path);
    close(fd);
    return -1;
  }
  if(st.type == T_DIR)
    r = lsdir(fd, path);
  else
    show(path, &st);
  close(fd);
  return r;
}

int
main(int argc, char *argv[])
{
  int i, status = 0;

  if(argc < 2)
    exit(ls(".") < 0);
  for(i = 1; i < argc; i++){
    if(ls(argv[i]) < 0)
      status = 1;
  }
  exit(status);
}
