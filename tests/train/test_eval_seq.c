/* Seq evaluation that encodes each history once (ameir_evaluate, ameir_net_predict_candidates)
 * against the reference that runs every candidate row through the whole network
 * (ameir_evaluate_reference, ameir_net_predict): every logit and every metric bit for bit,
 * for each aggregate with positions on and off, every block op, interactions with fields
 * that are not the item, the linear and the se shortcut, no hidden layer, at d 16 and 32, 1 and 2 threads, and
 * a last batch that is not full. Data: ml-100k as next-item data with the user attributes
 * (tests/train/ml100k-seq-user.json), prepared here; argv[1] the config, argv[2] the
 * MovieLens directory, argv[3] a scratch directory. Skips (77) without the data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/check.h"
#include "ameir/arch.h"
#include "ameir/dataset.h"
#include "ameir/error.h"
#include "ameir/net.h"
#include "ameir/train.h"

#define USERS 47 /* of the valid split: 2 full batches of 20 users and one of 7 at batch 2000 */

static const char *const blocks[] = {
    "{\"norm\":\"layernorm\",\"op\":\"attention\",\"heads\":2,\"act\":\"gelu\"},"
    "{\"norm\":\"none\",\"op\":\"conv\",\"kernel\":3,\"act\":\"relu\"}",
    "{\"norm\":\"none\",\"op\":\"gru\",\"act\":\"identity\"},{\"norm\":\"layernorm\",\"op\":\"maxpool\",\"act\":\"swish\"}",
    "{\"norm\":\"layernorm\",\"op\":\"conv\",\"kernel\":1,\"act\":\"relu\"},{\"norm\":\"none\",\"op\":\"zero\",\"act\":\"identity\"},"
    "{\"norm\":\"none\",\"op\":\"avgpool\",\"act\":\"identity\"}",
    "",
};
static const char *const aggregates[] = {"target_attention", "mean", "last"};
static const char *const mlps[] = {
    "{\"layers\":[{\"units\":64,\"act\":\"relu\"},{\"units\":24,\"act\":\"swish\"}],\"shortcut\":true}",
    "{\"layers\":[],\"shortcut\":false}",
    "{\"layers\":[{\"units\":32,\"act\":\"gelu\"}],\"shortcut\":\"se\"}",
};

static int same_metrics(const ameir_metrics *a, const ameir_metrics *b) {
    return a->rows == b->rows && !memcmp(&a->hr1, &b->hr1, sizeof a->hr1) && !memcmp(&a->hr5, &b->hr5, sizeof a->hr5) &&
           !memcmp(&a->hr10, &b->hr10, sizeof a->hr10) && !memcmp(&a->ndcg5, &b->ndcg5, sizeof a->ndcg5) &&
           !memcmp(&a->ndcg10, &b->ndcg10, sizeof a->ndcg10) && !memcmp(&a->mrr, &b->mrr, sizeof a->mrr);
}

/* Every logit of both paths over the loaded users, in batches of `per` users; returns the
 * number of differing logits and counts the distinct values seen within one user (so that a
 * network whose logits do not depend on the candidate cannot pass unnoticed). */
/* Point view at users slot j of a batch of groups of nc rows. */
static void group_view(ameir_batch *view, const ameir_batch *b, const ameir_schema *s, int j, int nc) {
    size_t r = (size_t)j * nc;
    *view = *b;
    view->x = b->x + r * s->x_width;
    view->hist = b->hist + r * s->seq_len * s->item_width;
    view->label = b->label + r;
    view->user = b->user + r;
    view->row = b->row + r;
    view->cap = nc;
}

/* Every logit of both paths over the loaded users, in batches of `per` users: the reference
 * on every row's own copy of the history, the one encoding per history on a batch filled by
 * ameir_split_fill_candidates_once (history in a group's first row only; the others hold
 * zeros, i.e. empty histories, which would show if they were read). Returns the number of
 * differing logits and counts the distinct values seen within one user (so that a network
 * whose logits do not depend on the candidate cannot pass unnoticed). */
