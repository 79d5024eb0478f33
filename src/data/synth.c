/* The synthetic dataset: planted field interactions and a sequential pattern decide the label.
 *
 * Fields: user, age, gender, city (user attributes), device, hour (context), item and its
 * category (item side). logit = bias + item effect + A[age][category] + B[device][hour]
 * + C[gender][device][category] + w * [the target's category is among the categories of the
 * `recent` most recent history events] - w/2, label ~ Bernoulli(sigmoid(logit + noise * N(0,1))).
 * The latest events follow a per-row session interest and only they count for the pattern,
 * so recency-aware aggregation (last, attention with positions, gru) can beat `mean`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"
#include "ameir/rng.h"
#include "prep_internal.h"

enum { S_USER, S_AGE, S_GENDER, S_CITY, S_DEVICE, S_HOUR, S_ITEM, S_CATEGORY, S_NFIELDS };
static const char *const names[S_NFIELDS] = {"user", "age", "gender", "city", "device", "hour", "item", "category"};
#define N_AGE 7
#define N_GENDER 2
#define N_CITY 50
#define N_DEVICE 5
#define N_HOUR 24
#define SEQ_WEIGHT 3.0
#define PREFERRED 3

typedef struct world {
    int n_users, n_items, n_cat, L, recent;
    int *u_age, *u_gender, *u_city, *u_pref; /* u_pref (users, PREFERRED) */
    int *i_cat;                              /* item -> category */
    int *cat_items, *cat_start;              /* items grouped by category */
    double *i_bias, *pair_a, *pair_b, *triple;
} world;

static void world_free(world *w) {
    free(w->u_age);
    free(w->u_gender);
    free(w->u_city);
    free(w->u_pref);
    free(w->i_cat);
    free(w->cat_items);
    free(w->cat_start);
    free(w->i_bias);
    free(w->pair_a);
    free(w->pair_b);
    free(w->triple);
}

static int world_init(world *w, const dcfg *c) {
    const dcfg_synth *s = &c->synth;
    memset(w, 0, sizeof *w);
    w->n_users = s->users;
    w->n_items = s->items;
    w->n_cat = s->categories;
    w->L = s->seq_len;
    w->recent = s->recent;
    size_t U = (size_t)s->users, I = (size_t)s->items, C = (size_t)s->categories;
    w->u_age = malloc(U * sizeof(int));
    w->u_gender = malloc(U * sizeof(int));
    w->u_city = malloc(U * sizeof(int));
    w->u_pref = malloc(U * PREFERRED * sizeof(int));
    w->i_cat = malloc(I * sizeof(int));
    w->cat_items = malloc(I * sizeof(int));
    w->cat_start = calloc(C + 1, sizeof(int));
    w->i_bias = malloc(I * sizeof(double));
    w->pair_a = malloc(N_AGE * C * sizeof(double));
    w->pair_b = malloc(N_DEVICE * N_HOUR * sizeof(double));
    w->triple = malloc(N_GENDER * N_DEVICE * C * sizeof(double));
    if (!w->u_age || !w->u_gender || !w->u_city || !w->u_pref || !w->i_cat || !w->cat_items || !w->cat_start ||
        !w->i_bias || !w->pair_a || !w->pair_b || !w->triple)
        return ameir_fail(AMEIR_ENOMEM, "out of memory for the synthetic world");
    ameir_rng r = ameir_rng_stream(c->seed, 0x5e7);
    for (size_t u = 0; u < U; u++) {
        w->u_age[u] = (int)ameir_rng_below(&r, N_AGE);
        w->u_gender[u] = (int)ameir_rng_below(&r, N_GENDER);
        w->u_city[u] = (int)ameir_rng_below(&r, N_CITY);
        for (int k = 0; k < PREFERRED; k++)
            w->u_pref[u * PREFERRED + k] = (int)ameir_rng_below(&r, C);
    }
    /* every category gets items: a shuffled round robin */
    int64_t *perm = malloc(I * sizeof *perm);
    if (!perm)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (size_t i = 0; i < I; i++)
        perm[i] = (int64_t)i;
    ameir_rng_shuffle_i64(&r, perm, I);
    for (size_t i = 0; i < I; i++)
        w->i_cat[perm[i]] = (int)(i % C);
    free(perm);
    for (size_t i = 0; i < I; i++)
        w->cat_start[w->i_cat[i] + 1]++;
    for (size_t k = 0; k < C; k++)
        w->cat_start[k + 1] += w->cat_start[k];
    int *fill = calloc(C, sizeof *fill);
    if (!fill)
        return ameir_fail(AMEIR_ENOMEM, "out of memory");
    for (size_t i = 0; i < I; i++) {
        int k = w->i_cat[i];
        w->cat_items[w->cat_start[k] + fill[k]++] = (int)i;
    }
    free(fill);
    for (size_t i = 0; i < I; i++)
        w->i_bias[i] = 0.3 * ameir_rng_normal(&r);
    for (size_t i = 0; i < N_AGE * C; i++)
        w->pair_a[i] = ameir_rng_normal(&r);
    for (size_t i = 0; i < N_DEVICE * N_HOUR; i++)
        w->pair_b[i] = ameir_rng_normal(&r);
    for (size_t i = 0; i < N_GENDER * N_DEVICE * C; i++)
        w->triple[i] = ameir_rng_normal(&r);
    return 0;
}

