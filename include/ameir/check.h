/* The check macros for HDF5 and MPI calls (hpc/ior's HDF5_CHECK, MPI_CHECK): on failure they
 * record the message with the file and line, store the error code in rc and jump to the
 * caller's cleanup label, both named at the call, so handles opened before are closed there:
 *
 *     AMEIR_H5_CHECK(H5Dwrite(ds, ...), rc, done, path, "write /trials/metric");
 *     AMEIR_MPI_CHECK(MPI_Bcast(&n, 1, MPI_INT, 0, comm), rc, fail);
 */
#ifndef AMEIR_CHECK_H
#define AMEIR_CHECK_H

/* Records "ORIGIN: HDF5 failed on WHAT (FILE:LINE)" and returns AMEIR_EHDF5. */
int ameir_h5_fail(const char *origin, const char *what, const char *file, int line);

/* AMEIR_EMPI "FILE:LINE: CALL failed: MPI's message". Defined in src/cluster (asking MPI for its
 * message is an MPI call, and those live in the transport only). */
int ameir_mpi_fail(int code, const char *file, int line, const char *call);

/* expr is an HDF5 call (or a helper returning one of its results): negative means failure. */
#define AMEIR_H5_CHECK(expr, rc, label, origin, what)                      \
    do {                                                                   \
        if ((expr) < 0) {                                                  \
            (rc) = ameir_h5_fail((origin), (what), __FILE__, __LINE__);    \
            goto label;                                                    \
        }                                                                  \
    } while (0)

/* call is an MPI call; anything but MPI_SUCCESS (which the standard fixes at 0) is a failure. */
#define AMEIR_MPI_CHECK(call, rc, label)                                          \
    do {                                                                          \
        int ameir_mpi_code_ = (call);                                             \
        if (ameir_mpi_code_ != 0) {                                               \
            (rc) = ameir_mpi_fail(ameir_mpi_code_, __FILE__, __LINE__, #call);    \
            goto label;                                                           \
        }                                                                         \
    } while (0)

#endif
