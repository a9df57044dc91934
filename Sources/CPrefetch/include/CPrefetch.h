#ifndef STABLEID_CPREFETCH_H
#define STABLEID_CPREFETCH_H

// A hint that `address` will be read soon, so the processor starts loading its cache line now
// (Swift has no spelling for it). A hint only: it never faults, whatever the address.
static inline void stableid_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
