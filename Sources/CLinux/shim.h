// Kernel interfaces HTTPCore's event loop needs; Glibc's Swift module leaves them out.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

// accept4 is declared only under _GNU_SOURCE, which a module header cannot define
// without disagreeing with the Glibc module; the prototype is the stable Linux ABI.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
// The same for pipe2: both ends close-on-exec from the start, so a process spawned by
// another thread meanwhile cannot inherit them.
extern int pipe2(int pipefd[2], int flags);

#include <spawn.h>
// And for this one (glibc 2.34): a spawned child closes every descriptor from `from` up,
// so it inherits only what its file actions set up, close-on-exec or not.
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

#include <sys/prctl.h>

// prctl is variadic, which Swift cannot call: fixed-arity wrappers for what we use.
static inline int clinux_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
static inline int clinux_is_child_subreaper(void) {
    int value = 0;
    return prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0) == 0 ? value : -1;
}

// A non-dumpable process's /proc/<pid>/environ, mem and fd are closed to processes of the
// same user that lack CAP_SYS_PTRACE, and so is ptrace: the bot's secrets stay its own.
static inline int clinux_set_not_dumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }
static inline int clinux_is_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }
