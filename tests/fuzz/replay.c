/* Replays the regression corpus of one fuzz target without libFuzzer: calls
 * LLVMFuzzerTestOneInput on every file of tests/fuzz/regress/<FUZZ_NAME>/ and
 * tests/fuzz/corpus/<FUZZ_NAME>/ (or the files / directories given as arguments), so the
 * normal and ASan test builds check every input fuzzing ever found. Prints "RESULT 1 0". */
#include "fuzz.h"
#include <dirent.h>

#ifndef FUZZ_NAME
#error "FUZZ_NAME must be defined"
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

static int n_run;

static void run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) { uint8_t *nb = realloc(buf, cap *= 2); if (!nb) { free(buf); buf = NULL; } else buf = nb; }
    }
    fclose(f);
    if (!buf) return;
    /* an exact-size copy so ASan sees reads past the end */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact) { memcpy(exact, buf, n); LLVMFuzzerTestOneInput(exact, n); n_run++; }
    free(exact);
    free(buf);
}

static void run_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) { run_file(path); return; }
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", path, ents[i]->d_name);
            run_path(p);
        }
        free(ents[i]);
    }
    if (n >= 0) free(ents);
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) for (int i = 1; i < argc; i++) run_path(argv[i]);
    else {
        run_path("tests/fuzz/regress/" STR(FUZZ_NAME));
        run_path("tests/fuzz/corpus/" STR(FUZZ_NAME));
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir());
    if (system(cmd)) {}
    printf("%s: replayed %d inputs\nRESULT 1 0\n", STR(FUZZ_NAME), n_run);
    return 0;
}
