/* The sorted prep (histories, the seq task) over several ranks. Pass 1 ran on each rank's
 * slice of the input (stream.c, stream_ranks.c); then:
 *  1. rank 0 merges the users in rank order (global ids in order of first appearance); the
 *     ids are cut into `size` equal ranges and rank k owns range k, so that every event of a
 *     user meets on one rank;
 *  2. the splits: random and by files as alone; by time, each rank sorts its own (time, row)
 *     and rank 0 merges these runs to find the first valid and the first test event, which
 *     every rank compares its events with; leave-one-out, the owners sort their users'
 *     events and send each event's split (and the mark of a user's first) back to the rank
 *     that read it;
 *  3. counts, then the vocabularies merged and ids assigned (stream_merge_ranks);
 *  4. (stream_seq.c) each event's ids go to its user's owner, which sorts them by user and
 *     time: ctr histories go back to the rank that read the row, to be written beside its
 *     rows in file order; seq rows are written by the owners, user by user.
 * Each rank writes its rows to parts and the shards are cut from the parts in rank order
 * (stream_shards_ranks): ctr rows in file order (the slices in rank order), seq rows in user
 * order (the owners' ranges in rank order), so the bytes are those of the prep alone.
 * Records go between ranks through files (stream_route.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "stream_internal.h"

int stream_owner_of_user(const stream *st, int64_t user) {
    return st->n_users > 0 ? (int)(user * st->size / st->n_users) : 0;
}

int stream_rank_of_row(const stream *st, int64_t row) {
    int lo = 0, hi = st->size - 1; /* the last rank whose rows start at or before row */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (st->rank_row0[mid] <= row)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

int stream_route_by_user(void *ctx, const void *rec) {
    stream_router *o = ctx;
    int64_t user;
    memcpy(&user, rec, sizeof user); /* an event's key begins with its user */
    return route_put(&o->rt, stream_owner_of_user(o->st, user), rec);
}

int stream_route_by_row(void *ctx, const void *rec) {
    stream_router *o = ctx;
    int64_t row;
    memcpy(&row, rec, sizeof row); /* a history or split record begins with its row */
    return route_put(&o->rt, stream_rank_of_row(o->st, row), rec);
}

/* The first row of every rank (and the total after the last). */
static int rank_rows(stream *st) {
    const ameir_prep_peers *p = st->peers;
    int64_t *all = malloc((size_t)st->size * sizeof *all);
    st->rank_row0 = malloc(((size_t)st->size + 1) * sizeof *st->rank_row0);
    if (!all || !st->rank_row0) {
        free(all);
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    }
    int rc = p->allgather_i64(p->ctx, &st->n_rows, 1, all);
    st->rank_row0[0] = 0;
    for (int r = 0; r < st->size; r++)
        st->rank_row0[r + 1] = st->rank_row0[r] + (rc >= 0 ? all[r] : 0);
    free(all);
    return rc;
}

/* fn with the key (global user, time, global row) of each of this rank's events, from the spill. */
static int each_key(stream *st, int (*fn)(void *ctx, const prep_event_key *k, int64_t r), void *ctx) {
    spilled_row *row = malloc(sizeof *row);
    int rc = row ? stream_spill_rewind(st) : ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (int64_t r = 0; r < st->n_rows && rc >= 0; r++) {
        if ((rc = stream_read_spilled(st, row)) < 0)
            break;
        prep_event_key k = {row->user, row->time, st->row_base + r};
        rc = fn(ctx, &k, r);
    }
    free(row);
    return rc;
}

/* ---- by time ---- */

typedef struct time_cut {
    prep_event_key at[2]; /* the first valid and the first test event in (time, row) order */
    int64_t has[2];
    int64_t i, n0, n1;
} time_cut;

static int add_time(void *ctx, const prep_event_key *k, int64_t r) {
    (void)r;
    prep_event_key t = {0, k->time, k->row};
    return xsort_add(ctx, &t);
}

/* Rank 0, over the merged runs: the events at indexes n0 and n0 + n1. */
static int find_cut(void *ctx, const void *rec) {
    time_cut *tc = ctx;
    for (int j = 0; j < 2; j++)
        if (tc->i == (j ? tc->n0 + tc->n1 : tc->n0)) {
            memcpy(&tc->at[j], rec, sizeof tc->at[j]);
            tc->has[j] = 1;
        }
    tc->i++;
    return 0;
}

typedef struct time_set {
    stream *st;
    const time_cut *tc;
} time_set;

static int set_time(void *ctx, const prep_event_key *k, int64_t r) {
    const time_set *ts = ctx;
    const time_cut *tc = ts->tc;
    int sp = tc->has[0] && prep_cmp_time_row(k, &tc->at[0]) >= 0 ? 1 : 0;
    if (sp && tc->has[1] && prep_cmp_time_row(k, &tc->at[1]) >= 0)
        sp = 2;
    ts->st->split[r] = (int8_t)sp;
    return 0;
}

