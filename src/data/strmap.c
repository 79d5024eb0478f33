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

/* FNV-1a up to the NUL (no strlen first); only the map sees it, so it need not match
 * ameir_hash_bytes */
static uint64_t hash_str(const char *key) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return h;
}

uint64_t strmap_hash(const char *key) {
    /* FNV-1a low bits depend only on low input bits: mixed, the probe chains stay short */
    return ameir_mix64(hash_str(key));
}

void strmap_prefetch(const strmap *m, uint64_t h, int key_too) {
    const strmap_slot *sl = &m->slots[(size_t)h & (m->cap - 1)];
    __builtin_prefetch(sl);
    if (key_too && sl->key) /* the slot came in at the earlier call: now its string */
        __builtin_prefetch(sl->key);
}

static uint32_t tag_of(uint64_t h) { return (uint32_t)(h >> 32); }

static size_t slot_of_h(const strmap *m, const char *key, uint64_t h) {
    size_t i = (size_t)h & (m->cap - 1);
    uint32_t tag = tag_of(h);
    while (m->slots[i].key && (m->slots[i].tag != tag || strcmp(m->slots[i].key, key)))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static size_t slot_of(const strmap *m, const char *key) { return slot_of_h(m, key, strmap_hash(key)); }

int32_t *strmap_get_h(const strmap *m, const char *key, uint64_t h) {
    size_t i = slot_of_h(m, key, h);
    return m->slots[i].key ? &m->slots[i].val : NULL;
}

int32_t *strmap_get(const strmap *m, const char *key) { return strmap_get_h(m, key, strmap_hash(key)); }

static int grow(strmap *m) {
    strmap big;
    if (strmap_init(&big, m->cap))
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            big.slots[slot_of(&big, m->slots[i].key)] = m->slots[i];
    big.n = m->n;
    strmap_destroy(m);
    *m = big;
    return 0;
}

int32_t *strmap_put(strmap *m, const char *key, int64_t val, int *added) {
    return strmap_put_h(m, key, strmap_hash(key), val, added);
}

int32_t *strmap_put_h(strmap *m, const char *key, uint64_t h, int64_t val, int *added) {
    if (val < 0 || val > INT32_MAX || (2 * (m->n + 1) > m->cap && grow(m)))
        return NULL;
    size_t i = slot_of_h(m, key, h);
    *added = !m->slots[i].key;
    if (*added) {
        m->slots[i].key = key;
        m->slots[i].tag = tag_of(h);
        m->slots[i].val = (int32_t)val;
        m->n++;
    }
    return &m->slots[i].val;
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
    return vocab_intern_h(v, a, s, strmap_hash(s), counted, entry);
}

int vocab_intern_h(vocab_count *v, str_arena *a, const char *s, uint64_t h, int counted, int32_t *entry) {
    int32_t *e = strmap_get_h(&v->map, s, h);
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
        const char *k = arena_strdup(a, s, strlen(s));
        int added;
        if (!k || !(e = strmap_put_h(&v->map, k, h, v->n, &added)))
            return ameir_fail(AMEIR_ENOMEM, "out of memory");
        v->str[v->n] = k;
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
