/* The network as a whole: creation errors, save/load bit-exact round trip and its errors,
 * determinism, lazy Adam, no allocation inside a step (malloc/calloc/realloc are wrapped at
 * link time, see meson.build), and the loss falling on a small learnable problem. */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/arch.h"
#include "ameir/error.h"
#include "ameir/net.h"

/* ---- allocation counter (ld --wrap) ---- */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
static long allocs = 0;
void *__wrap_malloc(size_t n) {
    allocs++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m) {
    allocs++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n) {
    allocs++;
    return __real_realloc(p, n);
}

/* user, gender, item (is_item), genre (is_item, 2 values); history of 6 */
static void make_schema(ameir_schema *s, int L) {
    static const struct {
        const char *name;
        int vocab, width, is_item;
    } f[] = {{"user", 30, 1, 0}, {"gender", 4, 1, 0}, {"item", 40, 1, 1}, {"genre", 9, 2, 1}};
    memset(s, 0, sizeof *s);
    s->n_fields = 4;
    for (int i = 0; i < 4; i++) {
        ameir_field *fl = &s->fields[i];
        snprintf(fl->name, sizeof fl->name, "%s", f[i].name);
        fl->vocab = f[i].vocab;
        fl->width = f[i].width;
        fl->offset = s->x_width;
        s->x_width += f[i].width;
        fl->is_item = f[i].is_item;
        fl->item_offset = f[i].is_item ? s->item_width : 0;
        s->item_width += f[i].is_item ? f[i].width : 0;
    }
    s->item_field = 2;
    s->seq_len = L;
}

/* The test architecture with an extra block text inserted before the GRU and the shortcut
 * given ("true"/"false"). */
#define ARCH_FORMAT                                                                                           \
    "{\"behavior\": {\"blocks\": [{\"norm\": \"layernorm\", \"op\": \"attention\", \"heads\": 2, \"act\": \"gelu\"}, %s" \
    "{\"norm\": \"none\", \"op\": \"gru\", \"act\": \"swish\"}], \"aggregate\": \"target_attention\", "                 \
    "\"positions\": true}, \"interactions\": [[\"user\", \"item\"]], "                                                  \
    "\"mlp\": {\"layers\": [{\"units\": 16, \"act\": \"relu\"}], \"shortcut\": %s}}"

static void arch_variant(char *buf, size_t n, const char *extra_block, const char *shortcut) {
    snprintf(buf, n, ARCH_FORMAT, extra_block, shortcut);
}

static char arch_text[1024];

/* label = 1 when the user id is even (learnable from the user embedding alone) */
static void fill(ameir_batch *b, const ameir_schema *s, int n, ameir_rng *rng) {
    int L = s->seq_len;
    b->n = n;
    for (int r = 0; r < n; r++) {
        int32_t *x = b->x + (size_t)r * s->x_width;
        for (int f = 0; f < s->n_fields; f++)
            for (int k = 0; k < s->fields[f].width; k++)
                x[s->fields[f].offset + k] = 1 + (int32_t)ameir_rng_below(rng, (uint64_t)s->fields[f].vocab - 1);
        int pad = (int)ameir_rng_below(rng, (uint64_t)L + 1);
        for (int l = 0; l < L; l++)
            for (int k = 0; k < s->item_width; k++)
                b->hist[((size_t)r * L + l) * s->item_width + k] =
                    l < pad ? 0 : 1 + (int32_t)ameir_rng_below(rng, k == 0 ? 39 : 8);
        b->label[r] = (float)(x[0] % 2 == 0);
    }
}

static ameir_net *make_net(const ameir_schema *s, const char *text, int d, uint64_t seed) {
    ameir_arch a;
    ameir_net *net = NULL;
    if (ameir_arch_parse(&a, text, "test") < 0 || ameir_net_create(&net, &a, s, d, 32, seed) < 0) {
        fprintf(stderr, "setup: %s\n", ameir_last_error());
        return NULL;
    }
    return net;
}

static int same_state(ameir_net *a, ameir_net *b) {
    ameir_params *p = ameir_net_params(a), *q = ameir_net_params(b);
    size_t n = p->total * sizeof(float);
    return p->total == q->total && p->step == q->step && !memcmp(p->data, q->data, n) && !memcmp(p->m, q->m, n) &&
           !memcmp(p->v, q->v, n);
}

static void test_create_errors(const ameir_schema *s) {
    ameir_arch a;
    ameir_net *net = NULL;
    CHECK_EQ_INT(ameir_arch_parse(&a, arch_text, "test"), 0);
    a.blocks[0].option = 4;
    CHECK_EQ_INT(ameir_net_create(&net, &a, s, 6, 8, 1), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "behavior.blocks[0]: 4 heads with dimension 6");
    CHECK(net == NULL);
    CHECK_EQ_INT(ameir_net_create(&net, &a, s, 0, 8, 1), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "dimension 0");
    a.blocks[0].option = 2;
    snprintf(a.interactions[0].fields[1], sizeof a.interactions[0].fields[1], "colour");
    CHECK(ameir_net_create(&net, &a, s, 8, 8, 1) < 0);
    CHECK_STR_CONTAINS(ameir_last_error(), "colour");
    ameir_net_free(NULL);
}

