/* Typed, versioned messages over MPI point-to-point, the payload packer, and the payloads
 * of tasks and results. No search logic: what a task means is the controller's business. */
#include "ameir/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ameir_msg_type_name(int type) {
    switch (type) {
    case AMEIR_MSG_REQUEST:
        return "request";
    case AMEIR_MSG_TASK:
        return "task";
    case AMEIR_MSG_RESULT:
        return "result";
    case AMEIR_MSG_STOP:
        return "stop";
    case AMEIR_MSG_BYE:
        return "bye";
    case AMEIR_MSG_INTERRUPTED:
        return "interrupted";
    case AMEIR_MSG_JOIN:
        return "join";
    case AMEIR_MSG_GROW:
        return "grow";
    }
    return "unknown";
}

int ameir_mpi_fail(int code, const char *file, int line, const char *call) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int n = 0;
    if (MPI_Error_string(code, text, &n) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error code %d", code);
    return ameir_fail(AMEIR_EMPI, "%s:%d: %s failed: %s", file, line, call, text);
}

/* --- messages ----------------------------------------------------------------------- */

void ameir_msg_init(ameir_msg *m) { memset(m, 0, sizeof *m); }

void ameir_msg_destroy(ameir_msg *m) {
    free(m->buf);
    memset(m, 0, sizeof *m);
}

/* Header + payload in one malloc'd buffer *out of *total bytes. */
static int msg_frame(int type, const void *payload, size_t len, unsigned char **out, size_t *total) {
    if (len > AMEIR_MSG_MAX_PAYLOAD)
        return ameir_fail(AMEIR_EINVAL, "protocol: %s message of %zu bytes exceeds the limit of %u", ameir_msg_type_name(type), len,
                          AMEIR_MSG_MAX_PAYLOAD);
    *total = sizeof(ameir_msg_header) + len;
    unsigned char *buf = malloc(*total);
    if (!buf)
        return ameir_fail(AMEIR_ENOMEM, "protocol: no memory for a %zu-byte message", *total);
    ameir_msg_header h = {AMEIR_MSG_MAGIC, AMEIR_MSG_VERSION, (uint32_t)type, (uint32_t)len};
    memcpy(buf, &h, sizeof h);
    if (len)
        memcpy(buf + sizeof h, payload, len);
    *out = buf;
    return 0;
}

int ameir_msg_send(MPI_Comm comm, int dest, int type, const void *payload, size_t len) {
    size_t total = 0;
    unsigned char *buf = NULL;
    AMEIR_TRY(msg_frame(type, payload, len, &buf, &total));
    int rc = MPI_Send(buf, (int)total, MPI_BYTE, dest, AMEIR_MSG_TAG, comm);
    free(buf);
    if (rc != MPI_SUCCESS)
        return ameir_mpi_fail(rc, __FILE__, __LINE__, "MPI_Send(message)");
    return 0;
}

void ameir_outbox_init(ameir_outbox *ob) {
    ob->req = MPI_REQUEST_NULL;
    ob->buf = NULL;
}

