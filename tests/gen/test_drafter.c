/* The public drafter (rl_drafter_*, gen/drafter.c) as the server drives it: two sequences decode
 * greedily with trees grown by the drafter, verified by rl_model_eval_tree_batch and walked by
 * argmax; the ids equal plain decoding, and with the model as its own draft most drafted nodes
 * are accepted, also after a sequence moves to a new prompt sharing a prefix (the draft's cache
 * follows: kept prefix, rest fed). Refused: another vocabulary, a model without token trees
 * (MLA), budgets beyond a sweep. */
#include "test.h"
#include "rabbitllm.h"

#define N 24
static const int32_t PA[] = {1, 403, 407, 261, 378, 432};
static const int32_t PB[] = {1, 403, 407, 100, 200};
static const int32_t PC[] = {1, 40, 41, 42};

static rl_model *open_dir(const char *fixture, int n_seq) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), fixture);
    rl_model_opts o = {.n_seq = n_seq, .ctx = 128, .n_threads = 1};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "open %s: %s", fixture, rl_last_error());
    return m;
}

static int32_t argmax(const float *x, int V) {
    int b = 0;
    for (int i = 1; i < V; i++) if (x[i] > x[b]) b = i;
    return b;
}

/* Plain greedy: N ids after prompt p on sequence seq (its cache emptied first). */
static void plain(rl_model *m, int seq, const int32_t *p, int np, int32_t *out) {
    int V = rl_model_vocab(m);
    float *lg = malloc((size_t)V * sizeof *lg);
    rl_model_seq_rewind(m, seq, 0);
    rl_batch_item it = {seq, p, np};
    CHECK(rl_model_eval_batch(m, &it, 1, lg) == 0, "plain prefill: %s", rl_last_error());
    for (int i = 0; i < N; i++) {
        out[i] = argmax(lg, V);
        it = (rl_batch_item){seq, &out[i], 1};
        if (i + 1 < N) CHECK(rl_model_eval_batch(m, &it, 1, lg) == 0, "plain step: %s", rl_last_error());
    }
    free(lg);
}

typedef struct { int32_t hist[128]; int nh, ng; int32_t pend, out[N + 16]; } seqst;

/* Greedy speculative decoding of both sequences together until each has N ids; returns the
 * sweeps, *nodes / *acc the drafted and accepted nodes. The prompts: q[s].hist[0..nh) (the
 * target's cache of sequence s is rewound to keep, then fed the rest). */
static int spec(rl_model *m, rl_drafter *d, seqst *q, const int *keep, int *nodes, int *acc) {
    int V = rl_model_vocab(m), sweeps = 0;
    float *lg = malloc((size_t)256 * V * sizeof *lg);
    for (int s = 0; s < 2; s++) {
        rl_model_seq_rewind(m, s, keep[s]);
        rl_batch_item it = {s, q[s].hist + keep[s], q[s].nh - keep[s]};
        CHECK(rl_model_eval_batch(m, &it, 1, lg) == 0, "prefill: %s", rl_last_error());
        q[s].pend = q[s].out[0] = argmax(lg, V);
        q[s].ng = 1;
    }
    *nodes = *acc = 0;
    while (q[0].ng < N || q[1].ng < N) {
        rl_draft_req r[2];
        rl_tree_item t[2];
        int n = 0;
        for (int s = 0; s < 2; s++)
            if (q[s].ng < N) r[n++] = (rl_draft_req){s, q[s].hist, q[s].nh, q[s].pend, 8};
        if (rl_drafter_grow(d, r, n, t) || rl_model_eval_tree_batch(m, t, n, lg)) {
            CHECK(0, "sweep: %s", rl_last_error());
            break;
        }
        sweeps++;
        for (int k = 0, row = 0; k < n; row += t[k].n, k++) {
            seqst *z = &q[t[k].seq];
            int32_t path[256];
            int np = 0, u = 0;
            path[np++] = 0;
            z->hist[z->nh++] = z->pend;
            *nodes += t[k].n - 1;
            for (;;) {
                int32_t id = argmax(lg + (size_t)(row + u) * V, V);
                z->out[z->ng++] = id;
                z->pend = id;
                int c = -1;
                for (int j = u + 1; j < t[k].n; j++) if (t[k].parent[j] == u && t[k].tokens[j] == id) { c = j; break; }
                if (c < 0 || z->ng >= N) break;
                z->hist[z->nh++] = id;
                path[np++] = c;
                u = c;
                (*acc)++;
            }
            CHECK(rl_model_seq_tree_commit(m, t[k].seq, path, np) == 0, "commit: %s", rl_last_error());
        }
    }
    free(lg);
    return sweeps;
}

