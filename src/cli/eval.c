/* TEMPORARY during development: replaced by the real command. */
#include <stdio.h>
#include "commands.h"
int ameir_cmd_eval(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "ameir eval: not built yet\n");
    return 1;
}
