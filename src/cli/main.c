/* ameir: one executable, one subcommand per stage of the workflow. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"prep", ameir_cmd_prep, "turn a raw dataset into HDF5 shards"},
    {"train", ameir_cmd_train, "train one architecture, early-stopping on validation, test at the end"},
    {"eval", ameir_cmd_eval, "metrics of a saved model"},
    {"predict", ameir_cmd_predict, "one score per row, as CSV"},
    {"bench", ameir_cmd_bench, "training throughput on synthetic batches"},
    {"search", ameir_cmd_search, "the architecture search (under mpirun)"},
    {"report", ameir_cmd_report, "leaderboard, best architecture and plot of a search"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: ameir COMMAND [options]   (ameir COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ameir: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
