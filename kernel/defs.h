// The kernel's internal interface: every function one kernel file calls in another, by layer
// from the hardware up, one block per file.
//
// Lock order (outermost first), for the whole kernel; fs.c details the order among inodes:
//   begin_op -> inode sleeplocks -> buffer sleeplocks -> log.lock, itable.lock, bcache.lock,
//     disk.lock (spinlocks, held briefly)
//   pipe->lock -> kmem.lock: ringcopy() copies user memory under pi->lock, and a copy-on-write
//     or lazy page it touches is resolved there, in kalloc()
//   cons.writing (a sleeplock, one write() at a time) -> uart's tx.lock -> printlock
//   any spinlock -> p->lock, since wakeup() takes every p->lock; wait_lock -> p->lock.
//   kmem.lock and printlock are leaves: holding one, the kernel takes no other lock.
#ifndef XV6_DEFS_H
#define XV6_DEFS_H

struct buf;
struct context;
struct file;
struct inode;
struct memstat;
struct pipe;
struct proc;
struct sleeplock;
struct spinlock;
struct stat;
struct superblock;

#define NELEM(a)  (sizeof(a) / sizeof((a)[0]))   // entries in a fixed-size array
#define MIN(a, b) ((a) < (b) ? (a) : (b))

// ===== Firmware and devices =====
// sbi.c: calls into the OpenSBI firmware, which runs in M-mode
void            sbi_set_timer(uint64 when);
int             sbi_hart_start(uint64 hartid, uint64 start_addr, uint64 opaque);
int             sbi_hart_get_status(uint64 hartid);
void            sbi_shutdown(void) __attribute__((noreturn));

// uart.c: the 16550 serial port
void            uartinit(void);
void            uartputc(int c);            // may sleep while the transmit buffer is full
void            uartputc_sync(int c);       // spins; for printf and echo
void            uartsetrx(int on);           // receive interrupts on or off (flow control)
void            uartintr(void);

// console.c: line editing on top of the UART; device CONSOLE
void            consoleinit(void);
void            consputc(int c);
int             consoleroom(void);          // 0 while the line buffer is full
void            consoleintr(int c);
int             consolesetfg(int pgid);     // the job ^C ends; returns the previous one

// plic.c: the interrupt controller
void            plicinit(void);
void            plicinithart(void);
int             plic_claim(void);           // the pending IRQ, 0 if none
void            plic_complete(int irq);

// virtio_disk.c: the virtio block device
void            virtio_disk_init(void);
void            virtio_disk_rw(struct buf *b, int write);
void            virtio_disk_write_batch(struct buf **bufs, uint *blocks, int n);
void            virtio_disk_intr(void);

// ===== Kernel library =====
// string.c
void*           memset(void *dst, int c, uint n);
void*           memmove(void *dst, const void *src, uint n);
void*           memcpy(void *dst, const void *src, uint n);
int             memcmp(const void *a, const void *b, uint n);
int             strlen(const char *s);
int             strncmp(const char *a, const char *b, uint n);
char*           strncpy(char *dst, const char *src, int n);
char*           safestrcpy(char *dst, const char *src, int n);   // always NUL-terminates

// printf.c
extern struct spinlock printlock;           // also uart.c's, see uartstart()
void            printfinit(void);
int             printf(char *fmt, ...) __attribute__((format(printf, 1, 2)));
void            panic(char *why) __attribute__((noreturn));

// spinlock.c: locks held for a few instructions; interrupts stay off while one is held
void            initlock(struct spinlock *lk, char *name);
void            acquire(struct spinlock *lk);
void            release(struct spinlock *lk);
int             holding(struct spinlock *lk);
void            push_off(void);             // interrupts off, nestable
void            pop_off(void);

// sleeplock.c: locks that may be held across disk I/O; the waiter sleeps
void            initsleeplock(struct sleeplock *lk, char *name);
void            acquiresleep(struct sleeplock *lk);
void            releasesleep(struct sleeplock *lk);
int             holdingsleep(struct sleeplock *lk);

