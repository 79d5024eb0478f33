/* The message layer of the search cluster on one rank talking to itself: payload round
 * trips, and every malformed message refused with AMEIR_EINVAL and a message that says
 * what is wrong (short payload, extra bytes, bad magic, other version, unknown type,
 * length mismatch, bad result status, a group no worker can form), and the sharing out of
 * waiting workers among tasks. Run under mpirun -np 2: rank 1 sends a task (too
 * large for an eager send to oneself), rank 0 checks everything. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/cluster.h"

/* Send raw bytes to ourselves and poll them back through the message layer. */
static int poll_raw(const void *bytes, int n, ameir_msg *m) {
    int got = 0;
    MPI_Send(bytes, n, MPI_BYTE, 0, AMEIR_MSG_TAG, MPI_COMM_WORLD);
    ameir_clear_error();
    return ameir_msg_poll(MPI_COMM_WORLD, 0, m, &got);
}

static void fill_task(ameir_search_task *t) {
    t->trial_id = 41;
    t->stage = AMEIR_STAGE_INTERACTION;
    t->kind = AMEIR_TRIAL_SEARCH;
    t->rung = 2;
    t->baseline = -1;
    t->budget = 800;
    t->parent = 17;
    t->seed = 0xFEDCBA9876543210ull;
    ameir_arch_init(&t->arch);
    t->arch.n_interactions = 1;
    t->arch.interactions[0].order = 2;
    strcpy(t->arch.interactions[0].fields[0], "age");
    strcpy(t->arch.interactions[0].fields[1], "category");
}

static const ameir_group GROUP = {3, {2, 5, 9}, 0};

/* Rank 1's side of the round trip. */
static void send_task(void) {
    ameir_search_task *t = calloc(1, sizeof *t);
    ameir_pack p;
    ameir_pack_init(&p);
    fill_task(t);
    ameir_pack_task(&p, t, &GROUP);
    CHECK_EQ_INT(ameir_msg_send(MPI_COMM_WORLD, 0, AMEIR_MSG_TASK, p.data, p.len), 0);
    ameir_pack_destroy(&p);
    free(t);
}

static void test_task_round_trip(void) {
    ameir_search_task *t = calloc(1, sizeof *t), *u = calloc(1, sizeof *u);
    ameir_pack p;
    ameir_msg m;
    ameir_group g;
    int got = 0;
    ameir_pack_init(&p);
    ameir_msg_init(&m);
    fill_task(t);
    ameir_pack_task(&p, t, &GROUP);
    CHECK_EQ_INT(ameir_msg_wait(MPI_COMM_WORLD, 1, &m, &got, NULL, 30.0), 0);
    CHECK_EQ_INT(got, 1);
    CHECK_EQ_INT(m.type, AMEIR_MSG_TASK);
    CHECK_EQ_INT(m.source, 1);
    CHECK_EQ_INT(ameir_unpack_task(ameir_msg_payload(&m), m.length, u, &g, NULL), 0);
    CHECK_EQ_INT(g.size, 3);
    CHECK(g.ranks[0] == 2 && g.ranks[1] == 5 && g.ranks[2] == 9);
    CHECK_EQ_INT(u->trial_id, 41);
    CHECK_EQ_INT(u->stage, AMEIR_STAGE_INTERACTION);
    CHECK_EQ_INT(u->rung, 2);
    CHECK_EQ_INT(u->budget, 800);
    CHECK_EQ_INT(u->parent, 17);
    CHECK(u->seed == 0xFEDCBA9876543210ull);
    CHECK(ameir_arch_equal(&t->arch, &u->arch));
    /* one byte short, one byte too many */
    CHECK_EQ_INT(ameir_unpack_task(ameir_msg_payload(&m), m.length - 1, u, &g, NULL), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "task payload is truncated");
    /* groups no worker can form: empty, rank 0 (the coordinator), not ascending */
    static const ameir_group bad[3] = {{0, {0}, 0}, {2, {0, 1}, 0}, {3, {1, 4, 4}, 0}};
    static const char *const why[3] = {"group of 0 ranks", "group rank 0 at 0", "group rank 4 at 2"};
    for (int i = 0; i < 3; i++) {
        ameir_pack q;
        ameir_pack_init(&q);
        ameir_pack_task(&q, t, &bad[i]);
        CHECK_EQ_INT(ameir_unpack_task(q.data, q.len, u, &g, NULL), AMEIR_EINVAL);
        CHECK_STR_CONTAINS(ameir_last_error(), why[i]);
        ameir_pack_destroy(&q);
    }
    /* a joining rank's task: the group as it grew (the joiner last, not ascending), but
     * still distinct ranks */
    static const ameir_group joining = {3, {5, 2, 9}, 1}, twice = {3, {5, 2, 5}, 1};
    ameir_pack q;
    ameir_pack_init(&q);
    ameir_pack_task(&q, t, &joining);
    CHECK_EQ_INT(ameir_unpack_task(q.data, q.len, u, &g, NULL), 0);
    CHECK(g.joining == 1 && g.size == 3 && g.ranks[0] == 5 && g.ranks[1] == 2 && g.ranks[2] == 9);
    ameir_pack_reset(&q);
    ameir_pack_task(&q, t, &twice);
    CHECK_EQ_INT(ameir_unpack_task(q.data, q.len, u, &g, NULL), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "group rank 5 at 2");
    /* join and grow: the trial and the rank; the grown list, or none (too late) */
    int64_t trial = -1;
    int rank = 0;
    ameir_pack_reset(&q);
    ameir_pack_join(&q, 41, 7);
    CHECK_EQ_INT(ameir_unpack_join(q.data, q.len, &trial, &rank), 0);
    CHECK(trial == 41 && rank == 7);
    ameir_pack_reset(&q);
    ameir_pack_join(&q, 41, 0);
    CHECK_EQ_INT(ameir_unpack_join(q.data, q.len, &trial, &rank), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "join of rank 0");
    static const ameir_group none = {0, {0}, 0};
    ameir_pack_reset(&q);
    ameir_pack_grow(&q, 41, &GROUP);
    CHECK_EQ_INT(ameir_unpack_grow(q.data, q.len, &trial, &g), 0);
    CHECK(trial == 41 && g.size == 3 && g.ranks[2] == 9);
    ameir_pack_reset(&q);
    ameir_pack_grow(&q, 42, &none);
    CHECK_EQ_INT(ameir_unpack_grow(q.data, q.len, &trial, &g), 0);
    CHECK(trial == 42 && g.size == 0);
    ameir_pack_destroy(&q);
    ameir_pack_bytes(&p, "x", 1);
    CHECK_EQ_INT(ameir_unpack_task(p.data, p.len, u, &g, NULL), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "expected");
    /* nothing waiting: poll says so, wait gives up at its timeout */
    CHECK_EQ_INT(ameir_msg_wait(MPI_COMM_WORLD, MPI_ANY_SOURCE, &m, &got, NULL, 0.01), 0);
    CHECK_EQ_INT(got, 0);
    ameir_pack_destroy(&p);
    ameir_msg_destroy(&m);
    free(t);
    free(u);
}

