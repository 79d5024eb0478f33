/* The run lock (include/ameir/runlock.h): link(2) of a private file onto RUN.h5.lock, the
 * holder described inside, stale locks of provably dead holders taken over. */
#include "ameir/runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ameir/error.h"
#include "ameir/log.h"

#define LOCK_TEXT_MAX 1024

struct ameir_run_lock {
    char path[4096];
    char text[LOCK_TEXT_MAX];
    int fd; /* keeps the fcntl lock, where the file system has them */
};

/* What a lock file says about its holder. */
typedef struct holder {
    char host[256], job[64], boot[64];
    long long pid, epoch;
    unsigned long long pstart;
} holder;

static void read_line_file(const char *path, char *out, size_t cap) {
    snprintf(out, cap, "-");
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(out, (int)cap, f))
        out[strcspn(out, "\r\n")] = '\0';
    else
        snprintf(out, cap, "-");
    fclose(f);
}

/* The kernel's start tick of pid (field 22 of /proc/PID/stat) and its state letter; 0 when
 * /proc does not say (no such pid, or not Linux). */
static unsigned long long proc_start(long long pid, char *state) {
    char path[64], buf[1024];
    *state = '?';
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p || p[1] != ' ')
        return 0;
    p += 2;
    *state = *p;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return p ? strtoull(p, NULL, 10) : 0;
}

static void own_holder_text(char *out, size_t cap) {
    char host[256] = "-", boot[64], state;
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "-");
    host[sizeof host - 1] = '\0';
    read_line_file("/proc/sys/kernel/random/boot_id", boot, sizeof boot);
    const char *job = getenv("SLURM_JOB_ID");
    snprintf(out, cap, "ameir run lock 1\nhost %s\npid %lld\njob %s\nepoch %lld\nboot %s\npstart %llu\n", host,
             (long long)getpid(), job && job[0] && !strchr(job, ' ') ? job : "-", (long long)time(NULL), boot,
             proc_start((long long)getpid(), &state));
}

/* 1 when text is a lock file this build can read, with h filled. */
static int parse_holder(const char *text, holder *h) {
    memset(h, 0, sizeof *h);
    int v = 0;
    return sscanf(text, "ameir run lock %d\nhost %255s\npid %lld\njob %63s\nepoch %lld\nboot %63s\npstart %llu", &v, h->host,
                  &h->pid, h->job, &h->epoch, h->boot, &h->pstart) == 7 &&
           v == 1 && h->pid > 0;
}

/* The lock file's bytes into out; 0, or -1 with errno (ENOENT: it vanished meanwhile). */
static int read_lock(const char *path, char *out, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, cap - 1);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    out[n] = '\0';
    return 0;
}

/* Does some process hold an fcntl lock on path? 1 yes, 0 no, -1 cannot tell (no fcntl
 * locks here, e.g. NFS mounted with nolock, or the file is gone). */
static int fcntl_held(const char *path) {
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return -1;
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    int rc = fcntl(fd, F_GETLK, &fl);
    close(fd);
    if (rc != 0)
        return -1;
    return fl.l_type != F_UNLCK;
}

/* Write our text to a private file and link it onto the lock path: 1 taken, 0 exists,
 * or an error code. link is atomic on NFS; when its reply is lost the private file's link
 * count tells whether it worked. */
static int try_link(ameir_run_lock *l, const char *run_path) {
    char tmp[4096 + 128], host[256] = "-";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(tmp, sizeof tmp, "%s.%s.%lld", l->path, host, (long long)getpid());
    unlink(tmp); /* a leftover of this host and pid is ours to replace */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == EACCES || e == EROFS || e == ENOTDIR || e == EPERM)
            return ameir_fail(AMEIR_EINVAL, "%s: cannot create the lock file %s: %s (directory missing, read-only or not writable)",
                              run_path, l->path, strerror(e));
        return ameir_fail(AMEIR_EIO, "%s: cannot create the lock file %s: %s", run_path, l->path, strerror(e));
    }
    size_t len = strlen(l->text);
    int ok = write(fd, l->text, len) == (ssize_t)len && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        return ameir_fail(AMEIR_EIO, "%s: cannot write the lock file %s: %s", run_path, tmp, strerror(e));
    }
    int taken = link(tmp, l->path) == 0;
    e = errno;
    struct stat st;
    if (!taken && e != EEXIST && stat(tmp, &st) == 0 && st.st_nlink == 2)
        taken = 1;
    unlink(tmp);
    if (!taken && e != EEXIST)
        return ameir_fail(AMEIR_EINVAL, "%s: cannot create the lock file %s: %s (a file system without hard links?)", run_path,
                          l->path, strerror(e));
    return taken;
}

enum verdict { HOLDER_ALIVE, HOLDER_REMOTE, HOLDER_STALE };

