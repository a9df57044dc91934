#ifndef STABLEID_CLIBPQ_SHIM_H
#define STABLEID_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <poll.h>

/// Waits until the connection's socket is readable or `timeout_ms` passes (negative: no limit).
/// Returns >0 readable (or hung up: the next read reports it), 0 timeout, <0 error.
/// poll(), not select(): select() corrupts memory for descriptors >= FD_SETSIZE (1024), which a
/// server with many idle clients reaches.
static inline int stableid_pq_wait_readable(int fd, int timeout_ms) {
    struct pollfd entry;
    entry.fd = fd;
    entry.events = POLLIN;
    entry.revents = 0;
    return poll(&entry, 1, timeout_ms);
}
#endif
