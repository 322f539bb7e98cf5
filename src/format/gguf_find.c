/* GGUF file discovery for a model path (see gguf_find.h). */
#include "format/gguf_find.h"
#include "format/gguf.h"
#include "util/err.h"
#include "util/fileio.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int rl_gguf_find(const char *model_path, char *out, size_t cap) {
    struct stat st;
    if (stat(model_path, &st) != 0) return 0;
    if (S_ISREG(st.st_mode)) {
        if (!rl_gguf_is_path(model_path)) return 0;
        if (snprintf(out, cap, "%s", model_path) >= (int)cap) return rl_err("%s: path too long", model_path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) return 0;
    DIR *d = opendir(model_path);
    if (!d) return rl_err("%s: cannot open directory: %s", model_path, strerror(errno));
    int found = 0;
    char first[1024] = "";
    struct dirent *de;
    while ((de = readdir(d))) {
        int idx, cnt;
        if (de->d_name[0] == '.' || !rl_gguf_is_path(de->d_name)) continue;
        if (rl_gguf_split_parse(de->d_name, &idx, &cnt) && idx != 1) continue; /* later parts of a split */
        if (found) {
            rl_err("%s: several GGUF models (%s, %s): name the .gguf file to run", model_path, first, de->d_name);
            found = -1;
            break;
        }
        snprintf(first, sizeof first, "%s", de->d_name);
        found = 1;
    }
    closedir(d);
    if (found == 1 && rl_path_join(out, cap, model_path, first)) return -1;
    return found;
}

int rl_gguf_split_part(const char *first, int i, char *out, size_t cap) {
    int idx, cnt;
    if (!rl_gguf_split_parse(first, &idx, &cnt)) {
        if (i != 1) return rl_err("%s: not a split GGUF file", first);
        if (snprintf(out, cap, "%s", first) >= (int)cap) return rl_err("%s: path too long", first);
        return 1;
    }
    if (idx != 1) return rl_err("%s: part %d of a split GGUF: open part 1 (-00001-of-%05d.gguf)", first, idx, cnt);
    if (i < 1 || i > cnt) return rl_err("%s: split part %d out of range 1..%d", first, i, cnt);
    size_t n = strlen(first);
    if (n + 1 > cap) return rl_err("%s: path too long", first);
    memcpy(out, first, n + 1);
    for (int k = 4, v = i; k >= 0; k--, v /= 10) out[n - 19 + k] = (char)('0' + v % 10); /* "-NNNNN-of-MMMMM.gguf" */
    return cnt;
}
