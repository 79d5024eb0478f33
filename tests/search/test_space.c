/* The search space: sizes computed by hand, enumeration of small subspaces (every member
 * once, all inside), distinct random draws inside the subspace, determinism per seed,
 * composition with a base architecture. */
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/search.h"

static ameir_schema schema_n(int n) {
    static const char *const names[] = {"user", "item", "gender", "age", "city", "genre"};
    ameir_schema s;
    memset(&s, 0, sizeof s);
    s.n_fields = n;
    for (int f = 0; f < n; f++) {
        snprintf(s.fields[f].name, AMEIR_FIELD_NAME_MAX, "%s", names[f]);
        s.fields[f].vocab = 10, s.fields[f].width = 1, s.fields[f].offset = f;
    }
    s.x_width = n;
    return s;
}

/* Config from the three stage objects (schedules added), resolved with n_fields fields. */
static ameir_search_config *make(const char *behavior, const char *interaction, const char *mlp, long seed, int n_fields) {
    char text[4096];
    ameir_search_config *cfg = NULL;
    snprintf(text, sizeof text,
             "{\"data\": \"d\", \"seed\": %ld, \"d\": 8,"
             " \"behavior\": {%s%s\"schedule\": {\"n\": 4, \"eta\": 2, \"r\": 1, \"R\": 4}},"
             " \"interaction\": {%s%s\"schedule\": {\"n\": 4, \"eta\": 2, \"r\": 1, \"R\": 4}},"
             " \"mlp\": {%s%s\"schedule\": {\"n\": 4, \"eta\": 2, \"r\": 1, \"R\": 4}},"
             " \"defaults\": {\"behavior\": {\"blocks\": [{\"op\": \"gru\", \"norm\": \"none\", \"act\": \"identity\"}],"
             " \"aggregate\": \"last\"}, \"interactions\": [[\"user\", \"item\"]],"
             " \"mlp\": {\"layers\": [{\"units\": 32, \"act\": \"relu\"}]}}}",
             seed, behavior, *behavior ? ", " : "", interaction, *interaction ? ", " : "", mlp, *mlp ? ", " : "");
    if (ameir_search_config_parse(&cfg, text, "space.json", ".") < 0) {
        fprintf(stderr, "config: %s\n", ameir_last_error());
        exit(1);
    }
    ameir_schema s = schema_n(n_fields);
    if (ameir_search_config_resolve(cfg, &s) < 0) {
        fprintf(stderr, "resolve: %s\n", ameir_last_error());
        exit(1);
    }
    return cfg;
}

/* Draw n from a stage; check distinct, inside, valid, and that the other parts are the base's. */
static int draw_check(const ameir_search_config *cfg, int stage, int n, ameir_arch *out) {
    int got = -1;
    CHECK_EQ_INT(ameir_space_draw(cfg, stage, &cfg->defaults, n, out, &got), 0);
    for (int i = 0; i < got; i++) {
        CHECK(ameir_space_contains(cfg, stage, &out[i]));
        CHECK_EQ_INT(ameir_arch_validate(&out[i], "drawn"), 0);
        for (int j = 0; j < i; j++)
            CHECK(!ameir_arch_equal(&out[i], &out[j]));
        for (int s = 0; s < AMEIR_N_STAGES; s++) {
            if (s == stage)
                continue;
            ameir_arch other = out[i]; /* replacing another stage's part by the base's changes nothing */
            ameir_arch_set_part(&other, &cfg->defaults, s);
            CHECK(ameir_arch_equal(&other, &out[i]));
        }
    }
    return got;
}

