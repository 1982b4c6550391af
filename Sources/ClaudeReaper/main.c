// claude-reaper: runs one command (the Claude Code CLI) as its child and makes sure that
// nothing the command starts outlives it, and that nothing is left as a zombie.
//
//   claude-reaper [--nice N] [--parent PID] [--user UID:GID[:GROUPS]] [--hide PATH]... COMMAND [ARGS...]
//
// --user runs the command as another, unprivileged user (CLAUDE_USER): supplementary groups,
// gid, uid, every capability dropped, no way back (identity.c). This process then keeps only
// the effective uid of that user, so that it may still kill everything below it, and its own
// real uid, so that the bot may still signal it. It needs cap_setuid and cap_setgid for that
// (file capabilities, or ambient ones from a bot started as root), and drops them at once.
// --hide PATH covers PATH (the bot's data directory, its secret files) in a private mount
// namespace of the command's: for a CLI that runs as the bot's own user (hiding.c).
//
// --nice N runs the command N steps nicer than this process (its tools inherit it), so that
// Claude's builds and tests never starve the bot that started it of CPU. Where the kernel
// groups processes by session for scheduling (autogroups: a process outside a cpu cgroup of
// its own, as on bare metal; not in Docker), nice alone only ranks processes of one session,
// and ours (swift-subprocess starts us in a new one) would get as much CPU as the bot's whole
// session: the session's autogroup is made as nice too. A tool that starts a session of its
// own gets a fresh autogroup at nice 0; the kernel offers no way to pass it on.
//
// Bash tool commands run in sessions of their own, so neither a process group kill nor the
// CLI's death reaches them. This process is a child subreaper (PR_SET_CHILD_SUBREAPER): every
// orphan below it is reparented here instead of to init, so it can kill and reap all of them.
//
// - SIGTERM, SIGINT, SIGHUP are forwarded to the command (the CLI then stops its tools).
// - SIGUSR1 means "now": the command and every process below us get SIGKILL.
// - When the command exits, whatever it left behind is killed, everything is reaped, and
//   this process exits with the command's status (128 + signal if it was killed).
// - --parent PID names the bot. When it is no longer our parent (it died: a crash, an OOM
//   kill, kill -9), the command gets SIGTERM and, if it is still there 5 s later, everything
//   below us SIGKILL. Without this a CLI in a long tool would go on working in the project,
//   unwatched, while the restarted bot resumes the same session there. Checked every second:
//   PR_SET_PDEATHSIG would fire when the spawning *thread* exits, which a thread pool's do.
// stdin, stdout and stderr are the command's: this process never touches them.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"

static volatile sig_atomic_t forward_signal = 0;
static volatile sig_atomic_t kill_everything = 0;
static volatile sig_atomic_t timer_fired = 0;

static void on_signal(int sig) {
    if (sig == SIGUSR1) kill_everything = 1;
    else if (sig == SIGALRM) timer_fired = 1;
    else forward_signal = sig;
}

// Sets our session's autogroup niceness. 1: done, or nothing to do (no autogroups, or not
// allowed); 0: try again later (the kernel takes one such change per 100 ms, machine-wide,
// and many CLIs may start at once).
static int nice_autogroup(int niceness) {
    int fd = open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    char text[16];
    int length = snprintf(text, sizeof text, "%d", niceness);
    int written = (int)write(fd, text, (size_t)length);
    int error = errno;
    close(fd);
    return written == length || error != EAGAIN;
}

// SIGALRM every `milliseconds`: it interrupts waitpid (no SA_RESTART), so the loop can retry
// the autogroup and look for its parent. 0 stops it.
static void tick_every(long milliseconds) {
    struct timeval period = {milliseconds / 1000, (milliseconds % 1000) * 1000};
    struct itimerval timer = {.it_interval = period, .it_value = period};
    setitimer(ITIMER_REAL, &timer, NULL);
}

// SIGKILLs every process whose parent is us (orphans reparented here, and the command),
// and their process groups (tool commands lead groups of their own). Returns how many.
static int kill_children(pid_t self) {
    DIR *proc = opendir("/proc");
    if (!proc) return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(entry->d_name, &end, 10);
        if (*end != '\0' || pid <= 0) continue;
        char path[64], buffer[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *file = fopen(path, "re");
        if (!file) continue;
        size_t length = fread(buffer, 1, sizeof buffer - 1, file);
        fclose(file);
        buffer[length] = '\0';
        char *close = strrchr(buffer, ')');
        char state;
        int parent, group;
        if (!close || sscanf(close + 2, "%c %d %d", &state, &parent, &group) != 3) continue;
        if (parent != self || state == 'Z') continue;
        if (group == pid) kill(-(pid_t)pid, SIGKILL);
        kill((pid_t)pid, SIGKILL);
        count++;
    }
    closedir(proc);
    return count;
}

// The value of `--name VALUE` at argv[1], within [low, high]; -1 (and a message) if it is not.
static long option_value(char **argv, const char *name, long low, long high) {
    char *end;
    long value = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || value < low || value > high) {
        fprintf(stderr, "claude-reaper: %s takes %ld to %ld, got %s\n", name, low, high, argv[2]);
        return -1;
    }
    return value;
}

static long monotonic_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000L + now.tv_nsec / 1000000L;
}

