// Driver for the virtio-blk disk behind QEMU's modern (version 2) virtio-mmio transport:
// device set-up, one split virtqueue, block reads/writes (one at a time, or a batch of writes
// in flight at once) and the completion interrupt.
//
// Batches (the fast path for the log's commits). Each request costs the emulator a notify,
// an exit and a completion interrupt, and a sleeping hart; that fixed cost dominates a 1 KiB
// write. virtio_disk_write_batch() puts a whole batch in the available ring and notifies the
// device once, then sleeps until every request of the batch has completed. The device may run
// and complete the requests of a batch in any order, so a caller that needs one write on disk
// before another (the log's commit point) puts them in different batches.
//
// Completion: each in-flight request points at its submitter's pending counter. The interrupt
// handler checks the status, returns the chain's descriptors at once (so a batch larger than
// the ring streams through it), and wakes the submitter when its counter reaches zero.

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
#include "kernel/param.h"
#include "kernel/memlayout.h"
#include "kernel/spinlock.h"
#include "kernel/sleeplock.h"
#include "kernel/fs.h"
#include "kernel/buf.h"
#include "kernel/virtio.h"

// Address of a virtio-mmio register of the disk.
#define REG(off) ((volatile uint32 *)(VIRTIO0 + (off)))

// Disk sectors per file-system block.
#define SECTORS_PER_BLOCK (BSIZE / VIRTIO_BLK_SECTOR_SIZE)

// Device status byte value meaning "not yet written"; anything the device writes is smaller.
#define STATUS_PENDING 0xff

static struct disk {
  // The three rings, each in its own page so each is suitably aligned and physically contiguous.
  struct virtq_desc *desc;
  struct virtq_avail *avail;
  struct virtq_used *used;

  char free[NUM];      // is descriptor i free?
  uint16 used_idx;     // how far we have consumed the used ring

  // Per in-flight request, indexed by its head descriptor. The header and status byte
  // must stay put while the device owns the chain, so they live here, not on a stack.
  struct {
    struct buf *b;       // whose data the request moves; b->disk counts its requests
    int *pending;        // the submitter's count of unfinished requests (0: slot idle)
    uint8 status;
  } info[NUM];
  struct virtio_blk_req ops[NUM];

  uint64 capacity;     // disk size in sectors, from the config space

  // Protects everything above and the device's queue registers. Requests from
  // several harts are serialized here; the interrupt handler takes it too.
  struct spinlock lock;
} disk;

static void
set_status(uint32 bits)
{
  *REG(VIRTIO_MMIO_STATUS) = bits;
}

// Accept only the features we depend on: VERSION_1 (required of a modern driver).
// Everything else (read-only, multi-queue, event index, indirect descriptors, ...) is declined.
static void
negotiate_features(void)
{
  *REG(VIRTIO_MMIO_DEVICE_FEATURES_SEL) = 0;
  (void)*REG(VIRTIO_MMIO_DEVICE_FEATURES);
  *REG(VIRTIO_MMIO_DRIVER_FEATURES_SEL) = 0;
  *REG(VIRTIO_MMIO_DRIVER_FEATURES) = 0;

  *REG(VIRTIO_MMIO_DEVICE_FEATURES_SEL) = 1;
  uint32 hi = *REG(VIRTIO_MMIO_DEVICE_FEATURES);
  uint32 want_hi = hi & (1U << (VIRTIO_F_VERSION_1 - 32));
  *REG(VIRTIO_MMIO_DRIVER_FEATURES_SEL) = 1;
  *REG(VIRTIO_MMIO_DRIVER_FEATURES) = want_hi;
}

static void
set_queue_addr(uint32 lowreg, uint32 highreg, void *p)
{
  uint64 pa = (uint64)p;   // kernel addresses of RAM are physical (direct map)
  *REG(lowreg) = (uint32)pa;
  *REG(highreg) = (uint32)(pa >> 32);
}

static void *
zeroed_page(void)
{
  void *p = kalloc();
  if(p == 0)
    panic("virtio disk: no memory for the virtqueue");
  memset(p, 0, PGSIZE);
  return p;
}