/* A uniform item of category k. */
static int draw_item(const world *w, ameir_rng *r, int k) {
    int n = w->cat_start[k + 1] - w->cat_start[k];
    return w->cat_items[w->cat_start[k] + (int)ameir_rng_below(r, (uint64_t)n)];
}

/* A category: one of the user's preferred ones with probability p, else any. */
static int draw_category(const world *w, ameir_rng *r, int u, double p) {
    return ameir_rng_uniform(r) < p ? w->u_pref[u * PREFERRED + (int)ameir_rng_below(r, PREFERRED)]
                                    : (int)ameir_rng_below(r, (uint64_t)w->n_cat);
}

/* One row; returns the noiseless logit. v holds raw values (ids are value + 2).
 * Interest drifts: the `recent` latest events mostly come from the row's current session
 * category, older ones from the user's long-term preferences, so recency carries signal. */
static double draw_row(const world *w, ameir_rng *r, int *v, int *hist, int *hlen) {
    int u = (int)ameir_rng_below(r, (uint64_t)w->n_users);
    v[S_USER] = u;
    v[S_AGE] = w->u_age[u];
    v[S_GENDER] = w->u_gender[u];
    v[S_CITY] = w->u_city[u];
    v[S_DEVICE] = (int)ameir_rng_below(r, N_DEVICE);
    v[S_HOUR] = (int)ameir_rng_below(r, N_HOUR);
    int session = draw_category(w, r, u, 0.5);
    int n = w->L / 4 + (int)ameir_rng_below(r, (uint64_t)(w->L - w->L / 4 + 1));
    for (int j = 0; j < n; j++) {
        int recent = j >= n - w->recent;
        hist[j] = draw_item(w, r, recent && ameir_rng_uniform(r) < 0.7 ? session : draw_category(w, r, u, 0.6));
    }
    *hlen = n;
    int cat = ameir_rng_uniform(r) < 0.4 ? session : draw_category(w, r, u, 0.5);
    int item = draw_item(w, r, cat);
    v[S_ITEM] = item;
    v[S_CATEGORY] = cat;
    int match = 0;
    for (int j = n - 1; j >= 0 && j >= n - w->recent; j--)
        match |= w->i_cat[hist[j]] == cat;
    return w->i_bias[item] + w->pair_a[v[S_AGE] * w->n_cat + cat] + w->pair_b[v[S_DEVICE] * N_HOUR + v[S_HOUR]] +
           w->triple[(v[S_GENDER] * N_DEVICE + v[S_DEVICE]) * w->n_cat + cat] + SEQ_WEIGHT * (match - 0.5);
}

typedef struct scored {
    double s;
    float y;
} scored;

static int cmp_scored(const void *a, const void *b) {
    double p = ((const scored *)a)->s, q = ((const scored *)b)->s;
    return (p > q) - (p < q);
}

/* AUC of scores against labels (ties count half), for the oracle number in the ground truth. */
static double auc(scored *v, int64_t n) {
    qsort(v, (size_t)n, sizeof *v, cmp_scored);
    double pos = 0, neg = 0, rank_sum = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        double mid = 0.5 * (double)(i + j - 1) + 1;
        for (int64_t k = i; k < j; k++)
            if (v[k].y > 0.5) {
                rank_sum += mid;
                pos++;
            }
        i = j;
    }
    neg = (double)n - pos;
    return pos > 0 && neg > 0 ? (rank_sum - pos * (pos + 1) / 2) / (pos * neg) : 0.5;
}

static cJSON *truth_json(const dcfg *c, double oracle_auc, double pos_rate) {
    cJSON *t = cJSON_CreateObject();
    cJSON *inter = cJSON_AddArrayToObject(t, "interactions");
    const char *const groups[3][3] = {{"age", "category", NULL}, {"device", "hour", NULL}, {"gender", "device", "category"}};
    for (int g = 0; g < 3; g++) {
        cJSON *a = cJSON_CreateArray();
        for (int k = 0; k < 3 && groups[g][k]; k++)
            cJSON_AddItemToArray(a, cJSON_CreateString(groups[g][k]));
        cJSON_AddItemToArray(inter, a);
    }
    cJSON *p = cJSON_AddObjectToObject(t, "sequence_pattern");
    cJSON_AddStringToObject(p, "rule", "target category among the categories of the `recent` most recent history events (which mostly follow the row's session interest; older events follow the user's long-term preferences)");
    cJSON_AddNumberToObject(p, "recent", c->synth.recent);
    cJSON_AddNumberToObject(p, "weight", SEQ_WEIGHT);
    cJSON_AddStringToObject(t, "first_order", "item bias N(0, 0.3^2)");
    cJSON_AddNumberToObject(t, "noise", c->synth.noise);
    cJSON_AddNumberToObject(t, "oracle_test_auc", round(oracle_auc * 1e6) / 1e6);
    cJSON_AddNumberToObject(t, "train_positive_rate", round(pos_rate * 1e6) / 1e6);
    return t;
}

