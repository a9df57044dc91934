#ifndef STABLEID_CLIBPQ_SHIM_H
#define STABLEID_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <sys/select.h>

/// Waits until the connection's socket is readable or `timeout_ms` passes.
/// Returns >0 readable, 0 timeout, <0 error. `select` is a macro-heavy API Swift cannot call well.
static inline int stableid_pq_wait_readable(int fd, int timeout_ms) {
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return select(fd + 1, &set, NULL, NULL, timeout_ms < 0 ? NULL : &tv);
}
#endif