static void test_result_round_trip(void) {
    ameir_search_result r, s;
    ameir_pack p;
    memset(&r, 0, sizeof r);
    ameir_pack_init(&p);
    r.trial_id = 7;
    r.status = AMEIR_TRIAL_DIVERGED;
    r.metric = NAN;
    r.valid.task = AMEIR_TASK_CTR;
    r.valid.auc = 0.71;
    r.test.logloss = 0.5;
    r.steps = 123;
    r.worker = 3;
    r.seconds = 1.25;
    ameir_pack_result(&p, &r);
    CHECK_EQ_INT(ameir_unpack_result(p.data, p.len, &s), 0);
    CHECK_EQ_INT(s.trial_id, 7);
    CHECK_EQ_INT(s.status, AMEIR_TRIAL_DIVERGED);
    CHECK(isnan(s.metric));
    CHECK_NEAR(s.valid.auc, 0.71, 0);
    CHECK_NEAR(s.test.logloss, 0.5, 0);
    CHECK_EQ_INT(s.steps, 123);
    CHECK_EQ_INT(s.worker, 3);
    /* a status a result cannot have */
    r.status = AMEIR_TRIAL_RUNNING;
    ameir_pack_reset(&p);
    ameir_pack_result(&p, &r);
    CHECK_EQ_INT(ameir_unpack_result(p.data, p.len, &s), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "has status 1");
    ameir_pack_destroy(&p);
}