// Set up queue 0 with NUM entries.
static void
setup_queue(void)
{
  *REG(VIRTIO_MMIO_QUEUE_SEL) = 0;
  if(*REG(VIRTIO_MMIO_QUEUE_READY))
    panic("virtio disk: queue 0 already in use");
  uint32 max = *REG(VIRTIO_MMIO_QUEUE_NUM_MAX);
  if(max == 0)
    panic("virtio disk: device has no queue 0");
  if(max < NUM)
    panic("virtio disk: queue 0 too short");

  disk.desc = zeroed_page();
  disk.avail = zeroed_page();
  disk.used = zeroed_page();

  *REG(VIRTIO_MMIO_QUEUE_NUM) = NUM;
  set_queue_addr(VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH, disk.desc);
  set_queue_addr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, disk.avail);
  set_queue_addr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, disk.used);
  *REG(VIRTIO_MMIO_QUEUE_READY) = 1;

  for(int i = 0; i < NUM; i++)
    disk.free[i] = 1;
}

// Read the capacity; the config generation counter guards against a torn 64-bit read.
static uint64
read_capacity(void)
{
  uint32 gen, lo, hi;
  do {
    gen = *REG(VIRTIO_MMIO_CONFIG_GENERATION);
    lo = *REG(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CONFIG_CAPACITY);
    hi = *REG(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CONFIG_CAPACITY + 4);
  } while(gen != *REG(VIRTIO_MMIO_CONFIG_GENERATION));
  return ((uint64)hi << 32) | lo;
}

