/* Table-driven parsing of `--name VALUE` options for the subcommands.
 *
 * A command lists its options in an array ending with {0}; ameir_opts_parse fills the
 * destinations, checks numeric ranges and records which options were given, so every
 * command reports bad usage the same way (exit code 2, the option and what was expected). */
#ifndef AMEIR_CLI_OPTIONS_H
#define AMEIR_CLI_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

enum ameir_opt_kind {
    AMEIR_OPT_STR = 1, /* const char **: points into argv */
    AMEIR_OPT_INT,     /* int * */
    AMEIR_OPT_I64,     /* int64_t * */
    AMEIR_OPT_U64,     /* uint64_t * (decimal) */
    AMEIR_OPT_FLOAT,   /* float * */
    AMEIR_OPT_DOUBLE,  /* double * */
    AMEIR_OPT_FLAG,    /* int *: set to 1, takes no value */
};

typedef struct ameir_opt {
    const char *name;  /* without the leading "--" */
    int kind;          /* enum ameir_opt_kind */
    void *dst;
    double min, max;   /* accepted range of numeric values (inclusive); min > max: no check */
    const char *meta;  /* value name in the usage, e.g. "DIR" */
    const char *help;
    int seen;          /* set by ameir_opts_parse */
} ameir_opt;

/* Parse argv[1..argc-1] (argv[0] is the command name). Positional arguments go to
 * positional[0..max_positional-1] (may be NULL when the command takes none); *n_positional
 * receives their count. Sets *help when --help or -h is given (parsing stops there).
 * Returns 0 or AMEIR_EINVAL with a message naming the option and what was expected. */
int ameir_opts_parse(ameir_opt *opts, int argc, char **argv, const char **positional, int max_positional,
                     int *n_positional, int *help);

/* The option with that name (without "--"), or NULL. */
ameir_opt *ameir_opts_find(ameir_opt *opts, const char *name);

/* Fail with AMEIR_EINVAL unless every option named in the NULL-terminated list was given. */
int ameir_opts_require(ameir_opt *opts, const char *const *names);

/* What a command without positional arguments does first: parse, print the usage on --help
 * (returns 1: exit 0), check the required options (NULL-terminated list, may be NULL).
 * Returns 0 to go on, 1 after --help, or AMEIR_EINVAL. */
int ameir_opts_command(ameir_opt *opts, int argc, char **argv, const char *synopsis, const char *description,
                       const char *const *required);

/* Print "usage: ameir SYNOPSIS" and one line per option. */
void ameir_opts_usage(FILE *f, const char *synopsis, const char *description, const ameir_opt *opts);

#endif
