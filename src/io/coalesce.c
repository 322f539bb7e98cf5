/* Read planning (see coalesce.h). */
#include "io/coalesce.h"

#define A64(x) (((x) + 63) & ~(size_t)63)

int rl_coalesce(const rl_span *sp, int n, size_t base, rl_read_range *out, size_t *span_off, size_t *end, int dio) {
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
    int of[RL_COALESCE_MAX]; /* the range of each span (by sorted index) */
    for (int k = 0; k < n; k++) { /* merge */
        const rl_span *s = &sp[order[k]];
        rl_read_range *last = nr ? &out[nr - 1] : NULL;
        if (last && last->file == s->file && s->off <= last->off + last->len) {
            uint64_t e = s->off + s->len;
            if (e > last->off + last->len) last->len = e - last->off;
        } else
            out[nr++] = (rl_read_range){s->file, s->off, s->len, 0, 0};
        of[k] = nr - 1;
    }
    size_t pos = base; /* lay the ranges out */
    const size_t A = RL_DIO_ALIGN;
    for (int i = 0; i < nr; i++) {
        rl_read_range *g = &out[i];
        if (dio && g->off % 8 == 0) {
            size_t head = (size_t)(g->off % A), start = (pos + A - 1) / A * A;
            g->buf_off = start + head;
            g->dio = 1;
            pos = start + (head + (size_t)g->len + A - 1) / A * A;
        } else {
            g->buf_off = A64(pos);
            pos = g->buf_off + (size_t)g->len;
        }
    }
    for (int k = 0; k < n; k++) span_off[order[k]] = out[of[k]].buf_off + (sp[order[k]].off - out[of[k]].off);
    *end = A64(pos);
    return nr;
}
