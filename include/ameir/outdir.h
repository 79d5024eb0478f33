/* Output paths are checked before any work: a command whose output cannot be written fails at
 * once with exit 2 (bad usage), not after minutes of training with exit 1. docs/exit-codes.md. */
#ifndef AMEIR_OUTDIR_H
#define AMEIR_OUTDIR_H

/* Check that the directory that will hold path (its parent; "." for a bare name) exists and is
 * writable, read-only file systems included (access(2) says EROFS even to root). option names
 * the command-line option in the message ("--out"). Returns 0 or AMEIR_EINVAL
 * "--out PATH: directory DIR does not exist or is not writable (REASON)". */
int ameir_out_dir_check(const char *option, const char *path);

#endif
