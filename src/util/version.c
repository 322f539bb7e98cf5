/* The library version (rl_version in include/rabbitllm.h). */
#include "rabbitllm.h"

const char *rl_version(void) { return RL_VERSION_STRING; }