// ===== Memory =====
// kalloc.c: physical pages (the rules: kalloc.c's header)
void            kinit(void);
void*           kalloc(void);               // an uninitialised page, or 0 if none is free
void            kfree(void *pa);            // give the page up
void            kfree_ptes(pte_t *ptes, int n);    // kfree each page valid PTEs map
int             krefcount(void *pa);        // the page's reference count (a snapshot)
#ifndef NO_PAGE_REFS
void            krefinc(void *pa);          // one more reference to an allocated page
int             krefinc_ptes(pte_t *ptes, int n);  // krefinc each page valid PTEs map; # pages
#endif
uint64          kfreepages(void);           // pages on the free list
uint64          ktotalpages(void);          // pages the allocator manages
uint64          ksharedpages(void);         // pages with more than one reference

// vm.c: page tables. The kernel's own (a direct map), then each process's.
void            kvminit(void);
void            kvminithart(void);
void            kvmmap(pagetable_t kpt, uint64 va, uint64 pa, uint64 size, int perm);
pte_t*          walk(pagetable_t pt, uint64 va, int alloc);
uint64          walkaddr(pagetable_t pt, uint64 va);
int             mappages(pagetable_t pt, uint64 va, uint64 size, uint64 pa, int perm);
pagetable_t     uvmcreate(void);
uint64          uvmalloc(pagetable_t pt, uint64 oldsz, uint64 newsz, int xperm);
uint64          uvmdealloc(pagetable_t pt, uint64 oldsz, uint64 newsz);
void            uvmunmap(pagetable_t pt, uint64 va, uint64 npages, int do_free);
int             uvmcopy(pagetable_t parent, pagetable_t child, uint64 sz);
void            uvmfree(pagetable_t pt, uint64 sz);
void            uvmclear(pagetable_t pt, uint64 va);   // no user access: the stack guard
int             vmfault(pagetable_t pt, uint64 va, int write);   // a FAULT_ result
int             copyout(pagetable_t pt, uint64 dstva, char *src, uint64 len);
int             copyin(pagetable_t pt, char *dst, uint64 srcva, uint64 len);
int             copyinstr(pagetable_t pt, char *dst, uint64 srcva, uint64 max);
int             userrange(pagetable_t pt, uint64 va, uint64 len, int write);  // usable? 0 : -1
int             uvmquery(pagetable_t pt, uint64 va, int npages, uint64 dst);
void            uvmcount(pagetable_t pt, uint64 sz, int *mapped, int *shared);

// What vmfault() and the fault handlers it calls return.
#define FAULT_OK      0    // the access can be retried and will succeed
#define FAULT_BAD    -1    // not a page the process may access this way
#define FAULT_NOMEM  -2    // a legal access, but no physical page was free

#ifdef COW_FORK
// cow.c: copy-on-write, the one place that knows the PTE_COW rules (make COW=1, the
// default). The student starter has neither the file nor these lines (tools/handout.py).
void            cow_share_table(pte_t *parent, pte_t *child, int n);  // one leaf table
int             cow_fault(pte_t *pte, uint64 va);   // pte: the one vmfault() found
void            cow_stats(struct memstat *st);      // fills the cow* fields only
// ... and, for fault-around, a run of one table's COW pages, each as its own fault would
void            cow_resolve_run(pte_t *table, int from, int to, int step, int copies);
// cowaround.c (make COWBATCH=1): resolve more COW pages of the faulting page's table
void            cow_around(pte_t *pte, uint64 va, int reused);
void            cow_seqreset(struct proc *p);       // fork: no sequential writes seen yet
#endif