static long compare_logits(ameir_net *net, const ameir_split *sp, const ameir_schema *s, int per, long *distinct) {
    int nc = s->n_candidates;
    int64_t users = ameir_split_rows(sp);
    ameir_batch b = {0}, bo = {0};
    float *ref = malloc(sizeof *ref * (size_t)per * nc), *fast = malloc(sizeof *fast * (size_t)per * nc);
    long bad = 0;
    if (!ref || !fast || ameir_batch_init(&b, s, per * nc) < 0 || ameir_batch_init(&bo, s, per * nc) < 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memset(bo.hist, 0, sizeof *bo.hist * (size_t)per * nc * s->seq_len * s->item_width);
    for (int64_t u0 = 0; u0 < users; u0 += per) {
        int k = (int)(users - u0 < per ? users - u0 : per);
        for (int j = 0; j < k; j++) {
            ameir_batch view;
            group_view(&view, &b, s, j, nc);
            ameir_split_fill_candidates(sp, u0 + j, &view);
            group_view(&view, &bo, s, j, nc);
            ameir_split_fill_candidates_once(sp, u0 + j, &view);
        }
        b.n = bo.n = k * nc;
        ameir_net_predict(net, &b, ref);
        ameir_net_predict_candidates(net, &bo, nc, fast);
        for (int i = 0; i < b.n; i++)
            if (memcmp(&ref[i], &fast[i], sizeof *ref)) {
                if (bad < 3)
                    fprintf(stderr, "  logit %lld/%d: reference %.9g, one encoding %.9g\n", (long long)(u0 + i / nc),
                            i % nc, ref[i], fast[i]);
                bad++;
            }
        for (int i = 1; i < nc; i++)
            *distinct += ref[i] != ref[0];
    }
    ameir_batch_destroy(&b);
    ameir_batch_destroy(&bo);
    free(ref);
    free(fast);
    return bad;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: test_eval_seq CONFIG ML100K_DIR SCRATCH\n");
        return 2;
    }
    char probe[4096], data[4096];
    struct stat st;
    snprintf(probe, sizeof probe, "%s/u.data", argv[2]);
    if (stat(probe, &st) != 0) {
        printf("skip: no MovieLens-100K at %s\n", argv[2]);
        return 77;
    }
    snprintf(data, sizeof data, "%s/ml100k-seq-user", argv[3]);
    ameir_dataset *ds = NULL;
    ameir_split *sp = NULL;
    if (ameir_prep(argv[1], argv[2], data, 0, -1) < 0 || ameir_dataset_open(&ds, data) < 0 ||
        ameir_split_load(&sp, ds, "valid", 0, USERS) < 0) {
        fprintf(stderr, "prep/open: %s\n", ameir_last_error());
        return 1;
    }
    const ameir_schema *s = ameir_dataset_schema(ds);
    int nb = (int)(sizeof blocks / sizeof *blocks), na = (int)(sizeof aggregates / sizeof *aggregates);
    int nm = (int)(sizeof mlps / sizeof *mlps), cases = 0;
    for (int bi = 0; bi < nb; bi++)
        for (int ai = 0; ai < na; ai++)
            for (int pos = 0; pos < 2; pos++) {
                int mi = (bi + ai + pos) % nm, d = (bi + ai) % 2 ? 32 : 16, threads = 1 + (bi + pos) % 2;
                char text[2048];
                snprintf(text, sizeof text,
                         "{\"behavior\":{\"blocks\":[%s],\"aggregate\":\"%s\",\"positions\":%s},"
                         "\"interactions\":%s,\"mlp\":%s}",
                         blocks[bi], aggregates[ai], pos ? "true" : "false",
                         (bi + ai) % 2 ? "[[\"occupation\",\"movie\"],[\"gender\",\"age\",\"genre\"]]" : "[]", mlps[mi]);
                ameir_arch arch;
                ameir_net *net = NULL;
                /* batch 2000 = 20 users per forward pass, like a training batch of 1000 */
                if (ameir_arch_parse(&arch, text, "test") < 0 || ameir_net_create(&net, &arch, s, d, 2000, 7) < 0 ||
                    ameir_net_set_threads(net, threads) < 0) {
                    fprintf(stderr, "%s: %s\n", text, ameir_last_error());
                    return 1;
                }
                ameir_metrics fast, ref;
                CHECK_EQ_INT(ameir_evaluate(net, sp, &fast), 0);
                CHECK_EQ_INT(ameir_evaluate_reference(net, sp, &ref), 0);
                int same = same_metrics(&fast, &ref);
                CHECK(same);
                long distinct = 0;
                long bad = compare_logits(net, sp, s, 6, &distinct); /* 6 users: 1 left over */
                CHECK_EQ_INT(bad, 0);
                CHECK(distinct > 0);
                if (!same || bad)
                    fprintf(stderr, "  arch %s, d %d, %d threads: ndcg10 %.17g vs %.17g, mrr %.17g vs %.17g\n", text, d,
                            threads, fast.ndcg10, ref.ndcg10, fast.mrr, ref.mrr);
                ameir_net_free(net);
                cases++;
            }
    printf("%d archs, %d users compared\n", cases, USERS);
    ameir_split_free(sp);
    ameir_dataset_free(ds);
    return check_finish("eval_seq");
}
