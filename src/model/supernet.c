/* The weight-sharing supernet of one stage (supernet.h): the candidates' own networks as
 * paths, their dense weights mapped onto shared tensors.
 *
 * Memory: the path networks own neither activation buffers nor parameters. Only one path
 * runs at a time, so all of them compute on one set of activation buffers sized for the
 * largest (84 paths of a behaviour stage took 2.4 GB with one set each), and all of them
 * point at one staging block [embedding tables | one path's dense tensors]. The
 * embedding tables (the bulk of the weights) live there for good; before a path runs, its
 * dense tensors (weights and both moments) are copied in from the shared tensors, and
 * after a training step copied back. A map entry says where a path tensor sits in its
 * shared tensor: rows are a prefix (a narrower layer is the top-left slice), columns are
 * runs (a prefix, or the MLP input's column blocks: fields, behaviour, then one block per
 * interaction group of the supernet). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/supernet.h"
#include "net_internal.h"
#include "train_priv.h"

enum { MAP_FLAT = 0, MAP_SLICE = 1, MAP_INPUT = 2 }; /* same shape / prefix / MLP input columns */

typedef struct col_run {
    int pc, sc, len; /* path column, shared column, count */
} col_run;

typedef struct path_map {
    int st;           /* shared tensor */
    int pt;           /* path tensor */
    int rows;         /* rows of the path tensor (1 for a flat copy) */
    int pcols, scols; /* row lengths in the path / shared tensor */
    int nruns;
    col_run *runs;
} path_map;

typedef struct path {
    ameir_net *net;
    int nmaps;
    path_map *maps;
    col_run *runs;
} path;

/* A shared tensor while the candidates are read: its key, kind and largest shape. */
typedef struct shared_key {
    char name[AMEIR_TENSOR_NAME_MAX];
    int kind, ndim;
    int64_t shape[AMEIR_TENSOR_MAX_DIMS];
} shared_key;

struct ameir_supernet {
    int n, d, F, has_seq;
    path *paths;
    ameir_params shared; /* the shared dense tensors */
    ameir_params emb;    /* the embedding tables, a view of the staging block */
    float *stage[4];     /* data, grad, m, v: embeddings then one path's dense tensors */
    size_t E, stage_size;
    int n_groups;
    ameir_interaction groups[AMEIR_MAX_INTERACTIONS * 8]; /* every group a candidate uses */
    int max_dense;       /* the path with the most dense floats (sizes the shard buffers) */
    /* one set of activation buffers, lent to every path (one runs at a time), sized
     * for the largest: memory no longer grows with the candidates */
    size_t act_need[3];
    float *act_f;
    int32_t *act_i;
    uint8_t *act_b;
};

static int group_slot(ameir_supernet *sn, const ameir_interaction *g, int add) {
    for (int i = 0; i < sn->n_groups; i++)
        if (ameir_interaction_same(&sn->groups[i], g))
            return i;
    if (!add)
        return -1;
    if (sn->n_groups == (int)(sizeof sn->groups / sizeof sn->groups[0]))
        return ameir_fail(AMEIR_ECONFIG, "supernet: more than %d distinct interaction groups among the candidates",
                          sn->n_groups);
    sn->groups[sn->n_groups] = *g;
    return sn->n_groups++;
}

