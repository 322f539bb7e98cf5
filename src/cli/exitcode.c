/* Exit status from the library's error class (see exitcode.h). */
#include "cli/exitcode.h"
#include "cli/progress.h"
#include <stdio.h>

int rl_cli_exit_code(void) {
    rl_errclass c = rl_errclass_get();
    return c >= RL_EC_INPUT && c <= RL_EC_DEVICE ? (int)c : RL_EXIT_INPUT;
}

int rl_cli_fail(const char *what) {
    const char *m = rl_errmsg();
    rl_progress_clear();   /* the message starts on a clean line */
    if (what) fprintf(stderr, "error: %s: %s\n", what, *m ? m : "failed");
    else fprintf(stderr, "error: %s\n", *m ? m : "failed");
    return rl_cli_exit_code();
}
