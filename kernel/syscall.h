// System call numbers. user/usys.pl and kernel/syscall.c both follow this table.
#ifndef XV6_SYSCALL_H
#define XV6_SYSCALL_H

#define SYS_fork    1
#define SYS_exit    2
#define SYS_wait    3
#define SYS_pipe    4
#define SYS_read    5
#define SYS_kill    6
#define SYS_exec    7
#define SYS_fstat   8
#define SYS_chdir   9
#define SYS_dup    10
#define SYS_getpid 11
#define SYS_sbrk   12
#define SYS_pause  13
#define SYS_sleep  SYS_pause   // classic name of the same call
#define SYS_uptime 14
#define SYS_open   15
#define SYS_write  16
#define SYS_mknod  17
#define SYS_unlink 18
#define SYS_link   19
#define SYS_mkdir  20
#define SYS_close  21
#define SYS_memstat 22         // ours: physical memory and COW statistics
#define SYS_vmquery 23         // ours: the caller's pages, see kernel/vmquery.h
#define SYS_sync    24         // ours: commit the file system now (log.c)
#define SYS_halt    25         // ours: sync, then power the machine off
#define SYS_setfg   26         // ours: the console's foreground job, for ^C

#endif