// Initialisation sequence of spec 3.1.1. Called once, by the boot hart, before interrupts.
void
virtio_disk_init(void)
{
  initlock(&disk.lock, "virtio_disk");

  if(*REG(VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MAGIC)
    panic("virtio disk: no virtio-mmio device at VIRTIO0");
  uint32 version = *REG(VIRTIO_MMIO_VERSION);
  if(version == VIRTIO_VERSION_LEGACY)
    panic("virtio disk: legacy virtio-mmio; run QEMU with -global virtio-mmio.force-legacy=false");
  if(version != VIRTIO_VERSION_MODERN)
    panic("virtio disk: unknown virtio-mmio version");
  if(*REG(VIRTIO_MMIO_DEVICE_ID) != VIRTIO_DEVICE_ID_BLK)
    panic("virtio disk: no block device at VIRTIO0 (is -drive/-device given to QEMU?)");

  uint32 status = 0;
  set_status(status);                        // reset
  status |= VIRTIO_STATUS_ACKNOWLEDGE;
  set_status(status);
  status |= VIRTIO_STATUS_DRIVER;
  set_status(status);

  negotiate_features();
  status |= VIRTIO_STATUS_FEATURES_OK;
  set_status(status);
  if((*REG(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK) == 0)
    panic("virtio disk: device refused our feature set");

  setup_queue();
  disk.capacity = read_capacity();

  status |= VIRTIO_STATUS_DRIVER_OK;
  set_status(status);
  // plic.c routes VIRTIO0_IRQ to the harts.
}

// Take one free descriptor, or -1.
static int
alloc_desc(void)
{
  for(int i = 0; i < NUM; i++){
    if(disk.free[i]){
      disk.free[i] = 0;
      return i;
    }
  }
  return -1;
}

static void
free_desc(int i)
{
  if(i < 0 || i >= NUM || disk.free[i])
    panic("virtio disk: free_desc");
  memset(&disk.desc[i], 0, sizeof(disk.desc[i]));
  disk.free[i] = 1;
}

// Return the descriptors of the chain starting at head to the free pool.
static void
free_chain(int head)
{
  int i = head;
  for(;;){
    int flags = disk.desc[i].flags;
    int next = disk.desc[i].next;
    free_desc(i);
    if((flags & VRING_DESC_F_NEXT) == 0)
      break;
    i = next;
  }
  wakeup(&disk.free[0]);   // a submitter may be waiting for descriptors
}

// Take three descriptors at once, or none, so a partial chain never blocks others.
static int
alloc3_desc(int *idx)
{
  for(int i = 0; i < 3; i++){
    idx[i] = alloc_desc();
    if(idx[i] < 0){
      for(int j = 0; j < i; j++)
        free_desc(idx[j]);
      return -1;
    }
  }
  return 0;
}

static void
set_desc(int i, void *addr, uint32 len, uint16 flags, uint16 next)
{
  disk.desc[i].addr = (uint64)addr;
  disk.desc[i].len = len;
  disk.desc[i].flags = flags;
  disk.desc[i].next = next;
}

// Tell the device that the available ring has new entries.
static void
notify(void)
{
  // Entries and index must be visible to the device before it is told to look.
  __sync_synchronize();
  *REG(VIRTIO_MMIO_QUEUE_NOTIFY) = 0;
}

// Queue one request: write (or read, write == 0) b->data to (from) block blockno, and count
// it in *pending, which the interrupt handler decrements when the request is done. Caller
// holds disk.lock. Publishes the request in the available ring but does not notify, unless it
// must sleep for descriptors: then it notifies first, so the device can finish the requests
// already queued (possibly the caller's own) and free them.
static void
submit(struct buf *b, uint blockno, int write, int *pending)
{
  uint64 sector = (uint64)blockno * SECTORS_PER_BLOCK;
  if(sector + SECTORS_PER_BLOCK > disk.capacity)
    panic("virtio disk: block number beyond the end of the disk");

  int idx[3];
  while(alloc3_desc(idx) != 0){
    notify();
    sleep(&disk.free[0], &disk.lock);
  }

  // Chain: request header (device reads), data (device reads or writes), status (device writes).
  struct virtio_blk_req *req = &disk.ops[idx[0]];
  req->type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
  req->reserved = 0;
  req->sector = sector;

  set_desc(idx[0], req, sizeof(*req), VRING_DESC_F_NEXT, idx[1]);
  set_desc(idx[1], b->data, BSIZE,
           VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE), idx[2]);
  disk.info[idx[0]].status = STATUS_PENDING;
  set_desc(idx[2], &disk.info[idx[0]].status, 1, VRING_DESC_F_WRITE, 0);

  b->disk += 1;
  disk.info[idx[0]].b = b;
  disk.info[idx[0]].pending = pending;
  *pending += 1;

  // The ring entry must be visible before the index that publishes it.
  disk.avail->ring[disk.avail->idx % NUM] = idx[0];
  __sync_synchronize();
  disk.avail->idx += 1;
}

// Sleep until every request counted in *pending has completed. Caller holds disk.lock.
static void
wait_all(int *pending)
{
  while(*pending > 0)
    sleep(pending, &disk.lock);
}

// Read (write == 0) or write block b->blockno. The caller holds b->lock.
// Sleeps until the device has finished.
void
virtio_disk_rw(struct buf *b, int write)
{
  int pending = 0;

  acquire(&disk.lock);
  submit(b, b->blockno, write, &pending);
  notify();
  wait_all(&pending);
  release(&disk.lock);
}

// Write bs[i]->data to block blocknos[i] for each of the n requests, all in flight at once
// (see "Batches" above); returns when all are on disk, with no order among them. A block
// number need not be the buffer's own: the log writes a block's copy to its log slot this
// way. The caller holds every bs[i]->lock.
void
virtio_disk_write_batch(struct buf **bs, uint *blocknos, int n)
{
  int pending = 0;

  acquire(&disk.lock);
  for(int i = 0; i < n; i++)
    submit(bs[i], blocknos[i], 1, &pending);
  if(n > 0)
    notify();
  wait_all(&pending);
  release(&disk.lock);
}

// Interrupt from the disk: acknowledge it, retire every finished request and wake the
// submitters whose batches are complete.
void
virtio_disk_intr(void)
{
  acquire(&disk.lock);

  // Acknowledge first: a completion that arrives after this raises a new interrupt,
  // and any that arrived before is found by the loop below.
  *REG(VIRTIO_MMIO_INTERRUPT_ACK) = *REG(VIRTIO_MMIO_INTERRUPT_STATUS) &
                                    (VIRTIO_INT_USED_RING | VIRTIO_INT_CONFIG);
  __sync_synchronize();

  // The device bumps used->idx after writing the entry; read entries only up to it.
  while(disk.used_idx != disk.used->idx){
    __sync_synchronize();
    int id = disk.used->ring[disk.used_idx % NUM].id;
    if(id < 0 || id >= NUM || disk.info[id].pending == 0)
      panic("virtio disk: bogus used ring entry");
    if(disk.info[id].status != VIRTIO_BLK_S_OK)
      panic("virtio disk: request failed (I/O error)");

    disk.info[id].b->disk -= 1;    // one request fewer holds the buffer
    int *pending = disk.info[id].pending;
    disk.info[id].b = 0;
    disk.info[id].pending = 0;
    free_chain(id);
    if(--*pending == 0)
      wakeup(pending);
    disk.used_idx += 1;
  }

  release(&disk.lock);
}