/* The shared tensor a path tensor maps to: its name and how it is sliced. */
static int shared_name(const ameir_arch *a, const char *name, char *out, size_t cap, int *kind) {
    int i, j, len = 0;
    char rest[AMEIR_TENSOR_NAME_MAX];
    *kind = MAP_FLAT;
    if (sscanf(name, "block%d/%n", &i, &len) == 1 && len > 0 && i >= 0 && i < a->n_blocks) {
        const ameir_block *b = &a->blocks[i];
        /* every (norm, op, option, act) choice of a slot has weights of its own */
        return snprintf(out, cap, "block%d/%s-%s%d-%s/%s", i, ameir_norm_name(b->norm), ameir_op_name(b->op),
                        b->option, ameir_act_name(b->act), name + len) < (int)cap
                   ? 0
                   : ameir_fail(AMEIR_EINTERNAL, "supernet: tensor name too long for %s", name);
    }
    if (sscanf(name, "mlp/%d/%95s", &j, rest) == 2) {
        *kind = j == 0 ? MAP_INPUT : MAP_SLICE;
        snprintf(out, cap, "%s", name);
        return 0;
    }
    /* the head and the shortcut read the last hidden layer: one of each per depth */
    if (!strncmp(name, "mlp/shortcut/", 13)) {
        *kind = MAP_INPUT;
        return snprintf(out, cap, "mlp/shortcut@%d/%s", a->n_mlp, name + 13) < (int)cap ? 0 : AMEIR_EINTERNAL;
    }
    if (!strncmp(name, "out/", 4)) {
        *kind = MAP_SLICE;
        return snprintf(out, cap, "out@%d/%s", a->n_mlp, name + 4) < (int)cap ? 0 : AMEIR_EINTERNAL;
    }
    snprintf(out, cap, "%s", name);
    return 0;
}

static int find_key(const shared_key *keys, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i].name, name))
            return i;
    return -1;
}

/* Record (or widen) the shared tensor of a path tensor. */
static int note_key(shared_key *keys, int *nkeys, const char *name, int kind, const ameir_tensor *t) {
    int i = find_key(keys, *nkeys, name);
    if (i < 0) {
        i = (*nkeys)++;
        snprintf(keys[i].name, sizeof keys[i].name, "%s", name);
        keys[i].kind = kind;
        keys[i].ndim = t->ndim;
        memcpy(keys[i].shape, t->shape, sizeof t->shape);
        return 0;
    }
    shared_key *k = &keys[i];
    int same = k->ndim == t->ndim && k->kind == kind;
    for (int q = 0; same && q < t->ndim; q++)
        if (k->shape[q] != t->shape[q]) {
            if (kind == MAP_FLAT || t->ndim > 2)
                same = 0;
            else if (t->shape[q] > k->shape[q])
                k->shape[q] = t->shape[q];
        }
    if (!same)
        return ameir_fail(AMEIR_ECONFIG, "supernet: candidates give the shared tensor %s different shapes", name);
    return 0;
}

/* Where path tensor t of arch a sits in shared tensor s. */
static int build_map(ameir_supernet *sn, const ameir_arch *a, const ameir_tensor *t, int pt, const ameir_tensor *s,
                     int st, int kind, path_map *m, col_run *runs) {
    m->st = st;
    m->pt = pt;
    m->runs = runs;
    if (kind == MAP_FLAT) {
        m->rows = 1;
        m->pcols = m->scols = (int)t->size;
        m->nruns = 1;
        runs[0] = (col_run){0, 0, (int)t->size};
        return 0;
    }
    m->rows = (int)t->shape[0];
    m->pcols = t->ndim == 2 ? (int)t->shape[1] : 1;
    m->scols = s->ndim == 2 ? (int)s->shape[1] : 1;
    if (kind == MAP_SLICE || t->ndim == 1) {
        m->nruns = 1;
        runs[0] = (col_run){0, 0, m->pcols};
        return 0;
    }
    /* the MLP input: fields (and behaviour) first, then the path's groups at their slots */
    int d = sn->d, base = (sn->F + sn->has_seq) * d;
    m->nruns = 1;
    runs[0] = (col_run){0, 0, base};
    for (int q = 0; q < a->n_interactions; q++) {
        int slot = group_slot(sn, &a->interactions[q], 0);
        AMEIR_ASSERT(slot >= 0);
        runs[m->nruns++] = (col_run){base + q * d, base + slot * d, d};
    }
    AMEIR_ASSERT(base + a->n_interactions * d == m->pcols);
    return 0;
}

