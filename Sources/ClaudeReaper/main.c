// claude-reaper: runs one command (the Claude Code CLI) as its child and makes sure that
// nothing the command starts outlives it, and that nothing is left as a zombie.
//
//   claude-reaper [--nice N] COMMAND [ARGS...]
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
#include <unistd.h>

static volatile sig_atomic_t forward_signal = 0;
static volatile sig_atomic_t kill_everything = 0;
static volatile sig_atomic_t retry_autogroup = 0;

static void on_signal(int sig) {
    if (sig == SIGUSR1) kill_everything = 1;
    else if (sig == SIGALRM) retry_autogroup = 1;
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

static void retry_autogroup_soon(void) {
    struct itimerval soon = {.it_interval = {0, 0}, .it_value = {0, 100 * 1000}};
    setitimer(ITIMER_REAL, &soon, NULL);
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

int main(int argc, char **argv) {
    int niceness = 0;
    if (argc >= 3 && strcmp(argv[1], "--nice") == 0) {
        char *end;
        long value = strtol(argv[2], &end, 10);
        if (*argv[2] == '\0' || *end != '\0' || value < 0 || value > 19) {
            fprintf(stderr, "claude-reaper: --nice takes 0 to 19, got %s\n", argv[2]);
            return 2;
        }
        niceness = (int)value;
        argv += 2;
        argc -= 2;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: claude-reaper [--nice N] COMMAND [ARGS...]\n");
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
    // Before the fork, so the CLI usually starts in the nicer group; else retried below.
    int autogroup_tries = niceness > 0 ? 50 : 0;
    if (autogroup_tries > 0 && nice_autogroup(niceness)) autogroup_tries = 0;

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
        errno = 0;
        if (niceness > 0 && nice(niceness) == -1 && errno != 0) {
            fprintf(stderr, "claude-reaper: nice(%d): %s\n", niceness, strerror(errno));
        }
        execvp(argv[1], argv + 1);
        fprintf(stderr, "claude-reaper: cannot run %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }

    pid_t self = getpid();
    int command_status = 0, command_done = 0;
    if (autogroup_tries > 0) retry_autogroup_soon();
    for (;;) {
        if (retry_autogroup) {
            retry_autogroup = 0;
            // Interrupts waitpid (no SA_RESTART) every 100 ms until done, for at most 5 s.
            if (nice_autogroup(niceness) || --autogroup_tries <= 0) autogroup_tries = 0;
            else retry_autogroup_soon();
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
