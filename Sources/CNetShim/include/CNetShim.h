#ifndef CNETSHIM_H
#define CNETSHIM_H

/* recvmmsg, sendmmsg and struct mmsghdr are GNU extensions: glibc declares
 * them only under _GNU_SOURCE, which Swift's Glibc module is not built with.
 *
 * Defining _GNU_SOURCE in this header (and wrapping the calls in static
 * inline functions here) does not work: the header is compiled into a Clang
 * module of its own, and <sys/select.h> under _GNU_SOURCE defines fd_set
 * with different member names than SwiftGlibc's copy, which Swift 6.3
 * rejects ("'__fds_bits' from module 'SwiftGlibc' is not present in
 * definition of 'fd_set' in module 'CNetShim'"; SwiftNIO works around the
 * same problem, SR-6772). So, as SwiftNIO's CNIOLinux does, this header
 * declares a struct with mmsghdr's layout (part of glibc's stable ABI) and
 * two plain functions; shim.c, compiled with _GNU_SOURCE, forwards them to
 * glibc and checks the layout at compile time. The cost is one direct call
 * per batch of up to 64 datagrams. */
#include <sys/socket.h>
#include <time.h>

typedef struct {
    struct msghdr msg_hdr;
    unsigned int msg_len;
} cnet_mmsghdr;

int cnet_recvmmsg(int fd, cnet_mmsghdr *vec, unsigned int vlen, int flags, struct timespec *timeout);
int cnet_sendmmsg(int fd, cnet_mmsghdr *vec, unsigned int vlen, int flags);

/* glibc's malloc_trim (<malloc.h>, not in Swift's Glibc module): returns
 * freed heap memory to the kernel after a zone load. */
int cnet_malloc_trim(size_t pad);

/* serve --refresh's child: fork, then in the child only system calls
 * (async-signal-safe, as after a fork in a threaded process they must be):
 * it dies with the thread that started it (PR_SET_PDEATHSIG, SIGTERM; a
 * variadic prctl that Swift cannot call), or not at all if that is already
 * gone; stdin is /dev/null, stdout and stderr `output`; no other descriptor
 * survives, whatever the server or its libraries opened without
 * close-on-exec (close_range); no signal blocked, none ignored. Returns the
 * child's pid, or -1 with errno; exit status 127 if the exec failed. */
#include <sys/types.h>
pid_t cnet_spawn_child(const char *path, char *const argv[], char *const envp[], int output);

/* MSG_WAITFORONE is a GNU flag too. */
extern const int CNET_MSG_WAITFORONE;

#endif
