/* Sealed files: a CRC-32 over a file's bytes kept in its HDF5 user block (ameir/seal.h). */
#include "ameir/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ameir/error.h"

#define SEAL_MAGIC "AMEIRSL1"
#define SEAL_VERSION 1u
#define SEAL_NOTE "AMEIR sealed file: CRC-32 (zlib) of the bytes after this block at offset 24\n"

uint32_t ameir_crc32(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    uLong c = crc;
    while (n > 0) { /* zlib takes uInt lengths */
        uInt k = n > (size_t)UINT_MAX ? UINT_MAX : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* CRC-32 of the header block but its own field (bytes 28-31): every byte of the block counts. */
static uint32_t header_crc(const unsigned char *h) {
    return ameir_crc32(ameir_crc32(0, h, 28), h + 32, AMEIR_SEAL_BLOCK - 32);
}

/* CRC-32 of bytes [from, to) of an open file; -1 on a read error or a short file. */
static int crc_range(int fd, int64_t from, int64_t to, uint32_t *out) {
    unsigned char buf[1 << 16];
    uint32_t c = 0;
    for (int64_t at = from; at < to;) {
        size_t want = to - at < (int64_t)sizeof buf ? (size_t)(to - at) : sizeof buf;
        ssize_t got = pread(fd, buf, want, (off_t)at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        c = ameir_crc32(c, buf, (size_t)got);
        at += got;
    }
    *out = c;
    return 0;
}

int ameir_seal_file(const char *path) {
    unsigned char h[AMEIR_SEAL_BLOCK];
    struct stat st;
    uint32_t crc = 0;
    int rc = 0, fd = open(path, O_RDWR);
    if (fd < 0)
        return ameir_fail(AMEIR_EIO, "%s: cannot open to seal: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || st.st_size < AMEIR_SEAL_BLOCK) {
        rc = ameir_fail(AMEIR_EIO, "%s: cannot seal: no user block of %d bytes", path, AMEIR_SEAL_BLOCK);
        goto done;
    }
    if (crc_range(fd, AMEIR_SEAL_BLOCK, (int64_t)st.st_size, &crc) < 0) {
        rc = ameir_fail(AMEIR_EIO, "%s: cannot read back to seal: %s", path, strerror(errno));
        goto done;
    }
    memset(h, 0, sizeof h);
    memcpy(h, SEAL_MAGIC, 8);
    put32(h + 8, SEAL_VERSION);
    put32(h + 12, AMEIR_SEAL_BLOCK);
    put64(h + 16, (uint64_t)st.st_size);
    put32(h + 24, crc);
    memcpy(h + 32, SEAL_NOTE, sizeof SEAL_NOTE - 1);
    put32(h + 28, header_crc(h));
    if (pwrite(fd, h, sizeof h, 0) != (ssize_t)sizeof h)
        rc = ameir_fail(AMEIR_EIO, "%s: cannot write the seal: %s", path, errno ? strerror(errno) : "short write");
done:
    close(fd);
    return rc;
}

int ameir_seal_check(const char *path, char *why, size_t cap, int64_t *size_out) {
    unsigned char h[AMEIR_SEAL_BLOCK];
    struct stat st;
    uint32_t crc = 0;
    int rc = AMEIR_ECHECKPOINT, fd = open(path, O_RDONLY);
    why[0] = '\0';
    if (size_out)
        *size_out = 0;
    if (fd < 0)
        return errno == ENOENT ? AMEIR_ENOENT : ameir_fail(AMEIR_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0) {
        rc = ameir_fail(AMEIR_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (size_out)
        *size_out = (int64_t)st.st_size;
    ssize_t got = st.st_size >= (off_t)sizeof h ? pread(fd, h, sizeof h, 0) : 0;
    if (got != (ssize_t)sizeof h) {
        snprintf(why, cap, "%lld bytes, too short for a sealed file (truncated)", (long long)st.st_size);
        goto done;
    }
    if (memcmp(h, SEAL_MAGIC, 8) != 0) {
        snprintf(why, cap, "no seal in its first bytes (not written by ameir, by an older version, or damaged at the start)");
        goto done;
    }
    if (get32(h + 28) != header_crc(h) || get32(h + 8) != SEAL_VERSION || get32(h + 12) != AMEIR_SEAL_BLOCK) {
        snprintf(why, cap, "its seal (the first %d bytes) is damaged", AMEIR_SEAL_BLOCK);
        goto done;
    }
    uint64_t length = get64(h + 16);
    if ((uint64_t)st.st_size != length) {
        snprintf(why, cap, "%lld bytes where the seal says %llu (%s)", (long long)st.st_size, (unsigned long long)length,
                 (uint64_t)st.st_size < length ? "truncated" : "extended");
        goto done;
    }
    if (crc_range(fd, AMEIR_SEAL_BLOCK, (int64_t)length, &crc) < 0) {
        rc = ameir_fail(AMEIR_EIO, "%s: read failed: %s", path, strerror(errno));
        goto done;
    }
    if (crc != get32(h + 24)) {
        snprintf(why, cap, "checksum mismatch: its bytes were changed after it was written (damaged)");
        goto done;
    }
    rc = 0;
done:
    close(fd);
    return rc;
}