/* Copy between a path tensor and its place in the shared tensor; dir 0: shared -> path. */
static void map_copy(const path_map *m, float *pt, float *st, int dir) {
    for (int r = 0; r < m->rows; r++)
        for (int k = 0; k < m->nruns; k++) {
            float *p = pt + (size_t)r * m->pcols + m->runs[k].pc, *s = st + (size_t)r * m->scols + m->runs[k].sc;
            size_t len = (size_t)m->runs[k].len * sizeof(float);
            if (dir == 0)
                memcpy(p, s, len);
            else
                memcpy(s, p, len);
        }
}

/* Shared weights no earlier candidate uses take this candidate's initial values. */
static void map_init(const path_map *m, const float *pt, float *st, uint8_t *covered) {
    for (int r = 0; r < m->rows; r++)
        for (int k = 0; k < m->nruns; k++)
            for (int c = 0; c < m->runs[k].len; c++) {
                size_t si = (size_t)r * m->scols + m->runs[k].sc + c;
                if (!covered[si]) {
                    covered[si] = 1;
                    st[si] = pt[(size_t)r * m->pcols + m->runs[k].pc + c];
                }
            }
}

/* The path net's parameter blocks point into the staging block. */
static void alias(ameir_supernet *sn, ameir_net *net) {
    ameir_params *p = &net->params;
    p->data = sn->stage[0];
    p->grad = sn->stage[1];
    p->m = sn->stage[2];
    p->v = sn->stage[3];
}

static void unalias(ameir_net *net) {
    ameir_params *p = &net->params;
    p->data = p->grad = p->m = p->v = NULL;
}

void ameir_supernet_free(ameir_supernet *sn) {
    if (!sn)
        return;
    for (int i = 0; i < sn->n; i++) {
        path *ph = &sn->paths[i];
        if (ph->net) {
            if (ph->net->params.data == sn->stage[0])
                unalias(ph->net);
            ameir_net_free(ph->net);
        }
        free(ph->maps);
        free(ph->runs);
    }
    free(sn->paths);
    free(sn->act_f);
    free(sn->act_i);
    free(sn->act_b);
    ameir_params_destroy(&sn->shared);
    sn->emb.data = sn->emb.grad = sn->emb.m = sn->emb.v = NULL;
    ameir_params_destroy(&sn->emb);
    for (int k = 0; k < 4; k++)
        free(sn->stage[k]);
    free(sn);
}

/* Pass 1 for one candidate: its net, its groups, its shared keys (its initial weights come
 * in pass 2: held for every candidate at once they took 2.3 GB for 480 MLP candidates). */
static int read_candidate(ameir_supernet *sn, int i, const ameir_arch *a, const ameir_schema *schema, int max_batch,
                          uint64_t seed, shared_key *keys, int *nkeys) {
    path *ph = &sn->paths[i];
    AMEIR_TRY(ameir_net_create_unbuffered_(&ph->net, a, schema, sn->d, max_batch, seed));
    ameir_net *net = ph->net;
    ameir_params *p = &net->params;
    if (i == 0) {
        sn->E = net->dense_begin;
        sn->F = net->F;
        sn->has_seq = net->has_seq;
        ameir_params_init(&sn->emb);
        for (int t = 0; t < p->n && p->tensors[t].flags == AMEIR_TENSOR_ROWS; t++)
            AMEIR_TRY(ameir_params_add(&sn->emb, p->tensors[t].name, p->tensors[t].ndim, p->tensors[t].shape,
                                       AMEIR_TENSOR_ROWS));
    }
    if (net->dense_begin != sn->E)
        return ameir_fail(AMEIR_ECONFIG, "supernet: candidate %d lays out the embeddings differently", i);
    for (int q = 0; q < a->n_interactions; q++)
        AMEIR_TRY(group_slot(sn, &a->interactions[q], 1));
    int nmaps = 0;
    for (int t = 0; t < p->n; t++) {
        if (p->tensors[t].offset < net->dense_begin)
            continue;
        char name[AMEIR_TENSOR_NAME_MAX];
        int kind;
        AMEIR_TRY(shared_name(a, p->tensors[t].name, name, sizeof name, &kind));
        AMEIR_TRY(note_key(keys, nkeys, name, kind, &p->tensors[t]));
        nmaps++;
    }
    ph->nmaps = nmaps;
    if (sn->max_dense < 0 || net->dense_size > sn->paths[sn->max_dense].net->dense_size)
        sn->max_dense = i;
    if (i == 0) { /* the embedding tables: the same initial values in every candidate */
        sn->stage_size = sn->E; /* grown once every candidate was read */
        sn->stage[0] = malloc(sizeof(float) * (sn->E ? sn->E : 1));
        if (!sn->stage[0])
            return ameir_fail(AMEIR_ENOMEM, "supernet: embeddings");
        memcpy(sn->stage[0], p->data, sizeof(float) * sn->E);
    }
    /* it has no activation buffers: it will borrow the supernet's */
    for (int k = 0; k < 3; k++)
        if (net->act_need[k] > sn->act_need[k])
            sn->act_need[k] = net->act_need[k];
    /* the net's own blocks are not needed: it will compute on the staging block */
    free(p->data);
    free(p->grad);
    free(p->m);
    free(p->v);
    unalias(net);
    return 0;
}

