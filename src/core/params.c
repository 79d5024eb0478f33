#include "ameir/params.h"

#include <stdlib.h>
#include <string.h>

#include "ameir/error.h"

void ameir_params_init(ameir_params *p) { memset(p, 0, sizeof *p); }

void ameir_params_destroy(ameir_params *p) {
    if (!p)
        return;
    free(p->tensors);
    free(p->data);
    free(p->grad);
    free(p->m);
    free(p->v);
    memset(p, 0, sizeof *p);
}

int ameir_params_add(ameir_params *p, const char *name, int ndim, const int64_t *shape, int flags) {
    if (ndim < 1 || ndim > AMEIR_TENSOR_MAX_DIMS)
        return ameir_fail(AMEIR_EINVAL, "tensor %s: %d dimensions (expected 1 to %d)", name, ndim,
                          AMEIR_TENSOR_MAX_DIMS);
    if (strlen(name) >= AMEIR_TENSOR_NAME_MAX)
        return ameir_fail(AMEIR_EINVAL, "tensor name too long: %s", name);
    if (p->data)
        return ameir_fail(AMEIR_EINVAL, "tensor %s added after the table was allocated", name);
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 32;
        ameir_tensor *t = realloc(p->tensors, (size_t)cap * sizeof *t);
        if (!t)
            return ameir_fail(AMEIR_ENOMEM, "out of memory adding tensor %s", name);
        p->tensors = t;
        p->cap = cap;
    }
    ameir_tensor *t = &p->tensors[p->n];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->ndim = ndim;
    t->size = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return ameir_fail(AMEIR_EINVAL, "tensor %s: dimension %d is %lld (expected > 0)", name, i,
                              (long long)shape[i]);
        t->shape[i] = shape[i];
        t->size *= (size_t)shape[i];
    }
    t->flags = flags;
    t->offset = (p->total + 15) & ~(size_t)15;
    p->total = t->offset + t->size;
    return p->n++;
}

int ameir_params_alloc(ameir_params *p) {
    size_t n = p->total ? p->total : 1;
    p->data = calloc(n, sizeof(float));
    p->grad = calloc(n, sizeof(float));
    p->m = calloc(n, sizeof(float));
    p->v = calloc(n, sizeof(float));
    if (!p->data || !p->grad || !p->m || !p->v)
        return ameir_fail(AMEIR_ENOMEM, "out of memory for %zu parameters", p->total);
    p->step = 0;
    return 0;
}

int ameir_params_find(const ameir_params *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->tensors[i].name, name))
            return i;
    return -1;
}

void ameir_params_zero_grad(ameir_params *p) {
    if (p->grad)
        memset(p->grad, 0, p->total * sizeof(float));
}