static void check_small_behavior(void) {
    /* per block: gru x 2 norms x 2 acts + zero = 5; blocks 0..2: 1 + 5 + 25 = 31 */
    ameir_search_config *cfg = make("\"min_blocks\": 0, \"max_blocks\": 2, \"ops\": [\"zero\", \"gru\"], "
                                    "\"acts\": [\"relu\", \"gelu\"], \"aggregates\": [\"mean\"], \"positions\": [false]",
                                    "", "", 1, 4);
    ameir_arch *out = malloc(40 * sizeof *out);
    CHECK_EQ_INT(ameir_space_size(cfg, AMEIR_STAGE_BEHAVIOR), 31);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_BEHAVIOR, 40, out), 31); /* all of them */
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_BEHAVIOR, 31, out), 31);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_BEHAVIOR, 30, out), 30); /* random path, nearly all */
    /* a zero block is canonical: first norm and act of the lists */
    ameir_arch a = cfg->defaults;
    a.n_blocks = 1;
    a.blocks[0] = (ameir_block){.op = AMEIR_OP_ZERO, .norm = AMEIR_NORM_LAYERNORM, .act = 1};
    a.aggregate = 1; /* mean */
    a.positions = 0;
    CHECK(!ameir_space_contains(cfg, AMEIR_STAGE_BEHAVIOR, &a));
    a.blocks[0].norm = AMEIR_NORM_NONE;
    CHECK(ameir_space_contains(cfg, AMEIR_STAGE_BEHAVIOR, &a));
    a.blocks[0] = (ameir_block){.op = AMEIR_OP_CONV, .option = 3, .norm = AMEIR_NORM_NONE, .act = 1};
    CHECK(!ameir_space_contains(cfg, AMEIR_STAGE_BEHAVIOR, &a)); /* conv not allowed */
    free(out);
    ameir_search_config_free(cfg);

    /* ops crossed with options: conv [3, 5] + attention [1, 2] (d = 8) = 4 pairs */
    cfg = make("\"min_blocks\": 1, \"max_blocks\": 1, \"ops\": [\"conv\", \"attention\"], \"conv_kernels\": [3, 5], "
               "\"attention_heads\": [1, 2], \"norms\": [\"none\"], \"acts\": [\"relu\"], "
               "\"aggregates\": [\"mean\", \"last\"], \"positions\": [false, true]",
               "", "", 1, 4);
    CHECK_EQ_INT(cfg->behavior.n_ops, 4);
    CHECK_EQ_INT(ameir_space_size(cfg, AMEIR_STAGE_BEHAVIOR), 16);
    out = malloc(16 * sizeof *out);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_BEHAVIOR, 16, out), 16);
    int kernels5 = 0;
    for (int i = 0; i < 16; i++)
        kernels5 += out[i].blocks[0].op == AMEIR_OP_CONV && out[i].blocks[0].option == 5;
    CHECK_EQ_INT(kernels5, 4);
    free(out);
    ameir_search_config_free(cfg);
}

