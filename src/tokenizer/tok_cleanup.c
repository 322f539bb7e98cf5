/* Clean-up of decoded text (" ." -> "." etc.), as transformers and HF's WordPiece decoder do. */
#include "tokenizer/tok_cleanup.h"
#include <stdlib.h>
#include <string.h>

static int replace_all(rl_buf *b, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to);
    if (!b->n || !memmem(b->p, b->n, from, fl)) return 0;
    rl_buf o = {0};
    size_t i = 0;
    while (i < b->n) {
        const char *f = memmem(b->p + i, b->n - i, from, fl);
        size_t j = f ? (size_t)(f - b->p) : b->n;
        if (rl_tkbuf_put(&o, b->p + i, j - i)) { rl_tkbuf_free(&o); return -1; }
        if (!f) break;
        if (rl_tkbuf_put(&o, to, tl)) { rl_tkbuf_free(&o); return -1; }
        i = j + fl;
    }
    if (rl_tkbuf_put(&o, "", 0)) { rl_tkbuf_free(&o); return -1; }
    rl_tkbuf_free(b);
    *b = o;
    return 0;
}

static const char *const PAIRS[][2] = {
    {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"},
    {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
};

static int run(rl_buf *b, int wordpiece) {
    for (size_t i = 0; i < sizeof PAIRS / sizeof PAIRS[0]; i++) {
        if (!wordpiece && !strcmp(PAIRS[i][0], " do not")) continue;
        if (replace_all(b, PAIRS[i][0], PAIRS[i][1])) return -1;
    }
    return 0;
}

int rl_tk_cleanup_transformers(rl_buf *b) { return run(b, 0); }
int rl_tk_cleanup_wordpiece(rl_buf *b) { return run(b, 1); }
