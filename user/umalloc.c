// The user heap: malloc and free over a circular, address-ordered free list that grows with sbrk.
// Every block starts with a header giving its size in header-sized units (header included).
#include "kernel/types.h"
#include "kernel/stat.h"
#include "user/user.h"

// The union forces headers (and so every block handed out) to the strictest alignment we need.
typedef long Align;

union header {
  struct {
    union header *next;   // next free block, in increasing address order, wrapping around
    uint size;            // in units of sizeof(union header)
  } s;
  Align x;
};

typedef union header Header;

#define MINGROW   4096                       // units to ask sbrk for at least, to amortize calls
#define MAXUNITS  (0x7fffffff / sizeof(Header)) // largest request sbrk's int argument can express

static Header base;     // zero-size block that anchors the list
static Header *freep;   // where the next search starts; 0 until the first malloc

// Returns block ap to the free list, merging with its neighbours when they touch.
void
free(void *ap)
{
  Header *bp, *p;

  if(ap == 0)
    return;
  bp = (Header*)ap - 1;
  // Find p with p < bp < p->next, or the wrap-around point when bp lies outside every pair.
  for(p = freep; !(bp > p && bp < p->s.next); p = p->s.next){
    if(p >= p->s.next && (bp > p || bp < p->s.next))
      break;
  }
  if(bp + bp->s.size == p->s.next){
    bp->s.size += p->s.next->s.size;
    bp->s.next = p->s.next->s.next;
  } else {
    bp->s.next = p->s.next;
  }
  if(p + p->s.size == bp){
    p->s.size += bp->s.size;
    p->s.next = bp->s.next;
  } else {
    p->s.next = bp;
  }
  freep = p;
}

// Grows the heap by at least nu units and frees the new space into the list.
// Returns 0 if the kernel refuses.
static Header*
morecore(uint nu)
{
  char *p;
  Header *hp;

  if(nu < MINGROW)
    nu = MINGROW;
  if(nu > MAXUNITS)
    return 0;
  p = sbrk(nu * sizeof(Header));
  if(p == SBRK_ERROR)
    return 0;
  hp = (Header*)p;
  hp->s.size = nu;
  free((void*)(hp + 1));
  return freep;
}

void*
malloc(uint nbytes)
{
  Header *p, *prevp;
  uint nunits;

  // Round up to whole units plus one for the header; refuse sizes that would overflow.
  if(nbytes > MAXUNITS * sizeof(Header) - sizeof(Header))
    return 0;
  nunits = (nbytes + sizeof(Header) - 1) / sizeof(Header) + 1;

  if((prevp = freep) == 0){
    base.s.next = freep = prevp = &base;
    base.s.size = 0;
  }
  for(p = prevp->s.next; ; prevp = p, p = p->s.next){
    if(p->s.size >= nunits){
      if(p->s.size == nunits){
        prevp->s.next = p->s.next;
      } else {
        // Hand out the tail so the free block's header stays where it is.
        p->s.size -= nunits;
        p += p->s.size;
        p->s.size = nunits;
      }
      freep = prevp;
      return (void*)(p + 1);
    }
    if(p == freep){
      // Went all the way around without a fit.
      if((p = morecore(nunits)) == 0)
        return 0;
    }
  }
}
