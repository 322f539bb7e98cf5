/* WordPiece model (HuggingFace semantics): greedy longest-match-first with the
 * continuing_subword_prefix; the whole word becomes unk when a part is not found. */
#include "tokenizer/tok_model.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

int rl_tkwordpiece_encode(const rl_tkmodel *m, const char *w, size_t n, rl_ivec *out) {
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) if (((unsigned char)w[i] & 0xC0) != 0x80) chars++;
    if (chars > m->max_chars) goto unk;
    size_t plen = strlen(m->prefix), base = out->n;
    rl_buf t = {0};
    for (size_t s = 0; s < n;) {
        size_t e = n;
        int32_t id = -1;
        while (e > s) {
            t.n = 0;
            if ((s > 0 && rl_tkbuf_put(&t, m->prefix, plen)) || rl_tkbuf_put(&t, w + s, e - s)) { rl_tkbuf_free(&t); return -1; }
            if ((id = rl_tkmap_get(&m->vocab, t.p, t.n)) >= 0) break;
            e--;
            while (e > s && ((unsigned char)w[e] & 0xC0) == 0x80) e--;
        }
        if (id < 0) { rl_tkbuf_free(&t); out->n = base; goto unk; }
        if (rl_tkivec_push(out, id)) { rl_tkbuf_free(&t); return -1; }
        s = e;
    }
    rl_tkbuf_free(&t);
    return 0;
unk:
    if (m->unk_id < 0) return rl_err("model WordPiece: unk_token is not in the vocab");
    return rl_tkivec_push(out, m->unk_id);
}
