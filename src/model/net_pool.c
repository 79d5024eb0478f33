/* A fixed team of threads for the row-parallel parts of a training step.
 *
 * ameir_net_pool_run_ calls fn(arg, k) for k = 0..T-1, k = 0 on the calling thread, and
 * returns when all are done. Which rows task k handles is decided by the caller from k
 * alone, so the split (and thus every result) depends only on T. Workers sleep on a
 * condition variable between runs; starting and stopping them happens outside any step. */
#include <pthread.h>
#include <stdlib.h>

#include "ameir/error.h"
#include "net_internal.h"

struct net_pool {
    int T;
    pthread_t th[AMEIR_NET_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen; /* incremented per run */
    int pending;       /* workers still busy with the current run */
    int quit;
    net_task fn;
    void *arg;
};

typedef struct worker_arg {
    net_pool *pool;
    int k;
} worker_arg;

typedef struct pool_mem {
    net_pool pool;
    worker_arg args[AMEIR_NET_MAX_THREADS];
} pool_mem;

static void *worker(void *p) {
    worker_arg *w = p;
    net_pool *pool = w->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (pool->gen == seen && !pool->quit)
            pthread_cond_wait(&pool->go, &pool->mu);
        if (pool->quit)
            break;
        seen = pool->gen;
        net_task fn = pool->fn;
        void *arg = pool->arg;
        pthread_mutex_unlock(&pool->mu);
        fn(arg, w->k);
        pthread_mutex_lock(&pool->mu);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

int ameir_net_pool_start_(net_pool **out, int T) {
    *out = NULL;
    if (T < 2 || T > AMEIR_NET_MAX_THREADS)
        return ameir_fail(AMEIR_EINVAL, "network threads: %d (expected 2 to %d for a pool)", T, AMEIR_NET_MAX_THREADS);
    pool_mem *m = calloc(1, sizeof *m);
    if (!m)
        return ameir_fail(AMEIR_ENOMEM, "out of memory for a thread pool");
    net_pool *p = &m->pool;
    p->T = T;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int k = 1; k < T; k++) {
        m->args[k].pool = p;
        m->args[k].k = k;
        if (pthread_create(&p->th[k], NULL, worker, &m->args[k]) != 0) {
            p->T = k; /* stop the ones started */
            ameir_net_pool_stop_(p);
            return ameir_fail(AMEIR_EINTERNAL, "cannot start thread %d of %d", k, T);
        }
    }
    *out = p;
    return 0;
}

void ameir_net_pool_run_(net_pool *p, net_task fn, void *arg) {
    if (!p) {
        fn(arg, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->pending = p->T - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void ameir_net_pool_stop_(net_pool *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int k = 1; k < p->T; k++)
        pthread_join(p->th[k], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p); /* the pool is the first member of its pool_mem */
}