static void test_save_load(const ameir_schema *s, ameir_batch *b) {
    const char *file = "test_net_state.h5";
    ameir_train_opts o = ameir_train_opts_default();
    o.dropout = 0.2f;
    o.l2 = 1e-4f;
    ameir_net *a = make_net(s, arch_text, 8, 3), *c = make_net(s, arch_text, 8, 4);
    CHECK(a && c);
    if (!a || !c)
        return;
    for (int i = 0; i < 3; i++) {
        ameir_rng rng = ameir_rng_stream(5, (uint64_t)i);
        ameir_net_train_step(a, b, &o, &rng);
    }
    hid_t f = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK_EQ_INT(ameir_net_save(a, g), 0);
    H5Gclose(g);
    H5Fclose(f);
    CHECK(!same_state(a, c));
    f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    g = H5Gopen2(f, "model", H5P_DEFAULT);
    CHECK_EQ_INT(ameir_net_load(c, g), 0);
    CHECK(same_state(a, c)); /* parameters, both moments and the step, bit for bit */
    CHECK_EQ_INT(ameir_net_params(c)->step, 3);
    /* and training on from there is the same as never having stopped */
    for (int i = 3; i < 5; i++) {
        ameir_rng r1 = ameir_rng_stream(5, (uint64_t)i), r2 = ameir_rng_stream(5, (uint64_t)i);
        ameir_net_train_step(a, b, &o, &r1);
        ameir_net_train_step(c, b, &o, &r2);
    }
    CHECK(same_state(a, c));

    /* bad loads: another dimension, another architecture, a tensor too many */
    ameir_net *wrong_d = make_net(s, arch_text, 16, 3);
    CHECK_EQ_INT(ameir_net_load(wrong_d, g), AMEIR_EDATA);
    CHECK_STR_CONTAINS(ameir_last_error(), "params/emb/user: shape (30, 8), expected (30, 16)");
    char text[1024];
    arch_variant(text, sizeof text, "{\"op\": \"conv\", \"kernel\": 3}, ", "true");
    ameir_net *bigger = make_net(s, text, 8, 3);
    CHECK_EQ_INT(ameir_net_load(bigger, g), AMEIR_EDATA);
    CHECK_STR_CONTAINS(ameir_last_error(), "missing dataset params/block1/conv/weight");
    arch_variant(text, sizeof text, "", "false");
    ameir_net *smaller = make_net(s, text, 8, 3);
    CHECK_EQ_INT(ameir_net_load(smaller, g), AMEIR_EDATA);
    CHECK_STR_CONTAINS(ameir_last_error(), "params/mlp/shortcut is not a tensor of this architecture");
    H5Gclose(g);
    g = H5Gopen2(f, "/", H5P_DEFAULT); /* no datasets here at all */
    CHECK_EQ_INT(ameir_net_load(c, g), AMEIR_EDATA);
    CHECK_STR_CONTAINS(ameir_last_error(), "missing dataset params/emb/user");
    H5Gclose(g);
    H5Fclose(f);
    ameir_net_free(wrong_d);
    ameir_net_free(bigger);
    ameir_net_free(smaller);
    ameir_net_free(a);
    ameir_net_free(c);
    remove(file);
}

/* No allocation in forward/backward/Adam/predict; lazy Adam leaves untouched rows alone. */
static void test_step(const ameir_schema *s, ameir_batch *b) {
    long c0 = allocs;
    ameir_net *net = make_net(s, arch_text, 8, 9);
    if (!net)
        return;
    CHECK(allocs > c0); /* the counter sees the library's allocations */
    ameir_train_opts o = ameir_train_opts_default();
    o.dropout = 0.1f;
    o.l2 = 1e-3f;
    ameir_params *p = ameir_net_params(net);
    int t = ameir_params_find(p, "emb/user");
    CHECK(t >= 0);
    float logits[32];
    /* user row 0 (padding) and every user id absent from the batch must not move */
    int present[30] = {0};
    for (int r = 0; r < b->n; r++)
        present[b->x[(size_t)r * s->x_width]] = 1;
    float before[30 * 8];
    memcpy(before, ameir_params_data(p, t), sizeof before);
    long a0 = allocs;
    for (int i = 0; i < 4; i++) {
        ameir_rng rng = ameir_rng_stream(1, (uint64_t)i);
        float loss = ameir_net_train_step(net, b, &o, &rng);
        CHECK(isfinite(loss));
        ameir_net_predict(net, b, logits);
    }
    CHECK_EQ_INT(allocs - a0, 0);
    const float *after = ameir_params_data(p, t);
    int moved_absent = 0, moved_present = 0;
    for (int id = 0; id < 30; id++) {
        int moved = memcmp(before + id * 8, after + id * 8, 8 * sizeof(float)) != 0;
        if (present[id])
            moved_present += moved;
        else
            moved_absent += moved;
    }
    CHECK_EQ_INT(moved_absent, 0);
    CHECK(moved_present > 0);
    /* predict (no dropout) and a training forward with dropout 0 give the same logits */
    float train_logits[32];
    o.dropout = 0;
    ameir_rng rng = ameir_rng_stream(1, 99);
    ameir_net_forward_backward(net, b, &o, &rng, train_logits);
    ameir_net_predict(net, b, logits);
    CHECK(!memcmp(logits, train_logits, (size_t)b->n * sizeof(float)));
    ameir_net_free(net);
}

