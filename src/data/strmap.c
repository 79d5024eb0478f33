/* Small containers for prep: a string arena, a string -> int64 hash map, a progress line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/log.h"
#include "ameir/rng.h"
#include "prep_internal.h"

#define ARENA_BLOCK ((size_t)1 << 20)

char *arena_strdup(str_arena *a, const char *s, size_t n) {
    if (!a->n_blocks || a->used + n + 1 > a->size) {
        size_t size = n + 1 > ARENA_BLOCK ? n + 1 : ARENA_BLOCK;
        if (a->n_blocks == a->cap_blocks) {
            size_t cap = a->cap_blocks ? 2 * a->cap_blocks : 16;
            char **b = realloc(a->blocks, cap * sizeof *b);
            if (!b)
                return NULL;
            a->blocks = b;
            a->cap_blocks = cap;
        }
        char *blk = malloc(size);
        if (!blk)
            return NULL;
        a->blocks[a->n_blocks++] = blk;
        a->used = 0;
        a->size = size;
    }
    char *d = a->blocks[a->n_blocks - 1] + a->used;
    memcpy(d, s, n);
    d[n] = '\0';
    a->used += n + 1;
    return d;
}

void arena_free(str_arena *a) {
    for (size_t i = 0; i < a->n_blocks; i++)
        free(a->blocks[i]);
    free(a->blocks);
    memset(a, 0, sizeof *a);
}

int strmap_init(strmap *m, size_t expect) {
    size_t cap = 64;
    while (cap < 2 * expect)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->n = 0;
    if (!m->slots) {
        strmap_destroy(m);
        return -1;
    }
    return 0;
}

void strmap_destroy(strmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

#define FORM_POINTER 15u /* a tag's low 4 bits: the key is not in the slot */

static void key_finish(strmap_key *k, const char *s, uint64_t w, size_t n);

void strmap_key_of(strmap_key *k, const char *s) {
    uint64_t w = 0;
    size_t n = 0;
    for (; n < 8 && s[n]; n++)
        w |= (uint64_t)(unsigned char)s[n] << (8 * n);
    key_finish(k, s, w, n);
}

void strmap_key_of_padded(strmap_key *k, const char *s) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* one load of 8 bytes; its first zero byte is the NUL (the lowest flagged byte is exact:
     * the trick's false flags lie only above a true zero) */
    uint64_t w;
    memcpy(&w, s, sizeof w);
    uint64_t z = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
    size_t n = z ? (size_t)__builtin_ctzll(z) / 8 : 8;
    if (n < 8)
        w &= ((uint64_t)1 << (8 * n)) - 1;
    key_finish(k, s, w, n);
#else
    strmap_key_of(k, s);
#endif
}

/* The key of s from its first n (<= 8) bytes as the word w. */
static void key_finish(strmap_key *k, const char *s, uint64_t w, size_t n) {
    uint64_t h = w;
    if (n == 8) /* FNV-1a over the rest; only the map sees it */
        for (const unsigned char *p = (const unsigned char *)s + 8; *p; p++, n++)
            h = (h ^ *p) * 0x100000001b3ULL;
    k->s = s;
    k->word = w;
    k->len = n;
    /* mixed, so that the low bits (the slot) depend on every byte */
    k->h = ameir_mix64(h + (uint64_t)n * 0x9e3779b97f4a7c15ULL);
}

static uint32_t tag_of(const strmap_key *k) {
    uint32_t form = k->len <= 8 ? (uint32_t)k->len + 1 : FORM_POINTER;
    return ((uint32_t)(k->h >> 32) & ~0xfu) | form;
}

const char *strmap_slot_key(const strmap_slot *sl, char buf[9]) {
    uint32_t form = sl->tag & 0xfu;
    if (form == FORM_POINTER)
        return sl->key;
    size_t len = form >= 1 && form <= 9 ? form - 1 : 0;
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)(sl->word >> (8 * i));
    buf[len] = '\0';
    return buf;
}

static size_t slot_of_k(const strmap *m, const strmap_key *k) {
    size_t i = (size_t)k->h & (m->cap - 1);
    uint32_t tag = tag_of(k);
    for (;;) {
        const strmap_slot *sl = &m->slots[i];
        if (!sl->tag || (sl->tag == tag && (k->len <= 8 ? sl->word == k->word : !strcmp(sl->key, k->s))))
            return i;
        i = (i + 1) & (m->cap - 1);
    }
}

int32_t *strmap_get_k(const strmap *m, const strmap_key *k) {
    size_t i = slot_of_k(m, k);
    return m->slots[i].tag ? &m->slots[i].val : NULL;
}

int32_t *strmap_get(const strmap *m, const char *key) {
    strmap_key k;
    strmap_key_of(&k, key);
    return strmap_get_k(m, &k);
}

