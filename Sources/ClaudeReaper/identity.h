// The identity the command runs as, and what it may not see. See identity.c and hiding.c.
#ifndef CLAUDE_REAPER_IDENTITY_H
#define CLAUDE_REAPER_IDENTITY_H
#include <sys/types.h>

#define MAX_GROUPS 64
#define MAX_HIDDEN 16

struct target_user {
    uid_t uid;
    gid_t gid;
    int group_count;
    gid_t groups[MAX_GROUPS];
};

// Parses "UID:GID[:G1,G2,...]" (numbers only: the bot resolves names). Refuses uid 0 and
// gid 0 anywhere: the capability that makes the switch possible must never lead to root.
// 0 on success; -1 (and a message on stderr) if it is not well formed.
int parse_target_user(const char *text, struct target_user *user);

// In the command's process, before exec: supplementary groups, gid, uid (in that order, all
// three ids of each), every capability dropped, umask 0002 (the workspace is shared with the
// bot through the group). Then proves there is no way back (setuid(0) must fail). 0 or -1.
int become_target_user(const struct target_user *user);

// In the reaper itself, after the fork: effective uid the target's (so it may signal and kill
// the command's processes), real and saved uid its own (so the bot may still signal it), and
// no capabilities left. The target user can neither signal nor trace it: its real uid is not
// theirs. 0 or -1.
int keep_watch_over(const struct target_user *user);

// Drops every capability this thread has (permitted, effective, inheritable, ambient).
int drop_all_capabilities(void);

// Same user, no second account: a private user and mount namespace in which each path is
// covered (an empty read-only tmpfs over a directory, /dev/null over a file), then a second
// nested pair so that the covers are locked and cannot be unmounted from inside. 0 or -1.
int hide_paths(char *const *paths, int count);

#endif