static void test_bad_headers(void) {
    ameir_msg m;
    unsigned char buf[sizeof(ameir_msg_header) + 8];
    ameir_msg_header h = {AMEIR_MSG_MAGIC, AMEIR_MSG_VERSION, AMEIR_MSG_STOP, 8};
    ameir_msg_init(&m);

    memcpy(buf, &h, sizeof h);
    CHECK_EQ_INT(poll_raw(buf, (int)sizeof buf, &m), 0); /* well-formed */
    CHECK_EQ_INT(m.type, AMEIR_MSG_STOP);
    CHECK_EQ_INT(m.length, 8);

    CHECK_EQ_INT(poll_raw(buf, 3, &m), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "shorter than the");

    ameir_msg_header bad = h;
    bad.magic = 0x12345678u;
    memcpy(buf, &bad, sizeof bad);
    CHECK_EQ_INT(poll_raw(buf, (int)sizeof buf, &m), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "bad magic 0x12345678");

    bad = h;
    bad.version = AMEIR_MSG_VERSION + 1;
    memcpy(buf, &bad, sizeof bad);
    CHECK_EQ_INT(poll_raw(buf, (int)sizeof buf, &m), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "same ameir build");

    bad = h;
    bad.type = 99;
    memcpy(buf, &bad, sizeof bad);
    CHECK_EQ_INT(poll_raw(buf, (int)sizeof buf, &m), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "unknown message type 99");

    bad = h;
    bad.length = 4;
    memcpy(buf, &bad, sizeof bad);
    CHECK_EQ_INT(poll_raw(buf, (int)sizeof buf, &m), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "stop header says 4 payload bytes, received 8");
    ameir_msg_destroy(&m);
}

static void test_unpack_strings(void) {
    ameir_pack p;
    ameir_unpack u;
    char small[4];
    ameir_pack_init(&p);
    ameir_pack_str(&p, "abcdef");
    ameir_unpack_init(&u, p.data, p.len);
    ameir_unpack_str(&u, small, sizeof small);
    CHECK_EQ_INT(u.failed, 1); /* longer than the room given */
    CHECK_EQ_INT(ameir_unpack_finish(&u, "test"), AMEIR_EINVAL);
    ameir_unpack_init(&u, p.data, p.len);
    char *s = ameir_unpack_strdup(&u);
    CHECK(s && !strcmp(s, "abcdef"));
    CHECK_EQ_INT(ameir_unpack_finish(&u, "test"), 0);
    free(s);
    ameir_unpack_init(&u, p.data, 5); /* the length says 6 bytes, fewer follow */
    CHECK(ameir_unpack_strdup(&u) == NULL);
    CHECK_EQ_INT(u.failed, 1);
    ameir_pack_destroy(&p);
}

/* How waiting workers are shared out among the tasks that can start (hand-worked cases). */
static void test_group_sizes(void) {
    int s[8];
    ameir_group_sizes(3, 4, 3, s); /* one spare worker: the first task gets it */
    CHECK(s[0] == 2 && s[1] == 1 && s[2] == 1);
    ameir_group_sizes(1, 5, 3, s); /* capped at the shards */
    CHECK_EQ_INT(s[0], 3);
    ameir_group_sizes(2, 7, 8, s);
    CHECK(s[0] == 4 && s[1] == 3);
    ameir_group_sizes(2, 6, 0, s); /* no virtual shards: one worker a trial */
    CHECK(s[0] == 1 && s[1] == 1);
    ameir_group_sizes(4, 4, 8, s);
    CHECK(s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1);
    ameir_group_sizes(1, 1000, 256, s); /* at most AMEIR_GROUP_MAX */
    CHECK_EQ_INT(s[0], AMEIR_GROUP_MAX);
}

/* A group's ranks in a log line: all of them when they fit, else as many as fit and ",...". */
static void test_group_ranks_text(void) {
    ameir_group *g = calloc(1, sizeof *g);
    char small[24], big[96];
    g->size = 3, g->ranks[0] = 7, g->ranks[1] = 12, g->ranks[2] = 3;
    CHECK(strcmp(ameir_group_ranks_text(g, big, sizeof big), "7,12,3") == 0);
    g->size = 200;
    for (int i = 0; i < g->size; i++)
        g->ranks[i] = 1000 + i;
    CHECK(strcmp(ameir_group_ranks_text(g, small, sizeof small), "1000,1001,...") == 0);
    ameir_group_ranks_text(g, big, sizeof big);
    CHECK(strlen(big) < sizeof big && strcmp(big + strlen(big) - 4, ",...") == 0);
    free(g);
}

