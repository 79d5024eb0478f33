/* One writer per run: a lock file beside the checkpoint (RUN.h5.lock) that names its holder.
 *
 * The lock is taken with link(2) of a fully written private file onto RUN.h5.lock, which is
 * atomic on local file systems, NFSv3+ and Lustre (unlike flock, which NFS may keep local to a
 * client). The file holds the holder's host, pid, SLURM job id, start time, boot id and the
 * kernel's start tick of the pid; the holder also keeps an fcntl lock on it where the file
 * system supports one. A lock left behind is taken over when its holder is provably gone:
 * same host and the pid is dead, a zombie, reused by another process, or the host rebooted;
 * or the same SLURM job id (a requeued job's earlier run, which SLURM ends before the next
 * one starts). A holder on another host is never guessed dead: the refusal names it and its
 * age. docs/reliability.md states the promise. */
#ifndef AMEIR_RUNLOCK_H
#define AMEIR_RUNLOCK_H

#include <stddef.h>

typedef struct ameir_run_lock ameir_run_lock;

/* Take the lock of the run whose checkpoint is run_path (the file run_path.lock). A live
 * holder on this host is waited for up to AMEIR_LOCK_WAIT seconds (default 2: the ranks of an
 * mpirun killed a moment ago are still leaving). Returns 0 and *out (owned by the caller;
 * ameir_run_lock_release frees it), AMEIR_EEXIST "RUN.h5 is in use by ... (host H, pid P, job
 * J, started T, N s ago)" when another search holds it, or AMEIR_EINVAL when the lock cannot
 * be created (directory missing, read-only or not writable). All refusals exit 2. */
int ameir_run_lock_take(ameir_run_lock **out, const char *run_path);

/* Remove the lock file (only if it is still this holder's) and free l. NULL does nothing.
 * Safe to call right before MPI_Abort or exit. */
void ameir_run_lock_release(ameir_run_lock *l);

/* The lock file's path (for messages). */
const char *ameir_run_lock_path(const ameir_run_lock *l);

#endif
