// The user heap: malloc and free. Address-ordered first fit with coalescing on free.
//
// Every block, free or handed out, starts with a struct block header; the caller's bytes
// follow it. Sizes are counted in units of sizeof(struct block) (16 bytes), header included,
// so every block and every pointer malloc returns is 16-byte aligned.
//
// Invariant of the free list (freelist, linked through next, ending in 0):
//   - blocks appear in strictly increasing address order;
//   - no two free blocks touch: a free block never ends where the next one starts,
//     because free() merges such neighbours at once.
// malloc takes the lowest-addressed block that is big enough and splits off the unused
// rest; keeping low addresses busy and the high end free lets freed space run together.
// The heap grows with sbrk and never shrinks.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "user/user.h"

struct block {
  struct block *next;   // free blocks only: the next free block (higher address), or 0
  uint64 units;         // size of the whole block, header included
};

#define UNIT        sizeof(struct block)
#define GROW_UNITS  4096                          // at least 64 KiB per sbrk, to amortize it
#define MAX_UNITS   (0x7fffffff / UNIT - 1)  // sbrk's int argument (with padding) limits a block

static struct block *freelist;

static inline struct block *
block_end(struct block *b)
{
  return b + b->units;
}

// Give block b back. Finds its place in address order and merges it with the free block
// just below and the one just above when they touch, which keeps the invariant.
void
free(void *ap)
{
  if(ap == 0)
    return;
  struct block *b = (struct block *)ap - 1;

  struct block *prev = 0, *next = freelist;
  while(next != 0 && next < b){
    prev = next;
    next = next->next;
  }

  b->next = next;
  if(next != 0 && block_end(b) == next){
    b->units += next->units;
    b->next = next->next;
  }
  if(prev == 0){
    freelist = b;
  } else if(block_end(prev) == b){
    prev->units += b->units;
    prev->next = b->next;
  } else {
    prev->next = b;
  }
}

// Ask the kernel for at least units more and free them into the list (where they merge
// with a free block that ends at the old heap end). Returns 0 if sbrk refuses.
static int
grow(uint64 units)
{
  if(units < GROW_UNITS)
    units = GROW_UNITS;
  // The heap's end need not be aligned (a program may call sbrk itself): skip to a unit.
  uint64 pad = -(uint64)sbrk(0) & (UNIT - 1);
  char *p = sbrk(pad + units * UNIT);
  if(p == SBRK_ERROR)
    return 0;
  struct block *b = (struct block *)(p + pad);
  b->units = units;
  free(b + 1);
  return 1;
}

// First fit: the lowest-addressed free block with room. Returns the block, already out
// of the list, cut down to units when it was bigger; or 0 if no block is big enough.
static struct block *
take(uint64 units)
{
  struct block **link = &freelist;

  for(struct block *b = freelist; b != 0; link = &b->next, b = b->next){
    if(b->units < units)
      continue;
    if(b->units == units){
      *link = b->next;
    } else {
      struct block *rest = b + units;
      rest->units = b->units - units;
      rest->next = b->next;
      *link = rest;
      b->units = units;
    }
    return b;
  }
  return 0;
}

void*
malloc(uint nbytes)
{
  if(nbytes > (MAX_UNITS - 1) * UNIT)
    return 0;
  uint64 units = 1 + (nbytes + UNIT - 1) / UNIT;   // the header and the bytes, rounded up

  struct block *b = take(units);
  if(b == 0){
    if(!grow(units))
      return 0;
    b = take(units);
  }
  return b + 1;
}
