/* Shared between arch.c (values, canonical form) and arch_parse.c (JSON types). */
#ifndef AMEIR_ARCH_PRIV_H
#define AMEIR_ARCH_PRIV_H

/* Activations a block may use (identity, relu, gelu, swish) and those an MLP layer may
 * use (the same plus sigmoid), as 1/0 and as the text of an "expected" message. */
int ameir_arch_act_ok(int act, int in_mlp);
const char *ameir_arch_acts_expected(int in_mlp);

/* Which option key an op takes ("kernel" for conv, "heads" for attention, else NULL),
 * and the text of its allowed values ("one of 1, 3, 5, 7"). */
const char *ameir_arch_option_key(int op);
const char *ameir_arch_option_expected(int op);

#endif