int ameir_msg_post(MPI_Comm comm, int dest, int type, const void *payload, size_t len, ameir_outbox *ob) {
    int rc;
    if (ob->req != MPI_REQUEST_NULL && (rc = MPI_Wait(&ob->req, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
        return ameir_mpi_fail(rc, __FILE__, __LINE__, "MPI_Wait(posted message)");
    free(ob->buf);
    ob->buf = NULL;
    size_t total = 0;
    unsigned char *buf = NULL;
    AMEIR_TRY(msg_frame(type, payload, len, &buf, &total));
    if ((rc = MPI_Isend(buf, (int)total, MPI_BYTE, dest, AMEIR_MSG_TAG, comm, &ob->req)) != MPI_SUCCESS) {
        free(buf);
        return ameir_mpi_fail(rc, __FILE__, __LINE__, "MPI_Isend(message)");
    }
    ob->buf = buf;
    return 0;
}

void ameir_outbox_destroy(ameir_outbox *ob) {
    int done = 1;
    if (ob->req != MPI_REQUEST_NULL && MPI_Test(&ob->req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        done = 0;
    if (done)
        free(ob->buf);
    ob->buf = NULL;
}

/* Check a received buffer's header against what a well-formed message must be. */
static int check_header(const ameir_msg *m, int count) {
    ameir_msg_header h;
    if ((size_t)count < sizeof h)
        return ameir_fail(AMEIR_EINVAL, "protocol error from rank %d: message of %d bytes is shorter than the %zu-byte header",
                          m->source, count, sizeof h);
    memcpy(&h, m->buf, sizeof h);
    if (h.magic != AMEIR_MSG_MAGIC)
        return ameir_fail(AMEIR_EINVAL, "protocol error from rank %d: bad magic 0x%08x, expected 0x%08x", m->source,
                          (unsigned)h.magic, AMEIR_MSG_MAGIC);
    if (h.version != AMEIR_MSG_VERSION)
        return ameir_fail(AMEIR_EINVAL,
                          "protocol error from rank %d: message version %u, expected %u (are all ranks the same ameir build?)",
                          m->source, (unsigned)h.version, AMEIR_MSG_VERSION);
    if (h.type < AMEIR_MSG_REQUEST || h.type > AMEIR_MSG_GROW)
        return ameir_fail(AMEIR_EINVAL, "protocol error from rank %d: unknown message type %u", m->source, (unsigned)h.type);
    if ((size_t)h.length != (size_t)count - sizeof h)
        return ameir_fail(AMEIR_EINVAL, "protocol error from rank %d: %s header says %u payload bytes, received %zu", m->source,
                          ameir_msg_type_name((int)h.type), (unsigned)h.length, (size_t)count - sizeof h);
    return 0;
}

int ameir_msg_poll(MPI_Comm comm, int source, ameir_msg *m, int *got) {
    int flag = 0, count = 0, rc = 0;
    MPI_Status st;
    *got = 0;
    AMEIR_MPI_CHECK(MPI_Iprobe(source, AMEIR_MSG_TAG, comm, &flag, &st), rc, fail);
    if (!flag)
        return 0;
    AMEIR_MPI_CHECK(MPI_Get_count(&st, MPI_BYTE, &count), rc, fail);
    if (count < 0 || (size_t)count > sizeof(ameir_msg_header) + AMEIR_MSG_MAX_PAYLOAD)
        return ameir_fail(AMEIR_EINVAL, "protocol error from rank %d: message of %d bytes", st.MPI_SOURCE, count);
    size_t need = count > 0 ? (size_t)count : 1;
    if (need > m->cap) {
        unsigned char *b = realloc(m->buf, need);
        if (!b)
            return ameir_fail(AMEIR_ENOMEM, "protocol: no memory for a %d-byte message", count);
        m->buf = b;
        m->cap = need;
    }
    /* receive exactly the probed message: same source and tag, nothing else can match first
     * because only this thread receives on comm */
    AMEIR_MPI_CHECK(MPI_Recv(m->buf, count, MPI_BYTE, st.MPI_SOURCE, AMEIR_MSG_TAG, comm, MPI_STATUS_IGNORE), rc, fail);
    m->source = st.MPI_SOURCE;
    AMEIR_TRY(check_header(m, count));
    ameir_msg_header h;
    memcpy(&h, m->buf, sizeof h);
    m->type = (int)h.type;
    m->length = h.length;
    *got = 1;
    return 0;
fail:
    return rc;
}

int ameir_msg_wait(MPI_Comm comm, int source, ameir_msg *m, int *got, volatile sig_atomic_t *flag, double timeout) {
    double start = MPI_Wtime();
    *got = 0;
    for (;;) {
        AMEIR_TRY(ameir_msg_poll(comm, source, m, got));
        if (*got)
            return 0;
        if (flag && *flag)
            return 0;
        if (timeout >= 0 && MPI_Wtime() - start >= timeout)
            return 0;
        ameir_sleep_ms(1);
    }
}

/* --- task and result payloads -------------------------------------------------------- */

/* An arch field by field: only the blocks, groups and layers it has, so that a one-shot
 * task carrying hundreds of candidates is about 1 KB a candidate instead of the struct's
 * 16.8 KB (fixed arrays of interaction field names); counts are checked on the way in. */
static void pack_arch(ameir_pack *p, const ameir_arch *a) {
    ameir_pack_i64(p, a->n_blocks);
    for (int i = 0; i < a->n_blocks; i++) {
        const ameir_block *b = &a->blocks[i];
        ameir_pack_i64(p, b->norm), ameir_pack_i64(p, b->op), ameir_pack_i64(p, b->option), ameir_pack_i64(p, b->act);
    }
    ameir_pack_i64(p, a->aggregate);
    ameir_pack_i64(p, a->positions);
    ameir_pack_i64(p, a->n_interactions);
    for (int i = 0; i < a->n_interactions; i++) {
        ameir_pack_i64(p, a->interactions[i].order);
        for (int j = 0; j < a->interactions[i].order; j++)
            ameir_pack_str(p, a->interactions[i].fields[j]);
    }
    ameir_pack_i64(p, a->n_mlp);
    for (int i = 0; i < a->n_mlp; i++)
        ameir_pack_i64(p, a->mlp[i].units), ameir_pack_i64(p, a->mlp[i].act);
    ameir_pack_i64(p, a->shortcut);
}

/* A count read from u: 0 and u->failed set when outside [lo, hi], so nothing indexes past
 * the arrays and the caller reports the payload as malformed. */
static int unpack_count(ameir_unpack *u, int lo, int hi) {
    int64_t v = ameir_unpack_i64(u);
    if (v < lo || v > hi) {
        u->failed = 1;
        return 0;
    }
    return (int)v;
}

static int unpack_arch(ameir_unpack *u, ameir_arch *a, int64_t trial) {
    ameir_arch_init(a);
    a->n_blocks = unpack_count(u, 0, AMEIR_MAX_BLOCKS);
    for (int i = 0; i < a->n_blocks; i++) {
        ameir_block *b = &a->blocks[i];
        b->norm = (int)ameir_unpack_i64(u), b->op = (int)ameir_unpack_i64(u);
        b->option = (int)ameir_unpack_i64(u), b->act = (int)ameir_unpack_i64(u);
    }
    a->aggregate = (int)ameir_unpack_i64(u);
    a->positions = (int)ameir_unpack_i64(u);
    a->n_interactions = unpack_count(u, 0, AMEIR_MAX_INTERACTIONS);
    for (int i = 0; i < a->n_interactions && !u->failed; i++) {
        a->interactions[i].order = unpack_count(u, 2, AMEIR_MAX_ORDER);
        for (int j = 0; j < a->interactions[i].order; j++)
            ameir_unpack_str(u, a->interactions[i].fields[j], sizeof a->interactions[i].fields[j]);
    }
    a->n_mlp = unpack_count(u, 0, AMEIR_MAX_MLP);
    for (int i = 0; i < a->n_mlp; i++)
        a->mlp[i].units = (int)ameir_unpack_i64(u), a->mlp[i].act = (int)ameir_unpack_i64(u);
    a->shortcut = (int)ameir_unpack_i64(u);
    if (u->failed)
        return ameir_unpack_finish(u, "task");
    char origin[64];
    snprintf(origin, sizeof origin, "protocol error: task %lld", (long long)trial);
    if (ameir_arch_validate(a, origin) < 0) { /* the message is right; the code is a protocol error's */
        char why[512];
        snprintf(why, sizeof why, "%s", ameir_last_error());
        return ameir_fail(AMEIR_EINVAL, "%s", why);
    }
    return 0;
}

/* A group: its joining flag, size and ranks. */
static void pack_group(ameir_pack *p, const ameir_group *g) {
    ameir_pack_i64(p, g->joining);
    ameir_pack_i64(p, g->size);
    for (int i = 0; i < g->size && i < AMEIR_GROUP_MAX; i++)
        ameir_pack_i64(p, g->ranks[i]);
}

/* A group of `what`: 1 to AMEIR_GROUP_MAX distinct worker ranks, ascending unless ranks
 * joined it later (they come last, in the order they joined: a joining task's group, every
 * grow message's; min_size 0 lets an empty list say "too late" in a grow message). */
static int unpack_group(ameir_unpack *u, ameir_group *g, int min_size, const char *what, long long trial) {
    int grown = min_size == 0;
    int64_t joining = ameir_unpack_i64(u), n = ameir_unpack_i64(u);
    if (u->failed)
        return ameir_unpack_finish(u, what);
    if (n < min_size || n > AMEIR_GROUP_MAX || (joining != 0 && joining != 1))
        return ameir_fail(AMEIR_EINVAL, "protocol error: %s %lld for a group of %lld ranks (expected %d to %d), joining %lld", what,
                          trial, (long long)n, min_size, AMEIR_GROUP_MAX, (long long)joining);
    g->joining = (int)joining;
    g->size = (int)n;
    for (int i = 0; i < g->size; i++) {
        int64_t r = ameir_unpack_i64(u);
        if (u->failed)
            return ameir_unpack_finish(u, what);
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= g->ranks[j] == r;
        int ascending = !g->joining && !grown;
        if (r < 1 || r > INT32_MAX || seen || (ascending && i > 0 && r <= g->ranks[i - 1]))
            return ameir_fail(AMEIR_EINVAL, "protocol error: %s %lld: group rank %lld at %d is not a %s worker rank", what, trial,
                              (long long)r, i, ascending ? "distinct ascending" : "distinct");
        g->ranks[i] = (int)r;
    }
    return 0;
}

void ameir_pack_task(ameir_pack *p, const ameir_search_task *t, const ameir_group *g) {
    ameir_pack_i64(p, t->trial_id);
    ameir_pack_i64(p, t->stage);
    ameir_pack_i64(p, t->kind);
    ameir_pack_i64(p, t->rung);
    ameir_pack_i64(p, t->baseline);
    ameir_pack_i64(p, t->budget);
    ameir_pack_i64(p, t->valid_rows);
    ameir_pack_i64(p, t->eval_every);
    ameir_pack_i64(p, t->parent);
    ameir_pack_i64(p, (int64_t)t->seed);
    pack_arch(p, &t->arch);
    pack_group(p, g);
    ameir_pack_i64(p, t->candidate);
    ameir_pack_i64(p, t->n_cands);
    for (int i = 0; i < t->n_cands; i++)
        pack_arch(p, &t->cands[i]);
    ameir_pack_i64(p, t->n_alive);
    for (int i = 0; i < t->n_alive; i++)
        ameir_pack_i64(p, t->alive[i]);
}

void ameir_task_lists_free(ameir_task_lists *lists) {
    free(lists->cands);
    free(lists->alive);
    memset(lists, 0, sizeof *lists);
}

static int lists_reserve(ameir_task_lists *l, int n) {
    if (n <= l->cap)
        return 0;
    ameir_arch *c = realloc(l->cands, (size_t)n * sizeof *c);
    if (c)
        l->cands = c;
    int *a = realloc(l->alive, (size_t)n * sizeof *a);
    if (a)
        l->alive = a;
    if (!c || !a)
        return ameir_fail(AMEIR_ENOMEM, "no memory for a task's %d candidates", n);
    l->cap = n;
    return 0;
}

/* The one-shot lists after the group: at most 65536 candidates, alive ones distinct in range. */
static int unpack_lists(ameir_unpack *u, ameir_search_task *t, ameir_task_lists *l) {
    t->candidate = (int)ameir_unpack_i64(u);
    int64_t n = ameir_unpack_i64(u);
    if (u->failed)
        return ameir_unpack_finish(u, "task");
    if (n < 0 || n > 65536 || (n > 0 && !l))
        return ameir_fail(AMEIR_EINVAL, "protocol error: task %lld with %lld one-shot candidates", (long long)t->trial_id,
                          (long long)n);
    if (n > 0)
        AMEIR_TRY(lists_reserve(l, (int)n));
    for (int64_t i = 0; i < n; i++)
        AMEIR_TRY(unpack_arch(u, &l->cands[i], t->trial_id));
    int64_t k = ameir_unpack_i64(u);
    if (u->failed)
        return ameir_unpack_finish(u, "task");
    if (k < 0 || k > n || (t->candidate < -1 || t->candidate >= (n > 0 ? n : INT32_MAX)))
        return ameir_fail(AMEIR_EINVAL, "protocol error: task %lld: %lld alive of %lld candidates, candidate %d", (long long)t->trial_id,
                          (long long)k, (long long)n, t->candidate);
    for (int64_t i = 0; i < k; i++) {
        int64_t a = ameir_unpack_i64(u);
        if (u->failed)
            return ameir_unpack_finish(u, "task");
        if (a < 0 || a >= n)
            return ameir_fail(AMEIR_EINVAL, "protocol error: task %lld: alive candidate %lld of %lld", (long long)t->trial_id,
                              (long long)a, (long long)n);
        l->alive[i] = (int)a;
    }
    t->n_cands = (int)n, t->cands = n > 0 ? l->cands : NULL;
    t->n_alive = (int)k, t->alive = k > 0 ? l->alive : NULL;
    return 0;
}

int ameir_unpack_task(const void *payload, size_t len, ameir_search_task *t, ameir_group *g, ameir_task_lists *lists) {
    ameir_unpack u;
    ameir_unpack_init(&u, payload, len);
    memset(t, 0, sizeof *t);
    t->trial_id = ameir_unpack_i64(&u);
    t->stage = (int)ameir_unpack_i64(&u);
    t->kind = (int)ameir_unpack_i64(&u);
    t->rung = (int)ameir_unpack_i64(&u);
    t->baseline = (int)ameir_unpack_i64(&u);
    t->budget = ameir_unpack_i64(&u);
    t->valid_rows = ameir_unpack_i64(&u);
    t->eval_every = ameir_unpack_i64(&u);
    t->parent = ameir_unpack_i64(&u);
    t->seed = (uint64_t)ameir_unpack_i64(&u);
    AMEIR_TRY(unpack_arch(&u, &t->arch, t->trial_id));
    AMEIR_TRY(unpack_group(&u, g, 1, "task", (long long)t->trial_id));
    AMEIR_TRY(unpack_lists(&u, t, lists));
    AMEIR_TRY(ameir_unpack_finish(&u, "task"));
    if (t->trial_id < 0 || t->budget < 0 || t->valid_rows < 0 || t->eval_every < 0 || t->stage < 0 || t->stage > AMEIR_STAGE_FINAL)
        return ameir_fail(AMEIR_EINVAL, "protocol error: task with trial %lld, stage %d, budget %lld", (long long)t->trial_id,
                          t->stage, (long long)t->budget);
    return 0;
}

static void pack_metrics(ameir_pack *p, const ameir_metrics *m) {
    ameir_pack_i64(p, m->task);
    ameir_pack_i64(p, m->rows);
    double v[AMEIR_N_METRIC_VALUES];
    ameir_metrics_get_values(m, v);
    for (int i = 0; i < AMEIR_N_METRIC_VALUES; i++)
        ameir_pack_f64(p, v[i]);
}

static void unpack_metrics(ameir_unpack *u, ameir_metrics *m) {
    m->task = (int)ameir_unpack_i64(u);
    m->rows = ameir_unpack_i64(u);
    double v[AMEIR_N_METRIC_VALUES];
    for (int i = 0; i < AMEIR_N_METRIC_VALUES; i++)
        v[i] = ameir_unpack_f64(u);
    ameir_metrics_set_values(m, v);
}

void ameir_pack_result(ameir_pack *p, const ameir_search_result *r) {
    ameir_pack_i64(p, r->trial_id);
    ameir_pack_i64(p, r->status);
    ameir_pack_f64(p, r->metric);
    pack_metrics(p, &r->valid);
    pack_metrics(p, &r->test);
    ameir_pack_i64(p, r->steps);
    ameir_pack_i64(p, r->worker);
    ameir_pack_f64(p, r->seconds);
}

int ameir_unpack_result(const void *payload, size_t len, ameir_search_result *r) {
    ameir_unpack u;
    ameir_unpack_init(&u, payload, len);
    memset(r, 0, sizeof *r);
    r->trial_id = ameir_unpack_i64(&u);
    r->status = (int)ameir_unpack_i64(&u);
    r->metric = ameir_unpack_f64(&u);
    unpack_metrics(&u, &r->valid);
    unpack_metrics(&u, &r->test);
    r->steps = ameir_unpack_i64(&u);
    r->worker = (int)ameir_unpack_i64(&u);
    r->seconds = ameir_unpack_f64(&u);
    AMEIR_TRY(ameir_unpack_finish(&u, "result"));
    if (r->status != AMEIR_TRIAL_DONE && r->status != AMEIR_TRIAL_DIVERGED && r->status != AMEIR_TRIAL_TIMEOUT)
        return ameir_fail(AMEIR_EINVAL, "protocol error: result of trial %lld has status %d", (long long)r->trial_id, r->status);
    return 0;
}

void ameir_pack_join(ameir_pack *p, int64_t trial_id, int rank) {
    ameir_pack_i64(p, trial_id);
    ameir_pack_i64(p, rank);
}

int ameir_unpack_join(const void *payload, size_t len, int64_t *trial_id, int *rank) {
    ameir_unpack u;
    ameir_unpack_init(&u, payload, len);
    *trial_id = ameir_unpack_i64(&u);
    int64_t r = ameir_unpack_i64(&u);
    AMEIR_TRY(ameir_unpack_finish(&u, "join"));
    if (*trial_id < 0 || r < 1 || r > INT32_MAX)
        return ameir_fail(AMEIR_EINVAL, "protocol error: join of rank %lld to trial %lld", (long long)r, (long long)*trial_id);
    *rank = (int)r;
    return 0;
}

void ameir_pack_grow(ameir_pack *p, int64_t trial_id, const ameir_group *g) {
    ameir_pack_i64(p, trial_id);
    pack_group(p, g);
}

int ameir_unpack_grow(const void *payload, size_t len, int64_t *trial_id, ameir_group *g) {
    ameir_unpack u;
    ameir_unpack_init(&u, payload, len);
    *trial_id = ameir_unpack_i64(&u);
    AMEIR_TRY(unpack_group(&u, g, 0, "grow of trial", (long long)*trial_id));
    return ameir_unpack_finish(&u, "grow");
}