/* Is the holder provably gone? why says how we know (for the log). */
static int judge(const holder *h, const char *lock_path, char *why, size_t cap) {
    holder me;
    char text[LOCK_TEXT_MAX], state = '?';
    own_holder_text(text, sizeof text);
    parse_holder(text, &me);
    if (fcntl_held(lock_path) == 1)
        return HOLDER_ALIVE; /* a process somewhere keeps its fcntl lock */
    int same_host = strcmp(h->host, me.host) == 0;
    if (same_host) {
        if (strcmp(h->boot, "-") && strcmp(me.boot, "-") && strcmp(h->boot, me.boot)) {
            snprintf(why, cap, "host %s rebooted since", h->host);
            return HOLDER_STALE;
        }
        if (kill((pid_t)h->pid, 0) != 0 && errno == ESRCH) {
            snprintf(why, cap, "pid %lld on %s is gone", h->pid, h->host);
            return HOLDER_STALE;
        }
        unsigned long long start = proc_start(h->pid, &state);
        if (state == 'Z' || state == 'X') {
            snprintf(why, cap, "pid %lld on %s has exited", h->pid, h->host);
            return HOLDER_STALE;
        }
        if (start && h->pstart && start != h->pstart) {
            snprintf(why, cap, "pid %lld on %s now belongs to another process", h->pid, h->host);
            return HOLDER_STALE;
        }
        return HOLDER_ALIVE;
    }
    if (strcmp(h->job, "-") && !strcmp(h->job, me.job)) {
        /* SLURM ends a job's earlier run before it starts the requeued one */
        snprintf(why, cap, "it was left by an earlier run of SLURM job %s on %s", h->job, h->host);
        return HOLDER_STALE;
    }
    return HOLDER_REMOTE;
}

static double lock_wait(void) {
    const char *s = getenv("AMEIR_LOCK_WAIT");
    char *end = NULL;
    double w = s && s[0] ? strtod(s, &end) : 2.0;
    return end && (*end || !(w >= 0)) ? 2.0 : w;
}

static int refuse(const char *run_path, const char *lock_path, const holder *h, int remote) {
    char started[64] = "?", age[32];
    time_t t = (time_t)h->epoch;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ameir_format_duration(age, sizeof age, difftime(time(NULL), t));
    return ameir_fail(AMEIR_EEXIST,
                      "%s is in use by another search: host %s, pid %lld, SLURM job %s, started %s (%s ago)%s; wait for it to "
                      "end or stop it (SIGUSR1 to its mpirun, or scancel); only if it is surely gone (its node died), remove %s",
                      run_path, h->host, h->pid, h->job, started, age,
                      remote ? " on another host, so this search cannot check whether it still runs" : "", lock_path);
}

int ameir_run_lock_take(ameir_run_lock **out, const char *run_path) {
    *out = NULL;
    ameir_run_lock *l = calloc(1, sizeof *l);
    if (!l)
        return ameir_fail(AMEIR_ENOMEM, "no memory for the run lock");
    l->fd = -1;
    int rc = 0;
    if (snprintf(l->path, sizeof l->path, "%s.lock", run_path) >= (int)sizeof l->path) {
        rc = ameir_fail(AMEIR_EINVAL, "%s: path too long", run_path);
        goto fail;
    }
    own_holder_text(l->text, sizeof l->text);
    double deadline = ameir_now() + lock_wait();
    for (int tries = 0;; tries++) {
        if ((rc = try_link(l, run_path)) < 0)
            goto fail;
        if (rc == 1)
            break;
        char text[LOCK_TEXT_MAX], why[512] = "";
        holder h;
        if (read_lock(l->path, text, sizeof text) != 0) {
            if (errno == ENOENT && tries < 100)
                continue; /* released between our link and our read */
            rc = ameir_fail(AMEIR_EIO, "%s: cannot read the lock file %s: %s", run_path, l->path, strerror(errno));
            goto fail;
        }
        if (!parse_holder(text, &h)) {
            rc = ameir_fail(AMEIR_EEXIST, "%s: the lock file %s is not an ameir run lock (or is damaged); remove it if no search "
                                          "runs on %s", run_path, l->path, run_path);
            goto fail;
        }
        int v = judge(&h, l->path, why, sizeof why);
        if (v == HOLDER_STALE && tries < 100) {
            char again[LOCK_TEXT_MAX];
            /* remove it only if nobody replaced it since we read it */
            if (read_lock(l->path, again, sizeof again) == 0 && !strcmp(again, text)) {
                ameir_log(AMEIR_LOG_WARN, "ameir search: taking over the lock %s: %s", l->path, why);
                unlink(l->path);
            }
            continue;
        }
        if (v == HOLDER_ALIVE && ameir_now() < deadline) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        rc = refuse(run_path, l->path, &h, v == HOLDER_REMOTE);
        goto fail;
    }
    l->fd = open(l->path, O_RDWR);
    if (l->fd >= 0) {
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        (void)fcntl(l->fd, F_SETLK, &fl); /* best effort: where it works, judge() sees it */
    }
    *out = l;
    return 0;
fail:
    free(l);
    return rc;
}

void ameir_run_lock_release(ameir_run_lock *l) {
    if (!l)
        return;
    char text[LOCK_TEXT_MAX];
    if (read_lock(l->path, text, sizeof text) == 0 && !strcmp(text, l->text))
        unlink(l->path);
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

const char *ameir_run_lock_path(const ameir_run_lock *l) { return l->path; }
