/* The run lock (src/core/runlock.c) with real processes: a live holder refuses a second
 * taker and is named; a killed holder, a dead pid, a reused pid and an earlier run of the
 * same SLURM job are taken over; a holder on another host is refused with its name and age;
 * a damaged lock file and a missing directory are refused (exit 2). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/runlock.h"

static char dir[] = "/tmp/ameir-runlock-XXXXXX";
static char run[512], lockfile[600];

static void write_lock(const char *host, long long pid, const char *job, long long pstart) {
    FILE *f = fopen(lockfile, "w");
    fprintf(f, "ameir run lock 1\nhost %s\npid %lld\njob %s\nepoch %lld\nboot -\npstart %llu\n", host, pid, job,
            (long long)time(NULL) - 3725, (unsigned long long)pstart);
    fclose(f);
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static long long dead_pid(void) {
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

int main(void) {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    setenv("AMEIR_LOCK_WAIT", "0", 1);
    unsetenv("SLURM_JOB_ID");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(run, sizeof run, "%s/RUN.h5", dir);
    snprintf(lockfile, sizeof lockfile, "%s.lock", run);

    /* taken, then refused to a second taker while held; released removes the file */
    ameir_run_lock *a = NULL, *b = NULL;
    CHECK_EQ_INT(ameir_run_lock_take(&a, run), 0);
    CHECK(exists(lockfile));
    CHECK_EQ_INT(ameir_run_lock_take(&b, run), AMEIR_EEXIST);
    CHECK_EQ_INT(ameir_exit_code(AMEIR_EEXIST), 2);
    char want[64];
    snprintf(want, sizeof want, "pid %lld", (long long)getpid());
    CHECK(strstr(ameir_last_error(), want) != NULL);
    CHECK(strstr(ameir_last_error(), host) != NULL);
    fprintf(stderr, "refused: %s\n", ameir_last_error());
    ameir_run_lock_release(a);
    CHECK(!exists(lockfile));

    /* a live holder in another process, then the same holder killed with SIGKILL */
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    pid_t child = fork();
    if (child == 0) {
        ameir_run_lock *c = NULL;
        char ok = ameir_run_lock_take(&c, run) == 0 ? 'y' : 'n';
        if (write(pipefd[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char ok = 0;
    CHECK(read(pipefd[0], &ok, 1) == 1 && ok == 'y');
    CHECK_EQ_INT(ameir_run_lock_take(&b, run), AMEIR_EEXIST);
    snprintf(want, sizeof want, "pid %lld", (long long)child);
    CHECK(strstr(ameir_last_error(), want) != NULL);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK(exists(lockfile)); /* a killed holder leaves its lock behind */
    CHECK_EQ_INT(ameir_run_lock_take(&b, run), 0);
    ameir_run_lock_release(b);
    b = NULL;

    /* a dead pid on this host, and our own pid with another start tick (a reused pid) */
    write_lock(host, dead_pid(), "-", 0);
    CHECK_EQ_INT(ameir_run_lock_take(&b, run), 0);
    ameir_run_lock_release(b);
    write_lock(host, getpid(), "-", 1);
    CHECK_EQ_INT(ameir_run_lock_take(&b, run), 0);
    ameir_run_lock_release(b);

    /* another host: refused with its name and age, unless it is an earlier run of our job */
    write_lock("node-other-17", 4242, "991", 0);
    CHECK_EQ_INT(ameir_run_lock_take(&b, run), AMEIR_EEXIST);
    CHECK(strstr(ameir_last_error(), "node-other-17") != NULL);
    CHECK(strstr(ameir_last_error(), "another host") != NULL);
    CHECK(strstr(ameir_last_error(), "1h02m ago") != NULL);
    CHECK(strstr(ameir_last_error(), "job 991") != NULL);
    fprintf(stderr, "refused: %s\n", ameir_last_error());
    setenv("SLURM_JOB_ID", "991", 1);
    CHECK_EQ_INT(ameir_run_lock_take(&b, run), 0);
    ameir_run_lock_release(b);
    unsetenv("SLURM_JOB_ID");

    /* a damaged lock file is refused, never guessed at */
    FILE *f = fopen(lockfile, "w");
    fprintf(f, "garbage\n");
    fclose(f);
    CHECK_EQ_INT(ameir_run_lock_take(&b, run), AMEIR_EEXIST);
    CHECK(strstr(ameir_last_error(), "not an ameir run lock") != NULL);
    unlink(lockfile);

    /* a directory that does not exist: bad usage, exit 2 */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/RUN.h5", dir);
    int rc = ameir_run_lock_take(&b, missing);
    CHECK_EQ_INT(rc, AMEIR_EINVAL);
    CHECK_EQ_INT(ameir_exit_code(rc), 2);
    CHECK(strstr(ameir_last_error(), "no/such/RUN.h5.lock") != NULL);
    rmdir(dir);
    return check_finish("test_runlock");
}
