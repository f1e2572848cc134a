// Driver for the virtio-blk disk behind QEMU's modern (version 2) virtio-mmio transport:
// set-up, one split virtqueue, block reads and writes, and the completion interrupt.
//
// Batches (the fast path for the log's commits): a request's fixed cost in the emulator
// (notify, exit, interrupt, a sleeping hart) dominates a 1 KiB write, so
// virtio_disk_write_batch() queues a whole batch, notifies once, and sleeps until all of it
// is done. The device completes a batch's requests in any order.
//
// Slots: every request is a chain of three descriptors (header, data, status), so the table is cut
// into NSLOT fixed slots, slot s being descriptors 3s..3s+2: a request takes a free slot, never
// searches for descriptors. The used ring names a finished chain by its head, 3s. Each in-flight
// request points at its submitter's pending count; the interrupt frees the slot at once (so a batch
// larger than the ring streams through it) and wakes the submitter when the count reaches zero.

#include "kernel/types.h"
#include "kernel/riscv.h"
#include "kernel/defs.h"
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

// Request slots (see the top of this file).
#define DESC_PER_REQ 3
#define NSLOT (NUM / DESC_PER_REQ)

// One request: what the device reads before the data and writes after it, kept here (not on a
// stack) because they must stay put while the device owns the chain.
struct request {
  struct virtio_blk_req hdr;  // read by the device
  uint8 status;               // written by the device
  int *pending;               // the submitter's count of unfinished requests (0: slot free)
};

static struct disk {
  // The three rings, each in its own page: aligned and physically contiguous.
  struct virtq_desc *desc;
  struct virtq_avail *avail;
  struct virtq_used *used;

  struct request req[NSLOT];  // slot s's request, using descriptors 3s..3s+2
  uint8 freeslot[NSLOT];      // a stack of free slot numbers, nfree of them
  int nfree;
  uint16 seen;                // used-ring entries we have already retired (free-running)

  uint64 capacity;            // disk size in sectors, from the config space

  // Guards everything above and the queue registers; the interrupt handler takes it too.
  struct spinlock lock;
} disk;

// Add one bit to the device status register (spec 2.1), keeping the ones already set.
static void
status_add(uint32 bit)
{
  *REG(VIRTIO_MMIO_STATUS) = *REG(VIRTIO_MMIO_STATUS) | bit;
}

// Accept only VERSION_1 (required of a modern driver); decline everything else, flushing and
// the event index included.
static void
negotiate_features(void)
{
  *REG(VIRTIO_MMIO_DRIVER_FEATURES_SEL) = 0;
  *REG(VIRTIO_MMIO_DRIVER_FEATURES) = 0;
  *REG(VIRTIO_MMIO_DEVICE_FEATURES_SEL) = 1;
  uint32 hi = *REG(VIRTIO_MMIO_DEVICE_FEATURES);
  *REG(VIRTIO_MMIO_DRIVER_FEATURES_SEL) = 1;
  *REG(VIRTIO_MMIO_DRIVER_FEATURES) = hi & (1U << (VIRTIO_F_VERSION_1 - 32));
}

// Tell the device where a ring is: its physical address, split over a LOW and HIGH register.
static void
set_queue_addr(uint32 lowreg, uint32 highreg, void *ring)
{
  uint64 pa = (uint64)ring;   // kernel addresses of RAM are physical (direct map)
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

// Queue 0 must exist, be unused and hold NUM entries; then give it our three rings.
static void
setup_queue(void)
{
  *REG(VIRTIO_MMIO_QUEUE_SEL) = 0;
  if(*REG(VIRTIO_MMIO_QUEUE_NUM_MAX) < NUM || *REG(VIRTIO_MMIO_QUEUE_READY))
    panic("virtio disk: queue 0 missing, too short or already in use");

  disk.desc = zeroed_page();
  disk.avail = zeroed_page();
  disk.used = zeroed_page();
  // Chain each slot's descriptors once; submit() fills in the rest per request.
  for(int s = 0; s < NSLOT; s++){
    disk.desc[DESC_PER_REQ * s].next = DESC_PER_REQ * s + 1;
    disk.desc[DESC_PER_REQ * s + 1].next = DESC_PER_REQ * s + 2;
    disk.freeslot[disk.nfree++] = s;
  }

  *REG(VIRTIO_MMIO_QUEUE_NUM) = NUM;
  set_queue_addr(VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH, disk.desc);
  set_queue_addr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, disk.avail);
  set_queue_addr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, disk.used);
  *REG(VIRTIO_MMIO_QUEUE_READY) = 1;
}

// Initialisation sequence of spec 3.1.1. Called once, by the boot hart, before interrupts.
// plic.c routes VIRTIO0_IRQ to the harts.
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
  *REG(VIRTIO_MMIO_STATUS) = 0;              // reset
  status_add(VIRTIO_STATUS_ACKNOWLEDGE);     // we have seen the device
  status_add(VIRTIO_STATUS_DRIVER);          // and can drive it
  negotiate_features();
  status_add(VIRTIO_STATUS_FEATURES_OK);
  if((*REG(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK) == 0)
    panic("virtio disk: device refused our feature set");
  setup_queue();
  // The capacity, read again if the config generation changed: a 64-bit read may tear.
  uint32 gen, lo, hi;
  do {
    gen = *REG(VIRTIO_MMIO_CONFIG_GENERATION);
    lo = *REG(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CONFIG_CAPACITY);
    hi = *REG(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CONFIG_CAPACITY + 4);
  } while(gen != *REG(VIRTIO_MMIO_CONFIG_GENERATION));
  disk.capacity = ((uint64)hi << 32) | lo;
  status_add(VIRTIO_STATUS_DRIVER_OK);       // the device may start
}

static void
fill_desc(struct virtq_desc *d, void *addr, uint32 len, uint16 flags)
{
  d->addr = (uint64)addr;
  d->len = len;
  d->flags = flags;
}

// Tell the device that the available ring has new entries, which must be visible to it first.
static void
notify(void)
{
  __sync_synchronize();
  *REG(VIRTIO_MMIO_QUEUE_NOTIFY) = 0;
}

// Queue a request to write (or read, write == 0) b->data to (from) block blockno, counted in
// *pending until the interrupt handler retires it. Caller holds disk.lock. Publishes it but
// does not notify, unless it must sleep for a slot: then it notifies first, so the device can
// finish the requests already queued (perhaps the caller's own) and free their slots.
static void
submit(struct buf *b, uint blockno, int write, int *pending)
{
  uint64 sector = (uint64)blockno * SECTORS_PER_BLOCK;
  if(sector + SECTORS_PER_BLOCK > disk.capacity)
    panic("virtio disk: block number beyond the end of the disk");

  while(disk.nfree == 0){
    notify();
    sleep(&disk.nfree, &disk.lock);
  }
  int s = disk.freeslot[--disk.nfree];
  struct request *r = &disk.req[s];
  r->hdr.type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
  r->hdr.reserved = 0;
  r->hdr.sector = sector;
  r->status = STATUS_PENDING;
  r->pending = pending;
  *pending += 1;

  // The device reads the header, reads or writes the data, and writes the status byte.
  struct virtq_desc *d = &disk.desc[DESC_PER_REQ * s];
  fill_desc(&d[0], &r->hdr, sizeof(r->hdr), VRING_DESC_F_NEXT);
  fill_desc(&d[1], b->data, BSIZE, VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE));
  fill_desc(&d[2], &r->status, 1, VRING_DESC_F_WRITE);

  // The ring entry must be visible before the index that publishes it.
  disk.avail->ring[disk.avail->idx % NUM] = DESC_PER_REQ * s;
  __sync_synchronize();
  disk.avail->idx += 1;
}

// bwrite_batch() (bio.c says what it promises), or read the one block (n == 1, write == 0):
// all requests in flight at once; sleep until every one is done. The caller holds each bs[i]->lock.
static void
transfer(struct buf **bs, uint *blocknos, int n, int write)
{
  int pending = 0;
  acquire(&disk.lock);
  for(int i = 0; i < n; i++)
    submit(bs[i], blocknos[i], write, &pending);
  if(n > 0)
    notify();
  while(pending > 0)
    sleep(&pending, &disk.lock);
  release(&disk.lock);
}

// Read (write == 0) or write block b->blockno. The caller holds b->lock.
void
virtio_disk_rw(struct buf *b, int write)
{
  transfer(&b, &b->blockno, 1, write);
}

void
virtio_disk_write_batch(struct buf **bs, uint *blocknos, int n)
{
  transfer(bs, blocknos, n, 1);
}

// The device has finished the chain whose head descriptor is head: check it, free its
// slot, and wake whoever waits for it. Caller holds disk.lock.
static void
retire(uint32 head)
{
  uint32 s = head / DESC_PER_REQ;
  if(head % DESC_PER_REQ != 0 || s >= NSLOT || disk.req[s].pending == 0)
    panic("virtio disk: bogus used ring entry");
  struct request *r = &disk.req[s];
  if(r->status != VIRTIO_BLK_S_OK)
    panic("virtio disk: request failed (I/O error)");
  int *pending = r->pending;
  r->pending = 0;
  if(disk.nfree == 0)
    wakeup(&disk.nfree);      // submitters sleep only while no slot is free
  disk.freeslot[disk.nfree++] = s;
  if(--*pending == 0)
    wakeup(pending);
}

// Interrupt from the disk: acknowledge it and retire every request the device has finished.
void
virtio_disk_intr(void)
{
  acquire(&disk.lock);
  // Acknowledge first: a completion that arrives after this raises a new interrupt,
  // and any that arrived before is found by the loop below.
  *REG(VIRTIO_MMIO_INTERRUPT_ACK) = *REG(VIRTIO_MMIO_INTERRUPT_STATUS) &
                                    (VIRTIO_INT_USED_RING | VIRTIO_INT_CONFIG);
  __sync_synchronize();

  // The device bumps used->idx only after writing the entry, so read entries up to it.
  for(; disk.seen != disk.used->idx; disk.seen++){
    __sync_synchronize();
    retire(disk.used->ring[disk.seen % NUM].id);
  }
  release(&disk.lock);
}
