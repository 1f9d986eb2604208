/* See include/CNetShim.h for why these are functions here and not static
 * inline functions in the header. */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <malloc.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
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


pid_t cnet_spawn_child(const char *path, char *const argv[], char *const envp[], int output) {
    pid_t parent = getpid();
    /* Blocked across the fork, so that no handler of the server's runs in
     * the child before the exec; unblocked there once the defaults are back. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid != 0) {
        int saved = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = saved;
        return pid;
    }
    struct sigaction standard = { .sa_handler = SIG_DFL };
    for (int number = 1; number < NSIG; number++) sigaction(number, &standard, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
    int input = open("/dev/null", O_RDONLY);
    if (input < 0 || dup2(input, 0) < 0 || dup2(output, 1) < 0 || dup2(output, 2) < 0) _exit(127);
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
        for (int fd = 3; fd < 65536; fd++) close(fd);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
    _exit(127);
}
