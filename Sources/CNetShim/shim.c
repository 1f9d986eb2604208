/* See include/CNetShim.h for why these are functions here and not static
 * inline functions in the header. */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <malloc.h>
#include "CNetShim.h"

_Static_assert(sizeof(cnet_mmsghdr) == sizeof(struct mmsghdr), "cnet_mmsghdr must match struct mmsghdr");
_Static_assert(__builtin_offsetof(cnet_mmsghdr, msg_len) == __builtin_offsetof(struct mmsghdr, msg_len),
               "cnet_mmsghdr must match struct mmsghdr");

const int CNET_MSG_WAITFORONE = MSG_WAITFORONE;

int cnet_recvmmsg(int fd, cnet_mmsghdr *vec, unsigned int vlen, int flags, struct timespec *timeout) {
    return recvmmsg(fd, (struct mmsghdr *)vec, vlen, flags, timeout);
}

int cnet_sendmmsg(int fd, cnet_mmsghdr *vec, unsigned int vlen, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)vec, vlen, flags);
}

int cnet_malloc_trim(size_t pad) {
    return malloc_trim(pad);
}