static void test_greedy(void) {
    rl_model *m = open_dir("stories260K", 2), *dm = open_dir("stories260K", 2);
    rl_drafter *d = m && dm ? rl_drafter_new(m, dm, 16, 1) : NULL;
    CHECK(d != NULL, "drafter: %s", rl_last_error());
    if (!d) { rl_model_close(m); rl_model_close(dm); return; }
    CHECK(rl_drafter_max_nodes(d) >= 16 && rl_drafter_budget(d) == 16, "fixed budget %d of %d", rl_drafter_budget(d),
          rl_drafter_max_nodes(d));
    int32_t wa[N], wb[N], wc[N];
    plain(m, 0, PA, 6, wa); plain(m, 1, PC, 4, wc); plain(m, 0, PB, 5, wb);
    seqst q[2] = {{.nh = 6}, {.nh = 4}};
    memcpy(q[0].hist, PA, sizeof PA); memcpy(q[1].hist, PC, sizeof PC);
    int keep[2] = {0, 0}, nodes, acc;
    int sw = spec(m, d, q, keep, &nodes, &acc);
    CHECK(!memcmp(q[0].out, wa, sizeof wa) && !memcmp(q[1].out, wc, sizeof wc), "ids differ from plain decoding");
    CHECK(sw < N / 2 && acc * 2 > nodes / 4, "the model as its own draft: %d sweeps, %d of %d accepted", sw, acc, nodes);
    fprintf(stderr, "  %d sweeps for %d ids each, %d of %d nodes accepted\n", sw, N, acc, nodes);
    /* sequence 0 takes a new prompt sharing 3 tokens: the draft keeps them and reads the rest */
    q[0].nh = 5; q[0].ng = 0;
    memcpy(q[0].hist, PB, sizeof PB);
    q[1].ng = N;                                         /* done */
    keep[0] = 3;
    sw = spec(m, d, q, keep, &nodes, &acc);
    CHECK(!memcmp(q[0].out, wb, sizeof wb), "ids differ from plain decoding after a new prompt");
    CHECK(sw < N / 2, "after a new prompt: %d sweeps, %d of %d accepted (the draft's cache out of step?)", sw, acc, nodes);
    /* budgets beyond a sweep are refused */
    rl_draft_req r[2] = {{0, PA, 6, 5, 200}, {1, PC, 4, 5, 200}};
    rl_tree_item t[2];
    CHECK(rl_drafter_grow(d, r, 2, t) == -1 && strstr(rl_last_error(), "exceed"), "400 nodes: %s", rl_last_error());
    rl_drafter_free(d);
    rl_model_close(m); rl_model_close(dm);
}

static void test_refused(void) {
    rl_model *m = open_dir("stories260K", 1), *other = open_dir("qwen3", 1);
    if (m && other) {
        CHECK(rl_drafter_new(m, other, 0, 0) == NULL && strstr(rl_last_error(), "vocabulary"), "another vocabulary: %s",
              rl_last_error());
    }
    rl_model_close(m); rl_model_close(other);
}

int main(void) {
    RUN_SHARED(test_greedy);
    RUN_SHARED(test_refused);
    TEST_END();
}