// ===== Processes and traps =====
// proc.c: the process table, fork/exit/wait, sleep/wakeup and the scheduler
void            procinit(void);
void            proc_mapstacks(pagetable_t kpt);
void            userinit(void);
int             kthread_start(char *name, void (*fn)(void));  // a kernel thread, pid 0
int             cpuid(void);
struct cpu*     mycpu(void);
struct proc*    myproc(void);
pagetable_t     proc_pagetable(struct proc *p);
void            proc_freepagetable(pagetable_t pt, uint64 sz);
int             growproc(int n, int lazy);   // sbrk; lazy: map on first touch
int             fork(void);
void            exit(int status) __attribute__((noreturn));
int             wait(uint64 statusva);
int             kill(int pid);
int             killed(struct proc *p);
void            setkilled(struct proc *p);
void            scheduler(void) __attribute__((noreturn));
void            sched(void);
void            yield(void);
void            procdecay(void);            // once a second: recent CPU use fades
int             setpgrp(int pid);
void            killgroup(int pgid);
void            sleep(void *chan, struct spinlock *lk);
void            wakeup(void *chan);
int             either_copyout(int user_dst, uint64 dst, void *src, uint64 len);
int             either_copyin(void *dst, int user_src, uint64 src, uint64 len);
void            procdump(void);

// swtch.S
void            swtch(struct context *old, struct context *new);

// trap.c
extern uint     ticks;
extern struct spinlock tickslock;
void            trapinit(void);
void            trapinithart(void);
void            timerinit(void);            // per hart: choose Sstc or SBI, arm the first tick
void            usertrapret(void);

// ===== File system, from the disk up =====
// bio.c: the buffer cache
void            binit(void);
struct buf*     bread(uint dev, uint blockno);
struct buf*     bclaim(uint dev, uint blockno);   // bread, no disk read: caller overwrites all
void            bwrite(struct buf *b);
void            bwrite_batch(struct buf **bufs, uint *blocks, int n);  // one trip to the disk
void            brelse(struct buf *b);
void            bpin(struct buf *b);
void            bunpin(struct buf *b);
void            bio_stats(struct memstat *st);    // fills memstat's disk* fields

// log.c: crash-safe transactions with group commit
void            initlog(int dev, struct superblock *sb);
void            begin_op(void);
void            end_op(void);
void            log_write(struct buf *b);
void            log_write_new(struct buf *b);     // log_write for a block balloc just allocated
void            log_freed(uint blockno);          // bfree freed this block in the open transaction
void            log_sync(int force);              // wait until ended operations are on disk

// fs.c: inodes, directories and path names
void            fsinit(int dev);
void            iinit(void);
struct inode*   ialloc(uint dev, short type);
struct inode*   iget(uint dev, uint inum);        // 0 if the inode table is full
struct inode*   idup(struct inode *ip);
void            ilock(struct inode *ip);
void            iunlock(struct inode *ip);
void            iput(struct inode *ip);
void            iunlockput(struct inode *ip);
void            iupdate(struct inode *ip);
void            itrunc(struct inode *ip);
void            stati(struct inode *ip, struct stat *st);
int             readi(struct inode *ip, int user_dst, uint64 dst, uint off, uint n);
int             writei(struct inode *ip, int user_src, uint64 src, uint off, uint n);
int             namecmp(const char *a, const char *b);
uint            dirlookup(struct inode *dp, char *name, uint *poff);  // inode number, 0 if absent
int             dirlink(struct inode *dp, char *name, uint inum);
int             dirremove(struct inode *dp, uint off);
int             isdirempty(struct inode *dp);
struct inode*   namei(char *path);
struct inode*   nameiparent(char *path, char *name);

// file.c: open files, shared by descriptors
void            fileinit(void);
struct file*    filealloc(void);
struct file*    filedup(struct file *f);
void            fileclose(struct file *f);
int             fileread(struct file *f, uint64 dst, int n);
int             filewrite(struct file *f, uint64 src, int n);
int             filestat(struct file *f, uint64 dst);

// pipe.c
int             pipealloc(struct file **rf, struct file **wf);
void            pipeclose(struct pipe *pi, int writable);
int             piperead(struct pipe *pi, uint64 dst, int n);
int             pipewrite(struct pipe *pi, uint64 src, int n);

// exec.c
int             exec(char *path, char **argv);

// ===== System calls =====
// syscall.c: fetching a system call's arguments, and the dispatch
void            syscall(void);
void            argint(int n, int *ip);
void            argaddr(int n, uint64 *ap);
int             argstr(int n, char *buf, int max);
int             fetchaddr(uint64 va, uint64 *ip);
int             fetchstr(uint64 va, char *buf, int max);

#endif