int ameir_supernet_create(ameir_supernet **out, const ameir_arch *cands, int n, const ameir_schema *schema, int d,
                          int max_batch, uint64_t seed) {
    *out = NULL;
    if (n < 1)
        return ameir_fail(AMEIR_EINVAL, "supernet: no candidates");
    ameir_supernet *sn = calloc(1, sizeof *sn);
    if (!sn)
        return ameir_fail(AMEIR_ENOMEM, "supernet");
    sn->n = n;
    sn->d = d;
    sn->max_dense = -1;
    ameir_params_init(&sn->shared);
    sn->paths = calloc((size_t)n, sizeof *sn->paths);
    int cap = 0, nkeys = 0, rc = 0;
    for (int i = 0; i < n; i++)
        cap += 4 * AMEIR_MAX_BLOCKS + 2 * AMEIR_MAX_MLP + 16;
    shared_key *keys = calloc((size_t)cap, sizeof *keys);
    uint8_t *covered = NULL;
    if (!sn->paths || !keys) {
        rc = ameir_fail(AMEIR_ENOMEM, "supernet of %d candidates", n);
        goto done;
    }
    for (int i = 0; i < n && rc == 0; i++)
        rc = read_candidate(sn, i, &cands[i], schema, max_batch, seed, keys, &nkeys);
    if (rc < 0)
        goto done;
    /* the shared tensors, the MLP input's at the width of every column block */
    for (int k = 0; k < nkeys && rc >= 0; k++) {
        if (keys[k].kind == MAP_INPUT && keys[k].ndim == 2)
            keys[k].shape[1] = (int64_t)(sn->F + sn->has_seq + sn->n_groups) * d;
        rc = ameir_params_add(&sn->shared, keys[k].name, keys[k].ndim, keys[k].shape, AMEIR_TENSOR_DENSE);
    }
    if (rc < 0 || (rc = ameir_params_alloc(&sn->shared)) < 0)
        goto done;
    sn->act_f = calloc(sn->act_need[0] ? sn->act_need[0] : 1, sizeof(float));
    sn->act_i = calloc(sn->act_need[1] ? sn->act_need[1] : 1, sizeof(int32_t));
    sn->act_b = calloc(sn->act_need[2] ? sn->act_need[2] : 1, 1);
    if (!sn->act_f || !sn->act_i || !sn->act_b) {
        rc = ameir_fail(AMEIR_ENOMEM, "supernet: activation buffers of %zu floats", sn->act_need[0]);
        goto done;
    }
    for (int i = 0; i < n; i++)
        ameir_net_borrow_buffers_(sn->paths[i].net, sn->act_f, sn->act_i, sn->act_b);
    sn->stage_size = sn->E + sn->paths[sn->max_dense].net->dense_size;
    float *emb0 = sn->stage[0];
    sn->stage[0] = NULL;
    for (int k = 0; k < 4; k++)
        sn->stage[k] = calloc(sn->stage_size ? sn->stage_size : 1, sizeof(float));
    if (sn->stage[0])
        memcpy(sn->stage[0], emb0, sizeof(float) * sn->E);
    free(emb0);
    covered = calloc(sn->shared.total ? sn->shared.total : 1, 1);
    if (!sn->stage[0] || !sn->stage[1] || !sn->stage[2] || !sn->stage[3] || !covered) {
        rc = ameir_fail(AMEIR_ENOMEM, "supernet: %zu shared floats", sn->shared.total);
        goto done;
    }
    sn->emb.data = sn->stage[0];
    sn->emb.grad = sn->stage[1];
    sn->emb.m = sn->stage[2];
    sn->emb.v = sn->stage[3];
    /* pass 2: maps, and the shared weights' initial values, from the candidate's net built
     * once more (with the same seed) and freed at once: one candidate's weights at a time,
     * allocated after the maps, so the heap does not grow with the candidates */
    for (int i = 0; i < n && rc == 0; i++) {
        path *ph = &sn->paths[i];
        ameir_params *p = &ph->net->params;
        ameir_net *own = NULL;
        ph->maps = calloc((size_t)(ph->nmaps ? ph->nmaps : 1), sizeof *ph->maps);
        ph->runs = calloc((size_t)ph->nmaps * (1 + AMEIR_MAX_INTERACTIONS) + 1, sizeof *ph->runs);
        if (!ph->maps || !ph->runs) {
            rc = ameir_fail(AMEIR_ENOMEM, "supernet: maps of candidate %d", i);
            break;
        }
        if ((rc = ameir_net_create_unbuffered_(&own, &cands[i], schema, d, max_batch, seed)) < 0)
            break;
        const float *init = own->params.data + sn->E;
        col_run *runs = ph->runs;
        int m = 0;
        for (int t = 0; t < p->n; t++) {
            if (p->tensors[t].offset < sn->E)
                continue;
            char name[AMEIR_TENSOR_NAME_MAX];
            int kind;
            shared_name(&cands[i], p->tensors[t].name, name, sizeof name, &kind);
            int st = ameir_params_find(&sn->shared, name);
            AMEIR_ASSERT(st >= 0);
            build_map(sn, &cands[i], &p->tensors[t], t, &sn->shared.tensors[st], st, kind, &ph->maps[m], runs);
            runs += ph->maps[m].nruns;
            /* covered is indexed over the whole shared block, as the tensors lie in it */
            map_init(&ph->maps[m], init + (p->tensors[t].offset - sn->E), sn->shared.data + sn->shared.tensors[st].offset,
                     covered + sn->shared.tensors[st].offset);
            m++;
        }
        ameir_net_free(own);
        alias(sn, ph->net);
    }
done:
    free(keys);
    free(covered);
    if (rc < 0) {
        ameir_supernet_free(sn);
        return rc;
    }
    *out = sn;
    return 0;
}

