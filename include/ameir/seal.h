/* Sealed files: a checksum over a file's bytes, kept in its first bytes, checked before
 * anything parses the file.
 *
 * An HDF5 file created with a user block of AMEIR_SEAL_BLOCK bytes (H5Pset_userblock)
 * leaves that block to us: HDF5, h5py and h5dump skip it. After HDF5 has closed the file,
 * ameir_seal_file writes a header there: a magic, the file's length and the CRC-32 of every
 * byte after the block. ameir_seal_check reads the whole file once (bounded time, no HDF5)
 * and says what is wrong, so a truncated, extended, bit-flipped or zeroed file, or an HDF5
 * file we did not write, is refused before HDF5's parser sees it.
 *
 * Header (little-endian, offsets in bytes): 0 magic "AMEIRSL1", 8 uint32 header version (1),
 * 12 uint32 block size, 16 uint64 file length, 24 uint32 CRC-32 of bytes [block size, length),
 * 28 uint32 CRC-32 of bytes [0, 28) then [32, block size), 32 a line of text saying what this
 * is, zeros to the end of the block. CRC-32 is zlib's
 * (Python: zlib.crc32). Layout in docs/checkpoint-format.md. */
#ifndef AMEIR_SEAL_H
#define AMEIR_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define AMEIR_SEAL_BLOCK 512 /* the HDF5 user block: a power of two >= 512 */

/* zlib's CRC-32 of n bytes, continuing from crc (0 to start). Any n. */
uint32_t ameir_crc32(uint32_t crc, const void *data, size_t n);

/* Seal a closed file that has a user block of AMEIR_SEAL_BLOCK zero bytes: write the
 * header (the caller's atomic commit fsyncs). Returns 0 or AMEIR_EIO ("PATH: ..."). */
int ameir_seal_file(const char *path);

/* Check a sealed file without parsing it. Returns 0, AMEIR_ENOENT (missing), or
 * AMEIR_ECHECKPOINT with why (cap bytes) saying what is wrong, e.g. "12288 bytes where the
 * seal says 28672 (truncated)"; *size_out (may be NULL) gets the file's length. */
int ameir_seal_check(const char *path, char *why, size_t cap, int64_t *size_out);

#endif