static int grow(strmap *m) {
    strmap big;
    if (strmap_init(&big, m->cap))
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        const strmap_slot *sl = &m->slots[i];
        if (!sl->tag)
            continue;
        char buf[9];
        strmap_key k;
        strmap_key_of(&k, strmap_slot_key(sl, buf));
        size_t j = (size_t)k.h & (big.cap - 1);
        while (big.slots[j].tag) /* every key is distinct: the first empty slot */
            j = (j + 1) & (big.cap - 1);
        big.slots[j] = *sl;
    }
    big.n = m->n;
    strmap_destroy(m);
    *m = big;
    return 0;
}

int32_t *strmap_put(strmap *m, const char *key, int64_t val, int *added) {
    strmap_key k;
    strmap_key_of(&k, key);
    return strmap_put_k(m, &k, val, added);
}

int32_t *strmap_put_k(strmap *m, const strmap_key *k, int64_t val, int *added) {
    if (val < 0 || val > INT32_MAX || (2 * (m->n + 1) > m->cap && grow(m)))
        return NULL;
    size_t i = slot_of_k(m, k);
    strmap_slot *sl = &m->slots[i];
    *added = !sl->tag;
    if (*added) {
        if (k->len <= 8)
            sl->word = k->word;
        else
            sl->key = k->s;
        sl->tag = tag_of(k);
        sl->val = (int32_t)val;
        m->n++;
    }
    return &sl->val;
}

void prep_progress(const char *what, int64_t count, int done) {
    static double last = 0;
    static int open = 0;
    double now = ameir_now();
    if (!done && now - last < 1.0)
        return;
    if (done && !open)
        return;
    last = now;
    fprintf(stderr, "\rprep: %s: %lld%s", what, (long long)count, done ? "\n" : "");
    open = !done;
}

int vocab_intern(vocab_count *v, str_arena *a, const char *s, int counted, int32_t *entry) {
    strmap_key k;
    strmap_key_of(&k, s);
    return vocab_intern_k(v, a, &k, counted, entry);
}

void vocab_prefetch(const vocab_count *v, const strmap_key *k, int stage) {
    const strmap_slot *sl = &v->map.slots[(size_t)k->h & (v->map.cap - 1)];
    if (stage == 0) {
        __builtin_prefetch(sl);
        return;
    }
    if (sl->tag != tag_of(k)) /* the slot came in at stage 0: now what it points to */
        return;
    if ((sl->tag & 0xfu) == FORM_POINTER)
        __builtin_prefetch(sl->key);
    __builtin_prefetch(&v->count[sl->val], 1);
}

int vocab_intern_k(vocab_count *v, str_arena *a, const strmap_key *k, int counted, int32_t *entry) {
    int32_t *e = strmap_get_k(&v->map, k);
    if (!e) {
        if (v->n == v->cap) {
            int64_t cap = v->cap ? 2 * v->cap : 1024;
            const char **ns = realloc(v->str, (size_t)cap * sizeof *ns);
            if (ns)
                v->str = ns;
            int64_t *nc = realloc(v->count, (size_t)cap * sizeof *nc);
            if (nc)
                v->count = nc;
            if (!ns || !nc)
                return ameir_fail(AMEIR_ENOMEM, "out of memory for %lld values", (long long)cap);
            v->cap = cap;
        }
        strmap_key kept = *k; /* a long key's slot points to the arena's copy */
        kept.s = arena_strdup(a, k->s, k->len);
        int added;
        if (!kept.s || !(e = strmap_put_k(&v->map, &kept, v->n, &added)))
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        v->str[v->n] = kept.s;
        v->count[v->n++] = 0;
    }
    v->count[*e] += counted;
    *entry = (int32_t)*e;
    return 0;
}

void vocab_count_free(vocab_count *v) {
    strmap_destroy(&v->map);
    free(v->str);
    free(v->count);
}

int vocab_assign_ids(const vocab_count *v, int64_t min_freq, str_arena *copy_to, int32_t **id, const char ***vocab,
                     int32_t *n_ids) {
    int32_t *ids = malloc(((size_t)v->n + 1) * sizeof *ids);
    const char **voc = malloc(((size_t)v->n + 2) * sizeof *voc);
    if (!ids || !voc)
        goto oom;
    voc[0] = "<pad>";
    voc[1] = "<oov>";
    int32_t next = 2;
    for (int64_t i = 0; i < v->n; i++) {
        if (v->count[i] >= min_freq && v->count[i] > 0) {
            ids[i] = next;
            voc[next] = copy_to ? arena_strdup(copy_to, v->str[i], strlen(v->str[i])) : v->str[i];
            if (!voc[next++])
                goto oom;
        } else {
            ids[i] = 1;
        }
    }
    *id = ids, *vocab = voc, *n_ids = next;
    return 0;
oom:
    free(ids);
    free(voc);
    return ameir_fail(AMEIR_ENOMEM, "out of memory for a vocabulary of %lld values", (long long)v->n);
}
