/* The subcommands of `ameir`; each returns the process exit code (0, 1, 2 or 3). */
#ifndef AMEIR_CLI_COMMANDS_H
#define AMEIR_CLI_COMMANDS_H

int ameir_cmd_prep(int argc, char **argv);
int ameir_cmd_train(int argc, char **argv);
int ameir_cmd_eval(int argc, char **argv);
int ameir_cmd_predict(int argc, char **argv);
int ameir_cmd_bench(int argc, char **argv);
int ameir_cmd_search(int argc, char **argv);
int ameir_cmd_report(int argc, char **argv);

#endif