int ameir_supernet_candidates(const ameir_supernet *sn) { return sn->n; }
int64_t ameir_supernet_step(const ameir_supernet *sn) { return sn->shared.step; }

int64_t ameir_supernet_param_count(const ameir_supernet *sn) {
    int64_t c = 0;
    for (int i = 0; i < sn->shared.n; i++)
        c += (int64_t)sn->shared.tensors[i].size;
    for (int i = 0; i < sn->emb.n; i++)
        c += (int64_t)sn->emb.tensors[i].size;
    return c;
}

/* Path k's dense tensors from the shared ones (weights; with the moments when moments). */
static void gather(ameir_supernet *sn, int k, int moments) {
    path *ph = &sn->paths[k];
    ameir_params *p = &ph->net->params;
    for (int b = 0; b < (moments ? 3 : 1); b++) {
        float *pb = b == 0 ? p->data : b == 1 ? p->m : p->v;
        float *sb = b == 0 ? sn->shared.data : b == 1 ? sn->shared.m : sn->shared.v;
        for (int i = 0; i < ph->nmaps; i++) {
            const path_map *m = &ph->maps[i];
            map_copy(m, pb + p->tensors[m->pt].offset, sb + sn->shared.tensors[m->st].offset, 0);
        }
    }
    p->step = sn->shared.step;
}

