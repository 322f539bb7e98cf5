/* CLI subcommand(s): cmd_chat (stub until implemented). */
#include "cli/commands.h"
#include <stdio.h>
int cmd_chat(int argc, char **argv) { (void)argc; fprintf(stderr, "%s: not implemented yet\n", argv[0]); return 2; }
