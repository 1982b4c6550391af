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

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

// Declared only under _GNU_SOURCE, like accept4: all three ids at once, for a drop that
// leaves no saved id behind.
extern int setresuid(uid_t ruid, uid_t euid, uid_t suid);
extern int setresgid(gid_t rgid, gid_t egid, gid_t sgid);

// For a bot started as root that drops to its own user: keep the permitted capabilities
// through the coming setresuid (this thread; the drop is followed by an exec on it).
static inline int clinux_keep_capabilities_through_setuid(void) { return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0); }

// After that drop: only cap_setuid and cap_setgid kept, not effective here, and raised as
// ambient capabilities, so that programs this thread executes (the bot again, then
// claude-reaper, which drops them before it runs anything) have them. 0 or -1 (errno).
static inline int clinux_pass_on_user_switch_capabilities(void) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{0, 0, 0}, {0, 0, 0}};
    data[0].permitted = (1u << CAP_SETUID) | (1u << CAP_SETGID);
    data[0].inheritable = data[0].permitted;
    if (syscall(SYS_capset, &header, data) != 0) return -1;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SETUID, 0, 0) != 0) return -1;
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SETGID, 0, 0);
}

// 1 when this thread holds cap_setuid as an ambient capability (a bot started as root).
static inline int clinux_has_ambient_setuid(void) {
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SETUID, 0, 0) == 1;
}

// A non-dumpable process's /proc/<pid>/environ, mem and fd are closed to processes of the
// same user that lack CAP_SYS_PTRACE, and so is ptrace: the bot's secrets stay its own.
static inline int clinux_set_not_dumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }
static inline int clinux_is_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }
