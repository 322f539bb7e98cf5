/* Read planning (see coalesce.h). */
#include "io/coalesce.h"

#define A64(x) (((x) + 63) & ~(size_t)63)

int rl_coalesce(const rl_span *sp, int n, size_t base, rl_read_range *out, size_t *span_off, size_t *end) {
    int order[RL_COALESCE_MAX], nr = 0;
    if (n > RL_COALESCE_MAX) n = RL_COALESCE_MAX; /* callers have at most a layer's roles */
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort by (file, offset) */
        int v = order[i], j = i - 1;
        while (j >= 0 && (sp[order[j]].file > sp[v].file || (sp[order[j]].file == sp[v].file && sp[order[j]].off > sp[v].off))) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = v;
    }
    size_t pos = base;
    for (int k = 0; k < n; k++) {
        const rl_span *s = &sp[order[k]];
        rl_read_range *last = nr ? &out[nr - 1] : NULL;
        if (last && last->file == s->file && s->off <= last->off + last->len) {
            uint64_t e = s->off + s->len;
            if (e > last->off + last->len) { pos += e - (last->off + last->len); last->len = e - last->off; }
        } else {
            pos = A64(pos);
            out[nr++] = (rl_read_range){s->file, s->off, s->len, pos};
            pos += s->len;
        }
        last = &out[nr - 1];
        span_off[order[k]] = last->buf_off + (s->off - last->off);
    }
    *end = A64(pos);
    return nr;
}