/* A one-shot task's candidate list and alive set survive the trip; bad ones are refused. */
static void test_task_lists(void) {
    ameir_search_task *t = calloc(1, sizeof *t), *u = calloc(1, sizeof *u);
    ameir_arch *cands = calloc(3, sizeof *cands);
    int alive[2] = {2, 0};
    ameir_task_lists lists = {0};
    ameir_group g;
    fill_task(t);
    for (int i = 0; i < 3; i++) { /* three distinct valid archs: 0, 1 and 2 MLP layers */
        cands[i] = t->arch, cands[i].n_mlp = i;
        for (int j = 0; j < i; j++)
            cands[i].mlp[j].units = 32 << j, cands[i].mlp[j].act = 1;
    }
    t->kind = AMEIR_TRIAL_SUPERNET, t->candidate = 1, t->n_cands = 3, t->cands = cands, t->n_alive = 2, t->alive = alive;
    ameir_pack p;
    ameir_pack_init(&p);
    ameir_pack_task(&p, t, &GROUP);
    CHECK_EQ_INT(ameir_unpack_task(p.data, p.len, u, &g, &lists), 0);
    CHECK_EQ_INT(u->n_cands, 3);
    CHECK_EQ_INT(u->candidate, 1);
    CHECK_EQ_INT(u->n_alive, 2);
    CHECK(u->alive[0] == 2 && u->alive[1] == 0);
    for (int i = 0; i < 3; i++)
        CHECK(ameir_arch_equal(&u->cands[i], &cands[i]));
    /* without storage for the lists, and with an alive index out of range */
    CHECK_EQ_INT(ameir_unpack_task(p.data, p.len, u, &g, NULL), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "3 one-shot candidates");
    alive[1] = 3;
    ameir_pack_reset(&p);
    ameir_pack_task(&p, t, &GROUP);
    CHECK_EQ_INT(ameir_unpack_task(p.data, p.len, u, &g, &lists), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "alive candidate 3 of 3");
    ameir_pack_destroy(&p);
    ameir_task_lists_free(&lists);
    free(cands);
    free(t);
    free(u);
}

/* An arch goes field by field: a task is small whatever the struct's fixed arrays, and a
 * count out of range, a value no arch has or a field name too long is refused, not read
 * past the arrays. Offsets below follow ameir_pack_task's order: ten i64 before the arch. */
static void test_task_arch(void) {
    ameir_search_task *t = calloc(1, sizeof *t), *u = calloc(1, sizeof *u);
    ameir_group g;
    ameir_pack p;
    ameir_pack_init(&p);
    fill_task(t);
    t->arch.n_blocks = 1;
    t->arch.blocks[0] = (ameir_block){AMEIR_NORM_LAYERNORM, AMEIR_OP_CONV, 3, 1};
    t->arch.n_mlp = 1;
    t->arch.mlp[0].units = 64, t->arch.mlp[0].act = 1;
    ameir_pack_task(&p, t, &GROUP);
    CHECK(p.len < 512);
    CHECK_EQ_INT(ameir_unpack_task(p.data, p.len, u, &g, NULL), 0);
    CHECK(ameir_arch_equal(&t->arch, &u->arch));
    size_t at = 10 * 8; /* the arch's first i64: n_blocks */
    unsigned char *bad = malloc(p.len);
    int64_t v;
    memcpy(bad, p.data, p.len);
    v = AMEIR_MAX_BLOCKS + 1;
    memcpy(bad + at, &v, 8);
    CHECK_EQ_INT(ameir_unpack_task(bad, p.len, u, &g, NULL), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "protocol error");
    memcpy(bad, p.data, p.len);
    v = 4; /* the block's kernel: conv takes 1, 3, 5 or 7 */
    memcpy(bad + at + 3 * 8, &v, 8);
    CHECK_EQ_INT(ameir_unpack_task(bad, p.len, u, &g, NULL), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "protocol error: task 41");
    CHECK_STR_CONTAINS(ameir_last_error(), "kernel");
    free(bad);
    /* a field name as long as the struct cannot hold */
    char name[AMEIR_FIELD_NAME_MAX + 8];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    ameir_pack_reset(&p);
    ameir_pack_i64(&p, 41); /* the ten numbers, the arch with a group of order 2, the rest */
    for (int i = 0; i < 9; i++)
        ameir_pack_i64(&p, i == 1 ? AMEIR_STAGE_INTERACTION : 0);
    ameir_pack_i64(&p, 0); /* no blocks */
    ameir_pack_i64(&p, AMEIR_AGG_MEAN);
    ameir_pack_i64(&p, 0);
    ameir_pack_i64(&p, 1);
    ameir_pack_i64(&p, 2);
    ameir_pack_str(&p, "age");
    ameir_pack_str(&p, name);
    CHECK_EQ_INT(ameir_unpack_task(p.data, p.len, u, &g, NULL), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "protocol error");
    ameir_pack_destroy(&p);
    free(t);
    free(u);
}

int main(int argc, char **argv) {
    int rank = 0, size = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        fprintf(stderr, "test_mpi_protocol: run it under mpirun -np 2 (got %d ranks)\n", size);
        MPI_Finalize();
        return 1;
    }
    if (rank == 1) {
        send_task();
        int rc1 = check_finish("test_mpi_protocol (rank 1)");
        MPI_Finalize();
        return rc1;
    }
    test_task_round_trip();
    test_task_lists();
    test_task_arch();
    test_result_round_trip();
    test_bad_headers();
    test_unpack_strings();
    test_group_sizes();
    test_group_ranks_text();
    int rc = check_finish("test_mpi_protocol");
    MPI_Finalize();
    return rc;
}
