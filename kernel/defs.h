// Every kernel function that is used outside the file that defines it, grouped by that file.
// Lock order (outermost first), stated once for the whole kernel:
//   log.lock / inode sleeplocks (parent directory before child) -> buffer sleeplocks
//   wait_lock -> p->lock -> (nothing else but the locks sleep() releases)
//   pipe->lock, cons.lock, tickslock and kmem.lock are leaves (page counts take no lock).
#ifndef XV6_DEFS_H
#define XV6_DEFS_H

struct buf;
struct context;
struct file;
struct inode;
struct pipe;
struct proc;
struct spinlock;
struct sleeplock;
struct stat;
struct superblock;
struct memstat;

// sbi.c -- calls into the OpenSBI firmware (M-mode)
void            sbi_console_putchar(int);
void            sbi_set_timer(uint64);
int             sbi_hart_start(uint64 hartid, uint64 start_addr, uint64 opaque);
int             sbi_hart_get_status(uint64 hartid);
void            sbi_shutdown(void) __attribute__((noreturn));

// bio.c
void            binit(void);
struct buf*     bread(uint, uint);
void            brelse(struct buf*);
void            bwrite(struct buf*);
void            bpin(struct buf*);
void            bunpin(struct buf*);
struct buf*     bclaim(uint, uint);     // like bread, but no disk read: caller overwrites it all
void            bwrite_batch(struct buf**, uint*, int);  // write bufs to blocks, all at once
void            bio_stats(struct memstat *);   // fills memstat's disk* fields

// console.c
void            consoleinit(void);
void            consoleintr(int);
int             consoleroom(void);
void            consputc(int);

// exec.c
int             exec(char*, char**);

// file.c
struct file*    filealloc(void);
void            fileclose(struct file*);
struct file*    filedup(struct file*);
void            fileinit(void);
int             fileread(struct file*, uint64, int n);
int             filestat(struct file*, uint64 addr);
int             filewrite(struct file*, uint64, int n);

// fs.c
void            fsinit(int);
int             dirlink(struct inode*, char*, uint);
uint            dirlookup(struct inode*, char*, uint*);   // inode number, 0 if absent
int             dirremove(struct inode*, uint);
struct inode*   ialloc(uint, short);
struct inode*   idup(struct inode*);
struct inode*   iget(uint, uint);                         // 0 if the inode table is full
void            iinit(void);
void            ilock(struct inode*);
void            iput(struct inode*);
int             isdirempty(struct inode*);
void            iunlock(struct inode*);
void            iunlockput(struct inode*);
void            iupdate(struct inode*);
int             namecmp(const char*, const char*);
struct inode*   namei(char*);
struct inode*   nameiparent(char*, char*);
int             readi(struct inode*, int, uint64, uint, uint);
void            stati(struct inode*, struct stat*);
int             writei(struct inode*, int, uint64, uint, uint);
void            itrunc(struct inode*);

// kalloc.c -- physical pages, each with a reference count
void            kinit(void);
void*           kalloc(void);           // an uninitialised page with count 1, or 0 if none
void            kfree(void *);          // drop one reference; the page is freed at count 0
void            krefinc(void *);        // one more reference to an allocated page
int             krefcount(void *);      // current count (a snapshot)
int             krefinc_ptes(pte_t *, int n);  // krefinc each page valid PTEs map; # pages
void            kfree_ptes(pte_t *, int n);    // kfree each page valid PTEs map
uint64          kfreepages(void);       // pages on the free list
uint64          ktotalpages(void);      // pages the allocator manages
uint64          ksharedpages(void);     // pages with count > 1

// log.c
void            initlog(int, struct superblock*);
void            log_write(struct buf*);
void            begin_op(void);
void            end_op(void);
void            log_write_new(struct buf*);  // log_write for a block balloc just allocated
void            log_freed(uint);             // bfree freed this block in the open transaction
void            log_sync(int force);         // wait until ended operations are on disk; log.c

// pipe.c
int             pipealloc(struct file**, struct file**);
void            pipeclose(struct pipe*, int);
int             piperead(struct pipe*, uint64, int);
int             pipewrite(struct pipe*, uint64, int);

// printf.c
int             printf(char*, ...) __attribute__ ((format (printf, 1, 2)));
void            panic(char*) __attribute__((noreturn));
void            printfinit(void);