static void check_interactions(void) {
    /* 4 fields, order 2: 6 groups; 1 or 2 groups: 6 + 15 = 21 */
    ameir_search_config *cfg = make("", "\"max_order\": 2, \"min_interactions\": 1, \"max_interactions\": 2", "", 1, 4);
    ameir_arch *out = malloc(64 * sizeof *out);
    CHECK_EQ_INT(ameir_space_size(cfg, AMEIR_STAGE_INTERACTION), 21);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_INTERACTION, 25, out), 21);
    ameir_search_config_free(cfg);
    /* order up to 3: 6 + 4 = 10 groups; 0..2 of them: 1 + 10 + 45 = 56 */
    cfg = make("", "\"max_order\": 3, \"max_interactions\": 2, \"generations\": 1", "", 1, 4);
    CHECK_EQ_INT(ameir_space_size(cfg, AMEIR_STAGE_INTERACTION), 56);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_INTERACTION, 56, out), 56);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_INTERACTION, 50, out), 50);
    ameir_search_config_free(cfg);
    /* named candidate fields only; 6 fields in the dataset, 3 named, order 2..4: 3 + 1 = 4 groups */
    cfg = make("", "\"max_order\": 4, \"min_interactions\": 1, \"max_interactions\": 3, \"generations\": 1, "
                   "\"fields\": [\"genre\", \"user\", \"city\"]",
               "", 1, 6);
    CHECK_EQ_INT(ameir_space_size(cfg, AMEIR_STAGE_INTERACTION), 4 + 6 + 4);
    int got = draw_check(cfg, AMEIR_STAGE_INTERACTION, 20, out);
    CHECK_EQ_INT(got, 14);
    for (int i = 0; i < got; i++)
        for (int g = 0; g < out[i].n_interactions; g++)
            for (int j = 0; j < out[i].interactions[g].order; j++) {
                const char *f = out[i].interactions[g].fields[j];
                CHECK(!strcmp(f, "genre") || !strcmp(f, "user") || !strcmp(f, "city"));
            }
    ameir_search_config_free(cfg);
    /* large space: random path; fields from the dataset (6), up to 8 groups of order <= 4 */
    cfg = make("", "\"max_order\": 4, \"max_interactions\": 8, \"generations\": 1", "", 3, 6);
    CHECK_EQ_INT(cfg->interaction.n_fields, 6);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_INTERACTION, 64, out), 64);
    int high = 0;
    for (int i = 0; i < 64; i++)
        for (int g = 0; g < out[i].n_interactions; g++)
            high += out[i].interactions[g].order > 2;
    CHECK(high > 0);
    ameir_search_config_free(cfg);
    /* in generations (the default: max_order of them) the first draws have order-2 groups only */
    cfg = make("", "\"max_order\": 4, \"max_interactions\": 8", "", 3, 6);
    CHECK_EQ_INT(cfg->interaction.generations, 4);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_INTERACTION, 64, out), 64);
    for (int i = 0; i < 64; i++)
        for (int g = 0; g < out[i].n_interactions; g++)
            CHECK_EQ_INT(out[i].interactions[g].order, 2);
    /* children: new, inside, orders at most 2 + generation, and some grown */
    ameir_arch *kids = malloc(64 * sizeof *kids);
    /* the parents and seen archs go packed, as the trial table keeps them */
    ameir_arch_names names;
    CHECK_EQ_INT(ameir_arch_names_init(&names, cfg), 0);
    ameir_arch_packed packed[64];
    const ameir_arch_packed *outp[64];
    for (int i = 0; i < 64; i++) {
        CHECK_EQ_INT(ameir_arch_pack(&names, &out[i], &packed[i]), 0);
        ameir_arch back;
        ameir_arch_unpack(&names, &packed[i], &back);
        CHECK(ameir_arch_equal(&back, &out[i]));
        outp[i] = &packed[i];
    }
    for (int gen = 1; gen <= 2; gen++) {
        int got_k = -1, grown = 0;
        CHECK_EQ_INT(ameir_space_evolve(cfg, &names, &cfg->defaults, outp, 4, outp, 64, gen, 32, kids, &got_k), 0);
        CHECK_EQ_INT(got_k, 32);
        for (int i = 0; i < got_k; i++) {
            CHECK(ameir_space_contains(cfg, AMEIR_STAGE_INTERACTION, &kids[i]));
            for (int j = 0; j < 64; j++)
                CHECK(!ameir_arch_equal(&kids[i], &out[j]));
            for (int j = 0; j < i; j++)
                CHECK(!ameir_arch_equal(&kids[i], &kids[j]));
            for (int g = 0; g < kids[i].n_interactions; g++) {
                CHECK(kids[i].interactions[g].order <= 2 + gen);
                grown += kids[i].interactions[g].order > 2;
            }
        }
        CHECK(grown > 0);
        /* deterministic: the same call gives the same children */
        ameir_arch again[32];
        int got2 = -1;
        CHECK_EQ_INT(ameir_space_evolve(cfg, &names, &cfg->defaults, outp, 4, outp, 64, gen, 32, again, &got2), 0);
        CHECK_EQ_INT(got2, got_k);
        for (int i = 0; i < got2; i++)
            CHECK(ameir_arch_equal(&again[i], &kids[i]));
    }
    free(kids);
    free(out);
    ameir_search_config_free(cfg);
}

static void check_mlp(void) {
    /* widths 2 x acts 1; depth 0: no shortcut (1); depth 1: 2 x 2; depth 2: 4 x 2 => 13 */
    ameir_search_config *cfg = make("", "", "\"min_layers\": 0, \"max_layers\": 2, \"widths\": [8, 16], \"acts\": [\"relu\"]", 1, 4);
    ameir_arch out[16];
    CHECK_EQ_INT(ameir_space_size(cfg, AMEIR_STAGE_MLP), 13);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_MLP, 16, out), 13);
    for (int i = 0; i < 13; i++)
        CHECK(!(out[i].n_mlp == 0 && out[i].shortcut));
    ameir_search_config_free(cfg);
    /* shortcut [true] only: depth 0 is not a member */
    cfg = make("", "", "\"min_layers\": 0, \"max_layers\": 1, \"widths\": [8, 16, 32], \"acts\": [\"relu\"], \"shortcut\": [true]", 1, 4);
    CHECK_EQ_INT(ameir_space_size(cfg, AMEIR_STAGE_MLP), 3);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_MLP, 2, out), 2);
    for (int i = 0; i < 2; i++)
        CHECK(out[i].n_mlp == 1 && out[i].shortcut == 1);
    ameir_search_config_free(cfg);
    /* false, true and "se": depth 0 once, depth 1: 2 widths x 3 shortcuts => 7, each shortcut drawn */
    cfg = make("", "", "\"min_layers\": 0, \"max_layers\": 1, \"widths\": [8, 16], \"acts\": [\"relu\"], \"shortcut\": [false, true, \"se\"]", 1, 4);
    CHECK_EQ_INT(ameir_space_size(cfg, AMEIR_STAGE_MLP), 7);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_MLP, 16, out), 7);
    int seen[AMEIR_SHORTCUT_COUNT] = {0};
    for (int i = 0; i < 7; i++) {
        CHECK(!(out[i].n_mlp == 0 && out[i].shortcut));
        seen[out[i].shortcut]++;
    }
    CHECK_EQ_INT(seen[AMEIR_SHORTCUT_SE], 2);
    ameir_search_config_free(cfg);
    /* "se" only: depth 0 is not a member */
    cfg = make("", "", "\"min_layers\": 0, \"max_layers\": 1, \"widths\": [8], \"acts\": [\"relu\"], \"shortcut\": [\"se\"]", 1, 4);
    CHECK_EQ_INT(ameir_space_size(cfg, AMEIR_STAGE_MLP), 1);
    CHECK_EQ_INT(draw_check(cfg, AMEIR_STAGE_MLP, 4, out), 1);
    CHECK(out[0].n_mlp == 1 && out[0].shortcut == AMEIR_SHORTCUT_SE);
    ameir_search_config_free(cfg);
}