int main(int argc, char **argv) {
    int niceness = 0;
    pid_t parent = 0;
    struct target_user user;
    int switch_user = 0;
    char *hidden[MAX_HIDDEN];
    int hidden_count = 0;
    while (argc >= 3 && argv[1][0] == '-' && argv[1][1] == '-') {
        if (strcmp(argv[1], "--nice") == 0 || strcmp(argv[1], "--parent") == 0) {
            int is_nice = strcmp(argv[1], "--nice") == 0;
            long value = is_nice ? option_value(argv, "--nice", 0, 19) : option_value(argv, "--parent", 1, 0x7fffffff);
            if (value < 0) return 2;
            if (is_nice) niceness = (int)value;
            else parent = (pid_t)value;
        } else if (strcmp(argv[1], "--user") == 0) {
            if (parse_target_user(argv[2], &user) != 0) return 2;
            switch_user = 1;
        } else if (strcmp(argv[1], "--hide") == 0) {
            if (hidden_count == MAX_HIDDEN || argv[2][0] != '/') {
                fprintf(stderr, "claude-reaper: --hide takes up to %d absolute paths, got %s\n", MAX_HIDDEN, argv[2]);
                return 2;
            }
            hidden[hidden_count++] = argv[2];
        } else {
            break;
        }
        argv += 2;
        argc -= 2;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: claude-reaper [--nice N] [--parent PID] [--user UID:GID[:GROUPS]] [--hide PATH]... COMMAND [ARGS...]\n");
        return 2;
    }
    // Gone before we got here: nothing would ever read the command's output.
    if (parent > 0 && getppid() != parent) {
        fprintf(stderr, "claude-reaper: parent %d is gone; not starting %s\n", (int)parent, argv[1]);
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        perror("claude-reaper: prctl(PR_SET_CHILD_SUBREAPER)");
        return 2;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    sigaction(SIGUSR1, &action, NULL);
    sigaction(SIGALRM, &action, NULL);
    // A blocked mask is inherited through exec: whoever started us must not be able to
    // switch off the signals this process lives by (a test's spawning thread had SIGALRM
    // blocked, so the parent was never looked for).
    sigset_t handled, none;
    sigemptyset(&handled);
    sigemptyset(&none);
    int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGALRM};
    for (size_t index = 0; index < sizeof signals / sizeof *signals; index++) sigaddset(&handled, signals[index]);
    sigprocmask(SIG_UNBLOCK, &handled, NULL);
    // Before the fork, so the CLI usually starts in the nicer group; else retried below.
    int autogroup_tries = niceness > 0 ? 50 : 0;
    if (autogroup_tries > 0 && nice_autogroup(niceness)) autogroup_tries = 0;

    pid_t reaper = getpid();
    pid_t command = fork();
    if (command < 0) {
        perror("claude-reaper: fork");
        return 2;
    }
    if (command == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGUSR1, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);  // the CLI and its tools start as programs expect
        // Nothing of the command runs before its identity and its view are final: exit 126,
        // as a shell does for a command it found but could not run.
        if (switch_user && become_target_user(&user) != 0) _exit(126);
        if (hidden_count > 0 && hide_paths(hidden, hidden_count) != 0) _exit(126);
        // A credential change clears it, so it is set after: should this process die without
        // its cleanup (SIGKILL), the command goes too instead of running on unwatched.
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != reaper) _exit(126);
        errno = 0;
        if (niceness > 0 && nice(niceness) == -1 && errno != 0) {
            fprintf(stderr, "claude-reaper: nice(%d): %s\n", niceness, strerror(errno));
        }
        execvp(argv[1], argv + 1);
        fprintf(stderr, "claude-reaper: cannot run %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }

    if (switch_user && keep_watch_over(&user) != 0) {
        kill(command, SIGKILL);
        waitpid(command, NULL, 0);
        return 126;
    }
    pid_t self = getpid();
    int command_status = 0, command_done = 0;
    long orphaned_at = -1;  // when the parent was found gone
    // 100 ms while the autogroup waits for the kernel (at most 5 s), then 1 s for the parent.
    if (autogroup_tries > 0) tick_every(100);
    else if (parent > 0) tick_every(1000);
    for (;;) {
        if (timer_fired) {
            timer_fired = 0;
            if (autogroup_tries > 0 && (nice_autogroup(niceness) || --autogroup_tries <= 0)) {
                autogroup_tries = 0;
                tick_every(parent > 0 ? 1000 : 0);
            }
            if (parent > 0 && orphaned_at < 0 && getppid() != parent) {
                orphaned_at = monotonic_ms();
                if (!command_done) kill(command, SIGTERM);  // the CLI stops its tools itself
            } else if (orphaned_at >= 0 && monotonic_ms() - orphaned_at >= 5000) {
                kill_children(self);
            }
        }
        if (kill_everything) {
            kill_everything = 0;
            kill_children(self);
        }
        if (forward_signal) {
            int sig = forward_signal;
            forward_signal = 0;
            if (!command_done) kill(command, sig);
        }
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            if (errno == ECHILD && command_done) break;  // nothing left below us
            if (errno == ECHILD) break;
            continue;
        }
        if (pid == command) {
            command_done = 1;
            command_status = status;
            // Whatever it left running goes now; the loop reaps it.
            kill_children(self);
        } else if (command_done) {
            kill_children(self);  // a straggler may have forked meanwhile
        }
    }
    if (WIFSIGNALED(command_status)) return 128 + WTERMSIG(command_status);
    return WEXITSTATUS(command_status);
}