// proc.c
int             cpuid(void);
void            exit(int);
int             fork(void);
int             growproc(int);
int             growlazy(int);
void            proc_mapstacks(pagetable_t);
pagetable_t     proc_pagetable(struct proc *);
void            proc_freepagetable(pagetable_t, uint64);
int             kill(int);
int             killed(struct proc*);
void            setkilled(struct proc*);
struct cpu*     mycpu(void);
struct proc*    myproc();
void            procinit(void);
void            scheduler(void) __attribute__((noreturn));
void            sched(void);
void            sleep(void*, struct spinlock*);
void            userinit(void);
int             wait(uint64);
void            wakeup(void*);
void            yield(void);
int             either_copyout(int user_dst, uint64 dst, void *src, uint64 len);
int             either_copyin(void *dst, int user_src, uint64 src, uint64 len);
void            procdump(void);
int             kthread_start(char *name, void (*fn)(void));  // a kernel thread, pid 0

// swtch.S
void            swtch(struct context*, struct context*);

// spinlock.c
void            acquire(struct spinlock*);
int             holding(struct spinlock*);
void            initlock(struct spinlock*, char*);
void            release(struct spinlock*);
void            push_off(void);
void            pop_off(void);

// sleeplock.c
void            acquiresleep(struct sleeplock*);
void            releasesleep(struct sleeplock*);
int             holdingsleep(struct sleeplock*);
void            initsleeplock(struct sleeplock*, char*);

// string.c
int             memcmp(const void*, const void*, uint);
void*           memmove(void*, const void*, uint);
void*           memset(void*, int, uint);
void*           memcpy(void*, const void*, uint);
char*           safestrcpy(char*, const char*, int);
int             strlen(const char*);
int             strncmp(const char*, const char*, uint);
char*           strncpy(char*, const char*, int);

// syscall.c
void            argint(int, int*);
int             argstr(int, char*, int);
void            argaddr(int, uint64 *);
int             fetchstr(uint64, char*, int);
int             fetchaddr(uint64, uint64*);
void            syscall(void);

// trap.c
extern uint     ticks;
extern struct spinlock tickslock;
void            trapinit(void);
void            trapinithart(void);
void            timerinit(void);        // per hart: choose Sstc or SBI, arm the first tick
void            usertrapret(void);

// uart.c
void            uartinit(void);
void            uartintr(void);
void            uartputc(int);
void            uartputc_sync(int);
int             uartgetc(void);
void            uartsetrx(int);

// vm.c
void            kvminit(void);
void            kvminithart(void);
void            kvmmap(pagetable_t, uint64, uint64, uint64, int);
int             mappages(pagetable_t, uint64, uint64, uint64, int);
pagetable_t     uvmcreate(void);
uint64          uvmalloc(pagetable_t, uint64, uint64, int);
uint64          uvmdealloc(pagetable_t, uint64, uint64);
int             uvmcopy(pagetable_t, pagetable_t, uint64);
void            uvmfree(pagetable_t, uint64);
void            uvmunmap(pagetable_t, uint64, uint64, int);
void            uvmclear(pagetable_t, uint64);
pte_t *         walk(pagetable_t, uint64, int);
uint64          walkaddr(pagetable_t, uint64);
int             copyout(pagetable_t, uint64, char *, uint64);
int             copyin(pagetable_t, char *, uint64, uint64);
int             copyinstr(pagetable_t, char *, uint64, uint64);
int             copyin_probe(pagetable_t, uint64, uint64);
int             vmfault(pagetable_t, uint64 va, int write);
int             uvmquery(pagetable_t, uint64 va, int npages, uint64 dst);
void            uvmcount(pagetable_t, uint64 sz, int *mapped, int *shared);

// Results of vmfault() and of the fault handlers it calls.
#define FAULT_OK      0    // the access can be retried and will succeed
#define FAULT_BAD    -1    // not a page the process may access this way
#define FAULT_NOMEM  -2    // a legal access, but no physical page was free

#ifdef COW_FORK
// cow.c -- copy-on-write: the one place that knows the PTE_COW rules. Built only with
// COW_FORK (make COW=1, the default); the student starter tree has neither (tools/handout.py).
struct memstat;
void            cow_share_table(pte_t *parent, pte_t *child, int n);  // one leaf table
int             cow_fault(pte_t *pte, uint64 va);   // pte: the one vmfault() found
void            cow_seqreset(struct proc *p);  // fork: no sequential writes seen yet
void            cow_stats(struct memstat *);   // fills the cow* fields only
#endif

// plic.c
void            plicinit(void);
void            plicinithart(void);
int             plic_claim(void);
void            plic_complete(int);

// virtio_disk.c
void            virtio_disk_init(void);
void            virtio_disk_rw(struct buf *, int);
void            virtio_disk_write_batch(struct buf **, uint *, int);
void            virtio_disk_intr(void);

// number of elements in fixed-size array
#define NELEM(x) (sizeof(x)/sizeof((x)[0]))

#endif
