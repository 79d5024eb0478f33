/* Packing values into a byte buffer and reading them back (src/core/pack.c): payloads of
 * messages between ranks. No MPI here; the transport sends the bytes. */
#ifndef AMEIR_PACK_H
#define AMEIR_PACK_H

#include <stddef.h>
#include <stdint.h>

/* Packing into a growable byte buffer (owned by the packer; ameir_pack_destroy frees). */
typedef struct ameir_pack {
    unsigned char *data;
    size_t len, cap;
    int failed; /* out of memory on some append: ameir_msg_send refuses to send */
} ameir_pack;

void ameir_pack_init(ameir_pack *p);
void ameir_pack_destroy(ameir_pack *p);
void ameir_pack_reset(ameir_pack *p);
void ameir_pack_i64(ameir_pack *p, int64_t v);
void ameir_pack_f64(ameir_pack *p, double v);
void ameir_pack_str(ameir_pack *p, const char *s); /* length-prefixed; NULL packs "" */
void ameir_pack_bytes(ameir_pack *p, const void *v, size_t n);

/* Reading a payload; any read past the end sets failed and returns zeros / "". */
typedef struct ameir_unpack {
    const unsigned char *data;
    size_t len, pos;
    int failed;
} ameir_unpack;

void ameir_unpack_init(ameir_unpack *u, const void *data, size_t len);
int64_t ameir_unpack_i64(ameir_unpack *u);
double ameir_unpack_f64(ameir_unpack *u);
/* Copies at most cap-1 bytes and a NUL into out; a longer string sets failed. */
void ameir_unpack_str(ameir_unpack *u, char *out, size_t cap);
/* A string of any length, malloc'd (caller frees); NULL and failed set on error. */
char *ameir_unpack_strdup(ameir_unpack *u);
void ameir_unpack_bytes(ameir_unpack *u, void *out, size_t n);
/* AMEIR_EINVAL "protocol error: MSG payload ..." if a read failed or bytes are left over. */
int ameir_unpack_finish(const ameir_unpack *u, const char *what);

#endif