static void scatter(ameir_supernet *sn, int k) {
    path *ph = &sn->paths[k];
    ameir_params *p = &ph->net->params;
    for (int b = 0; b < 3; b++) {
        float *pb = b == 0 ? p->data : b == 1 ? p->m : p->v;
        float *sb = b == 0 ? sn->shared.data : b == 1 ? sn->shared.m : sn->shared.v;
        for (int i = 0; i < ph->nmaps; i++) {
            const path_map *m = &ph->maps[i];
            map_copy(m, pb + p->tensors[m->pt].offset, sb + sn->shared.tensors[m->st].offset, 1);
        }
    }
    sn->shared.step = p->step;
}

/* The embedding gradient is shared scratch: the rows a path touched go back to zero. */
static void clear_touched(ameir_supernet *sn, ameir_net *net) {
    for (int f = 0; f < net->F; f++) {
        net_field *nf = &net->fields[f];
        float *g = sn->stage[1] + net->params.tensors[nf->tensor].offset;
        for (int r = 0; r < nf->nrows; r++)
            memset(g + (size_t)nf->rows[r] * sn->d, 0, sizeof(float) * (size_t)sn->d);
        nf->nrows = 0;
    }
}

/* Test builds (-Dtest_hooks=true) fill the lent buffers with ones bits (NaN floats, -1
 * ints) before a path runs, so that a path reading what another left behind fails
 * test_supernet's comparison with a standalone net. Only the touched-row flags (the first
 * byte block) keep their zeros: every step leaves them zero, by their contract. */
static void poison_buffers(ameir_supernet *sn, const ameir_net *net) {
#ifdef AMEIR_TEST_HOOKS
    size_t flags = 0;
    for (int f = 0; f < net->F; f++)
        if ((size_t)net->fields[f].vocab > flags)
            flags = (size_t)net->fields[f].vocab;
    flags = (flags + 63) & ~(size_t)63;
    memset(sn->act_f, 0xff, sn->act_need[0] * sizeof(float));
    memset(sn->act_i, 0xff, sn->act_need[1] * sizeof(int32_t));
    if (sn->act_need[2] > flags)
        memset(sn->act_b + flags, 0xff, sn->act_need[2] - flags);
#else
    (void)sn, (void)net;
#endif
}

int ameir_supernet_path_at(uint64_t seed, int64_t s, const int *alive, int n_alive) {
    ameir_rng r = ameir_rng_stream(seed ^ AMEIR_SUPERNET_STREAM, (uint64_t)s);
    return alive[ameir_rng_below(&r, (uint64_t)n_alive)];
}