int synth_generate(prep_out *o, const dcfg *c) {
    world w;
    int rc = world_init(&w, c);
    int *hist = malloc((size_t)c->synth.seq_len * sizeof *hist);
    scored *sc = malloc((size_t)c->synth.rows[2] * sizeof *sc);
    if (rc >= 0 && (!hist || !sc))
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
    if (rc < 0)
        goto done;
    ameir_schema *s = &o->schema;
    const int vocab[S_NFIELDS] = {w.n_users, N_AGE, N_GENDER, N_CITY, N_DEVICE, N_HOUR, w.n_items, w.n_cat};
    s->task = AMEIR_TASK_CTR;
    s->n_fields = S_NFIELDS;
    for (int f = 0; f < S_NFIELDS; f++) {
        ameir_field *fd = &s->fields[f];
        snprintf(fd->name, sizeof fd->name, "%s", names[f]);
        fd->vocab = vocab[f] + 2;
        fd->width = 1;
        fd->offset = f;
        fd->is_item = f == S_ITEM || f == S_CATEGORY;
        fd->item_offset = f == S_CATEGORY ? 1 : 0;
        const char **v = malloc((size_t)fd->vocab * sizeof *v);
        if (!v) {
            rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
            goto done;
        }
        o->vocab[f] = v;
        v[0] = "<pad>";
        v[1] = "<oov>";
        for (int i = 0; i < vocab[f]; i++) {
            char b[48];
            int n = snprintf(b, sizeof b, "%s%d", names[f], i);
            if (!(v[i + 2] = arena_strdup(&o->arena, b, (size_t)n))) {
                rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
                goto done;
            }
        }
    }
    s->x_width = S_NFIELDS;
    s->item_field = S_ITEM;
    s->item_width = 2;
    s->seq_len = w.L;
    o->n_items = w.n_items + 2;
    o->n_users = w.n_users;
    o->items = calloc((size_t)o->n_items * 2, sizeof *o->items);
    if (!o->items) {
        rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
        goto done;
    }
    o->items[2] = 1;
    for (int i = 0; i < w.n_items; i++) {
        o->items[(i + 2) * 2] = i + 2;
        o->items[(i + 2) * 2 + 1] = w.i_cat[i] + 2;
    }
    double pos = 0;
    for (int sp = 0; sp < 3; sp++) {
        prep_split *ps = &o->split[sp];
        int64_t n = c->synth.rows[sp];
        ps->x = malloc((size_t)n * S_NFIELDS * sizeof *ps->x);
        ps->hist = calloc((size_t)n * (size_t)w.L, sizeof *ps->hist);
        ps->label = malloc((size_t)n * sizeof *ps->label);
        ps->user = malloc((size_t)n * sizeof *ps->user);
        if (!ps->x || !ps->hist || !ps->label || !ps->user) {
            rc = ameir_fail(AMEIR_ENOMEM, "out of memory");
            goto done;
        }
        ameir_rng base = ameir_rng_stream(c->seed, 0x5e70 + (uint64_t)sp);
        for (int64_t k = 0; k < n; k++) {
            ameir_rng r = ameir_rng_split(&base, (uint64_t)k);
            int v[S_NFIELDS], hl = 0;
            double logit = draw_row(&w, &r, v, hist, &hl);
            double noisy = logit + c->synth.noise * ameir_rng_normal(&r);
            float y = ameir_rng_uniform(&r) < 1.0 / (1.0 + exp(-noisy)) ? 1.0f : 0.0f;
            for (int f = 0; f < S_NFIELDS; f++)
                ps->x[k * S_NFIELDS + f] = v[f] + 2;
            for (int j = 0; j < hl; j++)
                ps->hist[k * w.L + (w.L - hl) + j] = hist[j] + 2;
            ps->label[k] = y;
            ps->user[k] = v[S_USER];
            if (sp == 0)
                pos += y;
            if (sp == 2)
                sc[k] = (scored){logit, y};
        }
        ps->n = n;
    }
    o->truth = truth_json(c, auc(sc, c->synth.rows[2]), pos / (double)c->synth.rows[0]);
done:
    free(hist);
    free(sc);
    world_free(&w);
    return rc;
}
