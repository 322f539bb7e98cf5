/* Locating the GGUF file(s) of a model path: a .gguf file, or a directory holding one GGUF model
 * (one .gguf, or llama.cpp's split set NAME-00001-of-0000N.gguf ... -0000N-of-0000N.gguf). */
#ifndef RL_GGUF_FIND_H
#define RL_GGUF_FIND_H
#include <stddef.h>

/* If model_path is a .gguf file or a directory with a GGUF model, writes the path of its first
 * (or only) file into out and returns 1; returns 0 if model_path is not GGUF (no .gguf there),
 * or -1 + rl_err (several unrelated .gguf files, path too long, unreadable directory). */
int rl_gguf_find(const char *model_path, char *out, size_t cap);

/* For the first file of a split set (..-00001-of-0000N.gguf) writes the path of part i (1-based)
 * into out; for a non-split file, part 1 is the file itself. Returns the part count (>= 1), or
 * -1 + rl_err. */
int rl_gguf_split_part(const char *first, int i, char *out, size_t cap);

#endif
