/* Signal flags for a clean stop: the handlers only store the signal number (the one
 * async-signal-safe thing to do); the coordinator and worker loops poll the flag. */
#define _POSIX_C_SOURCE 200809L
#include "ameir/cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

volatile sig_atomic_t ameir_signal_caught = 0;

static const int handled[] = {SIGTERM, SIGINT, SIGUSR1};
#define N_HANDLED ((int)(sizeof handled / sizeof handled[0]))
static struct sigaction previous[N_HANDLED];
static int installed = 0;

static void on_signal(int sig) { ameir_signal_caught = sig; }

int ameir_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* no SA_RESTART: a sleeping poll loop wakes up at once and sees the flag */
    sa.sa_flags = 0;
    ameir_signal_caught = 0;
    for (int i = 0; i < N_HANDLED; i++) {
        if (sigaction(handled[i], &sa, &previous[i]) != 0) {
            int e = errno;
            for (int j = 0; j < i; j++)
                sigaction(handled[j], &previous[j], NULL);
            return ameir_fail(AMEIR_EINTERNAL, "sigaction(%s): %s", ameir_signal_name(handled[i]), strerror(e));
        }
    }
    installed = 1;
    return 0;
}

void ameir_signals_restore(void) {
    if (!installed)
        return;
    for (int i = 0; i < N_HANDLED; i++)
        sigaction(handled[i], &previous[i], NULL);
    installed = 0;
}

const char *ameir_signal_name(int sig) {
    switch (sig) {
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
    case SIGUSR1:
        return "SIGUSR1";
    }
    return "signal";
}

void ameir_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* EINTR ends it early, which is what a poll loop wants */
}

/* Under a launcher (mpirun's ORTE, or srun's slurmstepd) a rank is the launcher's child; when
 * the launcher is killed (kill -9, a node's daemon dying) nothing else tells the rank, which
 * would go on training and rank 0 on rewriting RUN.h5 next to a resumed search. The kernel's
 * parent-death signal ends it at once. Not under a launcher (ameir search started by hand,
 * maybe with nohup) the parent is a shell whose end must not kill the search. */
void ameir_die_with_launcher(void) {
    if (!getenv("OMPI_COMM_WORLD_RANK") && !getenv("PMIX_RANK") && !getenv("SLURM_STEP_ID"))
        return;
#ifdef __linux__
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return;
    /* the launcher may have died just before the call: then we were re-parented already */
    if (getppid() != parent)
        _exit(1);
#endif
}
