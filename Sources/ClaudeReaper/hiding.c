// Hiding the bot's files from a CLI that runs as the bot's own user (no CLAUDE_USER): file
// permissions cannot keep one process of a user from another's files, so the command gets a
// private view of the file system in which they are covered.
#define _GNU_SOURCE
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t length = (ssize_t)strlen(text);
    ssize_t written = write(fd, text, (size_t)length);
    close(fd);
    return written == length ? 0 : -1;
}

// A user namespace in which we are who we were: same uid and gid, no other ids mapped.
static int enter_user_and_mount_namespace(uid_t uid, gid_t gid) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return -1;
    char map[64];
    if (write_file("/proc/self/setgroups", "deny") != 0) return -1;
    snprintf(map, sizeof map, "%u %u 1", (unsigned)uid, (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) != 0) return -1;
    snprintf(map, sizeof map, "%u %u 1", (unsigned)gid, (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) != 0) return -1;
    return 0;
}

int hide_paths(char *const *paths, int count) {
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (enter_user_and_mount_namespace(uid, gid) != 0) goto failed;
    // Our mounts must not propagate back to the host's namespace.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) goto failed;
    for (int index = 0; index < count; index++) {
        struct stat info;
        if (stat(paths[index], &info) != 0) {
            if (errno == ENOENT) continue;  // nothing there to hide
            goto failed;
        }
        int covered = S_ISDIR(info.st_mode)
            ? mount("none", paths[index], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0")
            : mount("/dev/null", paths[index], NULL, MS_BIND, NULL);
        if (covered != 0) goto failed;
    }
    // Inside the namespace we made, we could unmount the covers again. A second, nested pair
    // makes them mounts of a more privileged namespace, which the kernel locks in place.
    if (enter_user_and_mount_namespace(uid, gid) != 0) goto failed;
    return 0;
failed:
    fprintf(stderr,
            "claude-reaper: cannot hide the bot's files from Claude (%s); this kernel or container does not allow "
            "unprivileged user namespaces: set CLAUDE_USER to run Claude as a user of its own\n",
            strerror(errno));
    return -1;
}
