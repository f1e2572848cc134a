// Virtio 1.x facts used by virtio_disk.c, all from the virtio spec: modern virtio-mmio registers,
// status and feature bits, the split-virtqueue layout and the virtio-blk request format.
#ifndef XV6_VIRTIO_H
#define XV6_VIRTIO_H

// virtio-mmio register offsets (spec 4.2.2), relative to the device base address.
#define VIRTIO_MMIO_MAGIC_VALUE         0x000  // reads 0x74726976 ("virt")
#define VIRTIO_MMIO_VERSION             0x004  // 2 = modern, 1 = legacy
#define VIRTIO_MMIO_DEVICE_ID           0x008  // 2 = block device, 0 = no device in this slot
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014  // which 32-bit word DEVICE_FEATURES shows
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030  // which queue the QUEUE_* registers refer to
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034  // largest ring size the device supports
#define VIRTIO_MMIO_QUEUE_NUM           0x038  // ring size the driver chose
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050  // write a queue index to kick the device
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080  // physical address of the descriptor table
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090  // physical address of the available ring
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0  // physical address of the used ring
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100  // device-specific configuration space

#define VIRTIO_MAGIC          0x74726976
#define VIRTIO_VERSION_LEGACY 1
#define VIRTIO_VERSION_MODERN 2
#define VIRTIO_DEVICE_ID_BLK  2

// Device status bits (spec 2.1).
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8

#define VIRTIO_INT_USED_RING   1   // interrupt status: the device added to a used ring
#define VIRTIO_INT_CONFIG      2   // interrupt status: the configuration space changed

// The one feature bit we accept (the driver declines every other). Bits 0..31 are in feature
// word 0, bit 32 and up in word 1.
#define VIRTIO_F_VERSION_1        32   // modern device; a modern driver must accept it

// virtio-blk configuration space: capacity is the first field, in 512-byte sectors.
#define VIRTIO_BLK_CONFIG_CAPACITY 0x00
#define VIRTIO_BLK_SECTOR_SIZE     512

// Ring size we use. Each request takes 3 descriptors, so NUM/3 requests can be in flight:
// 42, more than a whole log commit (LOGBLOCKS) in one batch. Must be a power of two (spec 2.7)
// and at most QUEUE_NUM_MAX (QEMU's virtio-blk offers 256); each ring still fits in its page.
#define NUM 128

// Split virtqueue descriptor (spec 2.7.5).
struct virtq_desc {
  uint64 addr;    // physical address of the buffer
  uint32 len;
  uint16 flags;
  uint16 next;    // following descriptor when VRING_DESC_F_NEXT is set
};
#define VRING_DESC_F_NEXT  1   // the chain continues at .next
#define VRING_DESC_F_WRITE 2   // the device writes this buffer (otherwise it reads it)

// Available ring: descriptor chains the driver hands to the device (spec 2.7.6).
struct virtq_avail {
  uint16 flags;
  uint16 idx;         // where the driver will put the next entry (free-running)
  uint16 ring[NUM];   // head descriptor of each chain
  uint16 used_event;  // unused: we decline the event-index feature
};

// Used ring: chains the device has finished (spec 2.7.8).
struct virtq_used_elem {
  uint32 id;    // head descriptor of the finished chain
  uint32 len;   // bytes the device wrote
};
struct virtq_used {
  uint16 flags;
  uint16 idx;   // where the device will put the next entry (free-running)
  struct virtq_used_elem ring[NUM];
  uint16 avail_event;
};

// virtio-blk request header (spec 5.2.6), read by the device.
#define VIRTIO_BLK_T_IN  0   // read from the disk
#define VIRTIO_BLK_T_OUT 1   // write to the disk
struct virtio_blk_req {
  uint32 type;
  uint32 reserved;
  uint64 sector;
};

#define VIRTIO_BLK_S_OK  0   // the status byte the device writes after the data: success

#endif
