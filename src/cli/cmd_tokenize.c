/* CLI subcommand(s): cmd_tokenize,cmd_detokenize,cmd_bench_tokenizer (stub until implemented). */
#include "cli/commands.h"
#include <stdio.h>
int cmd_tokenize(int argc, char **argv) { (void)argc; fprintf(stderr, "%s: not implemented yet\n", argv[0]); return 2; }
int cmd_detokenize(int argc, char **argv) { (void)argc; fprintf(stderr, "%s: not implemented yet\n", argv[0]); return 2; }
int cmd_bench_tokenizer(int argc, char **argv) { (void)argc; fprintf(stderr, "%s: not implemented yet\n", argv[0]); return 2; }