static int time_split(stream *st, const prep_dir *d) {
    const ameir_prep_peers *p = st->peers;
    const dcfg *c = st->c;
    int64_t n = st->rank_row0[st->size];
    time_cut tc = {.n0 = (int64_t)floor(c->fractions[0] * (double)n), .n1 = (int64_t)floor(c->fractions[1] * (double)n)};
    xsort by_time;
    route rt;
    memset(&rt, 0, sizeof rt);
    int rc = stream_sort_init(st, &by_time, sizeof(prep_event_key), prep_cmp_time_row, d, "time");
    if (rc >= 0)
        rc = each_key(st, add_time, &by_time);
    if (rc >= 0)
        rc = xsort_done(&by_time);
    if (rc >= 0)
        rc = route_open(&rt, st, d->tmp, "time", sizeof(prep_event_key));
    prep_event_key k;
    int got = 0;
    while (rc >= 0 && (got = xsort_next(&by_time, &k)) > 0) /* this rank's run, in order, to rank 0 */
        rc = route_put(&rt, 0, &k);
    if (rc >= 0 && got < 0)
        rc = got;
    xsort_free(&by_time);
    int sent = route_send(&rt);
    rc = prep_agree(p, rc >= 0 ? sent : rc);
    if (rc >= 0) /* rank 0 merges the runs; the others' files are empty */
        rc = route_recv_merged(&rt, prep_cmp_time_row, find_cut, &tc);
    route_free(&rt);
    rc = prep_agree(p, rc);
    if (rc >= 0)
        rc = p->bcast(p->ctx, &tc, sizeof tc);
    time_set ts = {st, &tc};
    if (rc >= 0)
        rc = each_key(st, set_time, &ts);
    return prep_agree(p, rc);
}

/* ---- leave-one-out ---- */

static int route_key(void *ctx, const prep_event_key *k, int64_t r) {
    (void)r;
    return stream_route_by_user(ctx, k);
}

/* A split record: row, then its split byte. */
typedef struct split_rec {
    int64_t row, split;
} split_rec;

/* An owner, one user's events: each event's split back to the rank that read it. */
static int loo_user(void *ctx, const prep_event_key *k, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        split_rec s = {k[i].row, stream_loo_split(i, n) | (i == 0 ? FIRST_OF_USER : 0)};
        AMEIR_TRY(stream_route_by_row(ctx, &s));
    }
    return 0;
}

static int take_split(void *ctx, const void *rec) {
    stream *st = ctx;
    split_rec s;
    memcpy(&s, rec, sizeof s);
    if (s.row < st->row_base || s.row >= st->row_base + st->n_rows)
        return ameir_fail(AMEIR_EINTERNAL, "split of row %lld sent to rank %d", (long long)s.row, st->rank);
    st->split[s.row - st->row_base] = (int8_t)s.split;
    return 0;
}

static int loo_split(stream *st, const prep_dir *d) {
    const ameir_prep_peers *p = st->peers;
    stream_router keys = {.st = st}, back = {.st = st};
    xsort by_user;
    memset(&by_user, 0, sizeof by_user);
    int rc = route_open(&keys.rt, st, d->tmp, "users", sizeof(prep_event_key));
    if (rc >= 0)
        rc = each_key(st, route_key, &keys);
    int sent = route_send(&keys.rt);
    rc = prep_agree(p, rc >= 0 ? sent : rc);
    if (rc >= 0)
        rc = stream_sort_init(st, &by_user, sizeof(prep_event_key), prep_cmp_user_time, d, "user");
    if (rc >= 0)
        rc = route_recv(&keys.rt, stream_to_sort, &by_user);
    route_free(&keys.rt);
    if (rc >= 0)
        rc = xsort_done(&by_user);
    if (rc >= 0)
        rc = route_open(&back.rt, st, d->tmp, "split", sizeof(split_rec));
    if (rc >= 0)
        rc = stream_each_user(&by_user, loo_user, &back);
    xsort_free(&by_user);
    sent = route_send(&back.rt);
    rc = prep_agree(p, rc >= 0 ? sent : rc);
    if (rc >= 0)
        rc = route_recv(&back.rt, take_split, st);
    route_free(&back.rt);
    return prep_agree(p, rc);
}

int stream_seq_split_ranks(stream *st, const prep_dir *d) {
    const dcfg *c = st->c;
    int rc = prep_agree(st->peers, rank_rows(st));
    if (rc >= 0)
        rc = stream_merge_users(st);
    if (rc >= 0)
        rc = prep_agree(st->peers, stream_seq_split_init(st, st->rank_row0[st->size]));
    if (rc >= 0 && c->split == DSPLIT_TIME)
        rc = time_split(st, d);
    if (rc >= 0 && c->split == DSPLIT_LOO)
        rc = loo_split(st, d);
    return rc;
}

int stream_gather_written(stream *st) {
    const ameir_prep_peers *p = st->peers;
    int64_t *all = malloc((size_t)st->size * 3 * sizeof *all);
    if (!all)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    int rc = p->allgather_i64(p->ctx, st->written, 3, all);
    if (rc >= 0)
        memcpy(st->split_rows, all, (size_t)st->size * 3 * sizeof *all);
    free(all);
    return rc;
}