/* Rows split over threads: bit-identical for a given count, close across counts, no
 * allocation in a step either. */
static void test_threads(const ameir_schema *s, ameir_batch *b) {
    ameir_net *one = make_net(s, arch_text, 8, 21), *two = make_net(s, arch_text, 8, 21),
              *again = make_net(s, arch_text, 8, 21);
    if (!one || !two || !again)
        return;
    CHECK_EQ_INT(ameir_net_set_threads(two, 0), AMEIR_EINVAL);
    CHECK_STR_CONTAINS(ameir_last_error(), "network threads: 0 (expected 1 to 64)");
    CHECK_EQ_INT(ameir_net_set_threads(two, 3), 0);
    CHECK_EQ_INT(ameir_net_set_threads(again, 3), 0);
    CHECK_EQ_INT(ameir_net_threads(two), 3);
    ameir_train_opts o = ameir_train_opts_default();
    o.dropout = 0.1f;
    o.l2 = 1e-3f;
    long a0 = allocs;
    double worst = 0;
    for (int i = 0; i < 5; i++) {
        ameir_rng r1 = ameir_rng_stream(4, (uint64_t)i), r2 = r1, r3 = r1;
        float l1 = ameir_net_train_step(one, b, &o, &r1);
        float l2 = ameir_net_train_step(two, b, &o, &r2);
        float l3 = ameir_net_train_step(again, b, &o, &r3);
        CHECK(l2 == l3);
        worst = fmax(worst, fabs((double)l1 - l2) / fabs((double)l1));
    }
    CHECK_EQ_INT(allocs - a0, 0);
    CHECK(same_state(two, again));
    printf("3 threads bit-identical to 1: %s\n", same_state(one, two) ? "yes" : "no (summation order)");
    printf("3 threads against 1: worst relative difference of the loss over 5 steps %.2e\n", worst);
    CHECK(worst < 1e-5);
    ameir_net_free(one);
    ameir_net_free(two);
    ameir_net_free(again);
}

/* The label is a function of the user id: the loss must fall well below log 2. With and
 * without a behaviour sequence (seq_len 0: no blocks, no behaviour vector). */
static void test_learns(int L) {
    ameir_schema s;
    make_schema(&s, L);
    ameir_batch b;
    CHECK_EQ_INT(ameir_batch_init(&b, &s, 32), 0);
    ameir_net *net = make_net(&s, arch_text, 8, 2);
    if (!net)
        return;
    ameir_train_opts o = ameir_train_opts_default();
    o.lr = 0.01f;
    ameir_rng data = ameir_rng_stream(11, 0);
    double first = 0, last = 0;
    for (int i = 0; i < 300; i++) {
        fill(&b, &s, 32, &data);
        ameir_rng rng = ameir_rng_stream(12, (uint64_t)i);
        float loss = ameir_net_train_step(net, &b, &o, &rng);
        if (i < 10)
            first += loss / 10;
        if (i >= 290)
            last += loss / 10;
    }
    printf("L = %d: mean loss of the first 10 steps %.4f, of the last 10 %.4f\n", L, first, last);
    CHECK(first > 0.6);
    CHECK(last < 0.15);
    ameir_net_free(net);
    ameir_batch_destroy(&b);
}

int main(void) {
    arch_variant(arch_text, sizeof arch_text, "", "true");
    ameir_schema s;
    make_schema(&s, 6);
    ameir_batch b;
    CHECK_EQ_INT(ameir_batch_init(&b, &s, 32), 0);
    ameir_rng rng = ameir_rng_stream(1, 0);
    fill(&b, &s, 20, &rng);
    test_create_errors(&s);
    test_save_load(&s, &b);
    test_step(&s, &b);
    test_threads(&s, &b);
    test_learns(6);
    test_learns(0);
    ameir_batch_destroy(&b);
    return check_finish("net");
}