static int same_draws(const ameir_arch *a, const ameir_arch *b, int n) {
    for (int i = 0; i < n; i++)
        if (!ameir_arch_equal(&a[i], &b[i]))
            return 0;
    return 1;
}

static void check_determinism(void) {
    ameir_search_config *c1 = make("", "", "", 5, 4), *c2 = make("", "", "", 5, 4), *c3 = make("", "", "", 6, 4);
    ameir_arch *x = malloc(3 * 20 * sizeof *x), *y = x + 20, *z = y + 20;
    int nx, ny, nz;
    CHECK(ameir_space_size(c1, AMEIR_STAGE_BEHAVIOR) > 1000000); /* the default behaviour space is large */
    for (int s = 0; s < AMEIR_N_STAGES; s++) {
        CHECK_EQ_INT(ameir_space_draw(c1, s, &c1->defaults, 20, x, &nx), 0);
        CHECK_EQ_INT(ameir_space_draw(c2, s, &c2->defaults, 20, y, &ny), 0);
        CHECK_EQ_INT(ameir_space_draw(c3, s, &c3->defaults, 20, z, &nz), 0);
        CHECK_EQ_INT(nx, 20);
        CHECK(same_draws(x, y, 20));  /* same seed, same candidates */
        CHECK(!same_draws(x, z, 20)); /* another seed, others */
        draw_check(c1, s, 20, x);
    }
    /* composition: the base's other parts are kept (an earlier winner, a later default) */
    ameir_arch base = c1->defaults;
    base.n_blocks = 0;
    base.aggregate = 0; /* as if behaviour had been won by "no blocks, target attention" */
    CHECK_EQ_INT(ameir_space_draw(c1, AMEIR_STAGE_INTERACTION, &base, 20, x, &nx), 0);
    for (int i = 0; i < nx; i++) {
        CHECK_EQ_INT(x[i].n_blocks, 0);
        CHECK_EQ_INT(x[i].aggregate, 0);
        CHECK_EQ_INT(x[i].n_mlp, 1);
        CHECK_EQ_INT(x[i].mlp[0].units, 32);
    }
    /* the draws do not depend on the base */
    CHECK_EQ_INT(ameir_space_draw(c1, AMEIR_STAGE_INTERACTION, &c1->defaults, 20, z, &nz), 0);
    for (int i = 0; i < nz; i++) {
        ameir_arch t = c1->defaults;
        ameir_arch_set_part(&t, &x[i], AMEIR_STAGE_INTERACTION);
        CHECK(ameir_arch_equal(&t, &z[i]));
    }
    free(x);
    ameir_search_config_free(c1);
    ameir_search_config_free(c2);
    ameir_search_config_free(c3);
}

static void check_empty(void) {
    /* 2 fields, order 2: one group, but at least 2 groups asked for */
    ameir_search_config *cfg = make("", "\"min_interactions\": 2, \"max_interactions\": 3", "", 1, 2);
    ameir_arch out[4];
    int n = -1;
    CHECK_EQ_INT(ameir_space_size(cfg, AMEIR_STAGE_INTERACTION), 0);
    CHECK_EQ_INT(ameir_space_draw(cfg, AMEIR_STAGE_INTERACTION, &cfg->defaults, 4, out, &n), AMEIR_ECONFIG);
    CHECK_STR_CONTAINS(ameir_last_error(), "space.json: interaction: the subspace is empty");
    ameir_search_config_free(cfg);
}

int main(void) {
    check_small_behavior();
    check_interactions();
    check_mlp();
    check_determinism();
    check_empty();
    return check_finish("test_space");
}
