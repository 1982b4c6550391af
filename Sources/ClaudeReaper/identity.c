// Switching the command to the unprivileged CLI user (CLAUDE_USER), and the reaper to a
// watcher that can still kill it. The bot gives numeric ids; this file never looks up names.
#define _GNU_SOURCE
#include "identity.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int parse_id(const char *text, char **end, unsigned long *value) {
    errno = 0;
    *value = strtoul(text, end, 10);
    return *end != text && errno == 0 && *value > 0 && *value < 0xffffffffUL;
}

int parse_target_user(const char *text, struct target_user *user) {
    memset(user, 0, sizeof *user);
    char *end;
    unsigned long value;
    if (!parse_id(text, &end, &value) || *end != ':') goto bad;
    user->uid = (uid_t)value;
    if (!parse_id(end + 1, &end, &value) || (*end != ':' && *end != '\0')) goto bad;
    user->gid = (gid_t)value;
    if (*end == ':') {
        const char *cursor = end + 1;
        while (*cursor) {
            if (user->group_count == MAX_GROUPS || !parse_id(cursor, &end, &value) || (*end != ',' && *end != '\0')) goto bad;
            user->groups[user->group_count++] = (gid_t)value;
            cursor = *end == ',' ? end + 1 : end;
        }
    }
    return 0;
bad:
    fprintf(stderr, "claude-reaper: --user takes UID:GID[:GROUP,...] with ids above 0 (never root), got %s\n", text);
    return -1;
}

int drop_all_capabilities(void) {
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &header, data) != 0) return -1;
    // Read back: a kernel that kept anything is not one to run untrusted tools under.
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    for (int index = 0; index < _LINUX_CAPABILITY_U32S_3; index++) {
        if (data[index].permitted || data[index].effective || data[index].inheritable) return -1;
    }
    return 0;
}

static int fail(const char *what, const struct target_user *user) {
    int code = errno;
    fprintf(stderr,
            "claude-reaper: cannot switch to uid %u gid %u (%s: %s); it needs the capabilities cap_setuid and cap_setgid: "
            "`setcap cap_setuid,cap_setgid+ep claude-reaper`, or start the bot as root with CLAUDE_USER and BOT_USER\n",
            (unsigned)user->uid, (unsigned)user->gid, what, strerror(code));
    return -1;
}

int become_target_user(const struct target_user *user) {
    if (setgroups((size_t)user->group_count, user->groups) != 0) return fail("setgroups", user);
    if (setresgid(user->gid, user->gid, user->gid) != 0) return fail("setresgid", user);
    if (setresuid(user->uid, user->uid, user->uid) != 0) return fail("setresuid", user);
    // From root the kernel clears the capabilities itself; from file capabilities it does not.
    if (drop_all_capabilities() != 0) return fail("dropping capabilities", user);
    uid_t real, effective, saved;
    gid_t group_real, group_effective, group_saved;
    getresuid(&real, &effective, &saved);
    getresgid(&group_real, &group_effective, &group_saved);
    if (real != user->uid || effective != user->uid || saved != user->uid || group_real != user->gid ||
        group_effective != user->gid || group_saved != user->gid) {
        fprintf(stderr, "claude-reaper: the switch to uid %u did not hold\n", (unsigned)user->uid);
        return -1;
    }
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
        fprintf(stderr, "claude-reaper: the switch to uid %u can be undone; refusing to run\n", (unsigned)user->uid);
        return -1;
    }
    umask(0002);
    return 0;
}

int keep_watch_over(const struct target_user *user) {
    uid_t own = getuid();
    if (setresuid(own, user->uid, own) != 0) return fail("setresuid (watcher)", user);
    if (drop_all_capabilities() != 0) return fail("dropping capabilities (watcher)", user);
    return 0;
}