int ameir_supernet_train(ameir_supernet *sn, const ameir_split *train, const ameir_train_config *c, const int *alive,
                         int n_alive, int64_t target_steps, double *last_loss) {
    if (n_alive < 1)
        return ameir_fail(AMEIR_EINVAL, "supernet: no candidate alive to train");
    for (int i = 0; i < n_alive; i++)
        if (alive[i] < 0 || alive[i] >= sn->n)
            return ameir_fail(AMEIR_EINVAL, "supernet: candidate %d out of range (%d candidates)", alive[i], sn->n);
    ameir_feed feed;
    ameir_shard_ws *shards = NULL;
    ameir_net *widest = sn->paths[sn->max_dense].net;
    AMEIR_TRY(ameir_feed_init_(&feed, ameir_net_schema(widest), ameir_net_max_batch(widest), train, c));
    int rc = c->shards > 0 ? ameir_shards_init_(&shards, widest, c) : 0;
    for (int64_t s = sn->shared.step; rc == 0 && s < target_steps; s++) {
        int k = ameir_supernet_path_at(c->seed, s, alive, n_alive);
        ameir_net *net = sn->paths[k].net;
        ameir_rng drop = ameir_feed_fill_(&feed, train, c, s);
        gather(sn, k, 1);
        poison_buffers(sn, net);
        float loss = ameir_net_step_grad_(net, shards, &feed.batch, &c->opt, &drop, &rc);
        if (rc < 0)
            break;
        if (last_loss)
            *last_loss = loss;
        if (!isfinite(loss)) {
            clear_touched(sn, net);
            rc = ameir_fail(AMEIR_EDIVERGED, "supernet: training loss became %s at step %lld on candidate %d",
                            isnan(loss) ? "NaN" : "infinite", (long long)s, k);
            break;
        }
        ameir_net_adam_step(net, &c->opt);
        scatter(sn, k);
        clear_touched(sn, net);
    }
    ameir_shards_free_(shards);
    ameir_feed_destroy_(&feed);
    return rc;
}

int ameir_supernet_score(ameir_supernet *sn, int k, const ameir_split *valid, ameir_metrics *out) {
    if (k < 0 || k >= sn->n)
        return ameir_fail(AMEIR_EINVAL, "supernet: candidate %d out of range (%d candidates)", k, sn->n);
    gather(sn, k, 0);
    poison_buffers(sn, sn->paths[k].net);
    return ameir_evaluate(sn->paths[k].net, valid, out);
}

int ameir_supernet_export(ameir_supernet *sn, int k, ameir_net *net) {
    if (k < 0 || k >= sn->n)
        return ameir_fail(AMEIR_EINVAL, "supernet: candidate %d out of range (%d candidates)", k, sn->n);
    ameir_net *pn = sn->paths[k].net;
    if (!ameir_arch_equal(&pn->arch, &net->arch) || net->params.total != pn->params.total || net->d != pn->d)
        return ameir_fail(AMEIR_EINVAL, "supernet: the net is not candidate %d's architecture", k);
    gather(sn, k, 1);
    ameir_params *p = &net->params;
    for (int b = 0; b < 3; b++) {
        const float *src = b == 0 ? pn->params.data : b == 1 ? pn->params.m : pn->params.v;
        float *dst = b == 0 ? p->data : b == 1 ? p->m : p->v;
        memcpy(dst, src, sizeof(float) * p->total);
    }
    p->step = sn->shared.step;
    for (int f = 0; f < net->F; f++)
        net->fields[f].nrows = 0;
    ameir_params_zero_grad(p);
    return 0;
}

static int with_group(hid_t parent, const char *name, int create, hid_t *g) {
    *g = create ? H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : H5Gopen2(parent, name, H5P_DEFAULT);
    if (*g < 0)
        return ameir_fail(AMEIR_EHDF5, "supernet: cannot %s the group %s", create ? "create" : "open", name);
    return 0;
}

int ameir_supernet_save(const ameir_supernet *sn, hid_t group) {
    hid_t g;
    AMEIR_TRY(with_group(group, "embeddings", 1, &g));
    int rc = ameir_params_save_(&sn->emb, g);
    H5Gclose(g);
    AMEIR_TRY(rc);
    AMEIR_TRY(with_group(group, "shared", 1, &g));
    rc = ameir_params_save_(&sn->shared, g);
    H5Gclose(g);
    return rc;
}

int ameir_supernet_load(ameir_supernet *sn, hid_t group) {
    hid_t g;
    AMEIR_TRY(with_group(group, "embeddings", 0, &g));
    int64_t step = sn->shared.step;
    int rc = ameir_params_load_(&sn->emb, g);
    H5Gclose(g);
    AMEIR_TRY(rc);
    AMEIR_TRY(with_group(group, "shared", 0, &g));
    rc = ameir_params_load_(&sn->shared, g);
    H5Gclose(g);
    if (rc < 0)
        sn->shared.step = step;
    return rc;
}
