/* Models without token trees (Qwen3.5's recurrent layers; Mamba-2's, on a synthetic Nemotron-H
 * checkpoint written at the start; Mamba-1's, on a synthetic Jamba; Falcon-H1's, a Mamba-2 state beside each KV cache; LFM2's short-conv state alone; Llama 4's chunked attention over a context of several chunks) in speculative
 * decoding: chains verified through rl_model_eval_tree_batch for several sequences at once and
 * committed in part or whole, and hybrid checkpoints deferred while the state is still being
 * replayed. Every logits row is compared with a fresh prefill of the same tokens, and the sweeps
 * are counted: a rejected tail costs no sweep of its own. On the cpu, cpu-staged (device memory
 * apart from the host's) and the GPU backends that open here (lavapipe's vulkan in CI). */
#include "golden_cmp.h"
#include "engine/model.h"
#include "gen/generate.h"
#include "model/synth.h"
#include "util/fileio.h"
#include <stdio.h>
#include <stdlib.h>

static const char *BE[4] = {"cpu", "cpu-staged"};   /* and the GPU backends that open here (main) */
static int NBE = 2;
static const char *backend = "cpu";   /* the one under test */

/* Largest |a - b| over n values. */
static double diff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]));
    return w;
}

/* Reference rows: ref rewound to 0, then the concatenation of up to three pieces fed in one
 * eval; the last `rows` rows land in out. */
static int ref_rows(rl_model *ref, const int32_t *p0, int n0, const int32_t *p1, int n1, const int32_t *p2, int n2,
                    int rows, float *out) {
    int32_t all[96];
    int n = n0 + n1 + n2, V = rl_model_vocab(ref);
    memcpy(all, p0, (size_t)n0 * sizeof *all);
    if (n1) memcpy(all + n0, p1, (size_t)n1 * sizeof *all);
    if (n2) memcpy(all + n0 + n1, p2, (size_t)n2 * sizeof *all);
    float *lg = malloc((size_t)n * V * sizeof *lg);
    int rc = !lg || rl_model_rewind(ref, 0) || rl_model_eval(ref, all, n, lg, 1);
    if (!rc) memcpy(out, lg + (size_t)(n - rows) * V, (size_t)rows * V * sizeof *out);
    free(lg);
    return rc;
}

/* A fixture of ../shared by name, or a model directory by its absolute path. */
static rl_model *open_fixture(const char *name, int n_seq, int max_batch) {
    char dir[512];
    if (name[0] == '/') snprintf(dir, sizeof dir, "%s", name);
    else snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), name);
    rl_model_opts o = {.n_seq = n_seq, .max_batch = max_batch, .backend = backend};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "open %s on %s: %s", name, backend, rl_last_error());
    return m;
}

/* A checkpoint asked for while a rewind to the last one is pending is taken inside the next
 * sweep: rewind, checkpoint and the next eval cost one sweep; a later rewind to the new
 * checkpoint restores the state it saved; a rewind below it feeds the kept prefix in front of the
 * next eval. Also with sweeps shorter than the kept tokens. */
static void deferred_checkpoint(void) {
    for (int mb = 0; mb <= 4; mb += 4) {
        rl_model *a = open_fixture("qwen3_5", 1, mb), *b = open_fixture("qwen3_5", 1, 0);
        if (!a || !b) { rl_model_close(a); rl_model_close(b); return; }
        int V = rl_model_vocab(a);
        int32_t seq[24], alt[8];
        for (int i = 0; i < 24; i++) seq[i] = (int32_t)((i * 41 + 7) % V);
        for (int i = 0; i < 8; i++) alt[i] = (int32_t)((i * 29 + 3) % V);
        float *la = malloc((size_t)V * 8 * sizeof(float)), *lb = malloc((size_t)V * 8 * sizeof(float));
        CHECK(rl_model_eval(a, seq, 10, NULL, 0) == 0 && rl_model_seq_checkpoint(a, 0) == 0, "checkpoint: %s", rl_last_error());
        CHECK(rl_model_eval(a, seq + 10, 8, NULL, 0) == 0 && rl_model_rewind(a, 16) == 0, "draft, rewind: %s", rl_last_error());
        unsigned long long s0 = a->n_sweeps;
        CHECK(rl_model_seq_checkpoint(a, 0) == 0 && a->n_sweeps == s0, "the checkpoint waits for the next sweep (%llu)",
              a->n_sweeps - s0);
        CHECK(rl_model_eval(a, alt, 3, la, 1) == 0, "eval: %s", rl_last_error());
        unsigned long long want = mb ? (6 + 3 + 3) / 4 : 1;
        CHECK(a->n_sweeps - s0 == want, "max_batch %d: %llu sweeps for 6 kept and 3 new tokens, want %llu", mb,
              a->n_sweeps - s0, want);
        CHECK(ref_rows(b, seq, 16, alt, 3, NULL, 0, 3, lb) == 0, "reference: %s", rl_last_error());
        double w = diff(la, lb, (size_t)V * 3);
        CHECK(w < 1e-4, "%s, max_batch %d: after the deferred checkpoint: %g from the reference", backend, mb, w);
        /* back to one token after the new checkpoint (16): restored from it */
        CHECK(rl_model_rewind(a, 17) == 0 && rl_model_eval(a, alt + 4, 2, la, 1) == 0, "rewind 17: %s", rl_last_error());
        CHECK(ref_rows(b, seq, 16, alt, 1, alt + 4, 2, 2, lb) == 0, "reference 2: %s", rl_last_error());
        w = diff(la, lb, (size_t)V * 2);
        CHECK(w < 1e-4, "%s, max_batch %d: restored from the deferred checkpoint: %g from the reference", backend, mb, w);
        CHECK(a->ckpt_pos[RL_CKPT_TURN] == 16, "checkpoint at %d, want 16", a->ckpt_pos[RL_CKPT_TURN]);
        /* a rewind below a deferred checkpoint drops it: the old one (16) still serves */
        CHECK(rl_model_rewind(a, 18) == 0 && rl_model_seq_checkpoint(a, 0) == 0 && rl_model_rewind(a, 17) == 0,
              "drop: %s", rl_last_error());
        CHECK(a->ckpt_pend[RL_CKPT_TURN] == -1 && rl_model_eval(a, alt + 6, 1, la, 0) == 0, "eval after drop: %s", rl_last_error());
        CHECK(ref_rows(b, seq, 16, alt, 1, alt + 6, 1, 1, lb) == 0, "reference 3: %s", rl_last_error());
        w = diff(la, lb, (size_t)V);
        CHECK(w < 1e-4, "%s, max_batch %d: after a dropped deferred checkpoint: %g from the reference", backend, mb, w);
        /* below the checkpoint: the kept prefix is fed again from zero, in front of the next eval */
        s0 = a->n_sweeps;
        CHECK(rl_model_rewind(a, 5) == 0 && rl_model_eval(a, alt + 7, 1, la, 0) == 0, "rewind 5: %s", rl_last_error());
        want = mb ? (5 + 1 + 3) / 4 : 1;
        CHECK(a->n_sweeps - s0 == want, "max_batch %d: %llu sweeps for 5 kept and 1 new token, want %llu", mb, a->n_sweeps - s0, want);
        CHECK(ref_rows(b, seq, 5, alt + 7, 1, NULL, 0, 1, lb) == 0, "reference 4: %s", rl_last_error());
        w = diff(la, lb, (size_t)V);
        CHECK(w < 1e-4, "%s, max_batch %d: replayed from zero in front: %g from the reference", backend, mb, w);
        free(la); free(lb);
        rl_model_close(a); rl_model_close(b);
    }
}

static void test_deferred_checkpoint(void) {
    for (int b = 0; b < NBE; b++) {
        backend = BE[b];
        deferred_checkpoint();
    }
    backend = "cpu";
}

/* Two checkpoints per sequence, a turn's (rl_model_seq_checkpoint) and speculation's: a rewind
 * restores the latest one at or before its position (speculation's when past it, the turn's
 * below it) and costs no sweep of its own either way. */
static void test_two_slots(void) {
    rl_model *a = open_fixture("qwen3_5", 1, 0), *b = open_fixture("qwen3_5", 1, 0);
    if (!a || !b) { rl_model_close(a); rl_model_close(b); return; }
    int V = rl_model_vocab(a);
    int32_t seq[24], alt[2] = {7 % V, 61 % V};
    for (int i = 0; i < 24; i++) seq[i] = (int32_t)((i * 29 + 13) % V);
    float *la = malloc((size_t)V * 2 * sizeof(float)), *lb = malloc((size_t)V * 2 * sizeof(float));
    CHECK(rl_model_eval(a, seq, 10, NULL, 0) == 0 && rl_model_seq_checkpoint(a, 0) == 0, "turn: %s", rl_last_error());
    CHECK(rl_model_eval(a, seq + 10, 6, NULL, 0) == 0 && rl_model_seq_checkpoint_slot(a, 0, RL_CKPT_SPEC) == 0 &&
          rl_model_eval(a, seq + 16, 4, NULL, 0) == 0, "spec: %s", rl_last_error());
    const int at[2] = {18, 12}, slot[2] = {RL_CKPT_SPEC, RL_CKPT_TURN};
    for (int c = 0; c < 2; c++) {
        unsigned long long s0 = a->n_sweeps;
        CHECK(rl_model_rewind(a, at[c]) == 0 && a->replay_seq[0] == 2 && a->replay_ckpt[0] == slot[c],
              "rewind to %d: restores slot %d (pending %d, slot %d)", at[c], slot[c], a->replay_seq[0], a->replay_ckpt[0]);
        CHECK(rl_model_eval(a, alt, 2, la, 1) == 0 && a->n_sweeps - s0 == 1, "eval after the rewind to %d: %s (%llu sweeps)",
              at[c], rl_last_error(), a->n_sweeps - s0);
        double w = 1;
        if (!ref_rows(b, seq, at[c], alt, 2, NULL, 0, 2, lb)) w = diff(la, lb, (size_t)V * 2);
        CHECK(w < 1e-4, "rewind to %d: %g from the reference", at[c], w);
        if (c == 0) CHECK(rl_model_rewind(a, 16) == 0 && rl_model_eval(a, seq + 16, 4, NULL, 0) == 0, "back: %s", rl_last_error());
    }
    CHECK(a->ckpt_pos[RL_CKPT_SPEC] == -1 && a->ckpt_pos[RL_CKPT_TURN] == 10, "checkpoints after a rewind below one: %d, %d",
          a->ckpt_pos[RL_CKPT_TURN], a->ckpt_pos[RL_CKPT_SPEC]);
    /* generation with prompt lookup (verifications on speculation's slot) keeps the turn's
     * checkpoint at the prompt's end: the next turn restores it */
    int32_t rep[24], out[16];
    for (int i = 0; i < 24; i++) rep[i] = seq[i % 6];
    rl_gen_opts go = {.max_new = 16, .sampling = rl_sampling_default(), .ignore_eos = 1, .draft = 4};
    rl_gen_stats gs;
    int n_out = 0;
    CHECK(rl_model_rewind(a, 0) == 0 && rl_generate(a, rep, 24, &go, out, &n_out, &gs) == 0, "generate: %s", rl_last_error());
    CHECK(gs.drafted > 0 && a->ckpt_pos[RL_CKPT_TURN] == 24, "after generation with %d drafted: the turn's checkpoint at %d, want 24",
          gs.drafted, a->ckpt_pos[RL_CKPT_TURN]);
    CHECK(rl_model_rewind(a, 25) == 0 && a->replay_seq[0] == 2 && a->replay_ckpt[0] == RL_CKPT_TURN,
          "the next turn restores the turn's checkpoint (pending %d, slot %d)", a->replay_seq[0], a->replay_ckpt[0]);
    free(la); free(lb);
    rl_model_close(a); rl_model_close(b);
}

/* Chains of two sequences in one tree sweep: every row as a fresh prefill; sequence 0 keeps
 * 2 of its 4 nodes, sequence 1 all 3; the next batched step costs one sweep and continues both
 * exactly; a chain not committed is dropped by the next eval; a branching tree is refused. */
static void chains_of(const char *name) {
    rl_model *a = open_fixture(name, 2, 0), *b = open_fixture(name, 1, 0);
    if (!a || !b) { rl_model_close(a); rl_model_close(b); return; }
    CHECK(!rl_model_tree_ok(a), "%s: expected a model without token trees", name);
    int V = rl_model_vocab(a);
    int32_t p0[12], p1[9], c0[4], c1[3], x[2] = {5 % V, 17 % V}, z = 23 % V;
    for (int i = 0; i < 12; i++) p0[i] = (int32_t)((i * 37 + 11) % V);
    for (int i = 0; i < 9; i++) p1[i] = (int32_t)((i * 53 + 5) % V);
    for (int i = 0; i < 4; i++) c0[i] = (int32_t)((i * 31 + 2) % V);
    for (int i = 0; i < 3; i++) c1[i] = (int32_t)((i * 19 + 9) % V);
    int32_t par[4] = {-1, 0, 1, 2};
    float *la = malloc((size_t)V * 8 * sizeof(float)), *lb = malloc((size_t)V * 8 * sizeof(float));
    rl_batch_item pre[2] = {{0, p0, 12}, {1, p1, 9}};
    rl_tree_item tr[2] = {{0, c0, par, 4}, {1, c1, par, 3}};
    CHECK(rl_model_eval_batch(a, pre, 2, NULL) == 0, "%s prefill: %s", name, rl_last_error());
    CHECK(rl_model_eval_tree_batch(a, tr, 2, la) == 0, "%s chains: %s", name, rl_last_error());
    CHECK(rl_model_seq_pos(a, 0) == 12 && rl_model_seq_pos(a, 1) == 9, "%s: a chain is not kept before its commit (%d, %d)",
          name, rl_model_seq_pos(a, 0), rl_model_seq_pos(a, 1));
    double w0 = 1, w1 = 1;
    if (!ref_rows(b, p0, 12, c0, 4, NULL, 0, 4, lb)) w0 = diff(la, lb, (size_t)V * 4);
    if (!ref_rows(b, p1, 9, c1, 3, NULL, 0, 3, lb)) w1 = diff(la + (size_t)V * 4, lb, (size_t)V * 3);
    CHECK(w0 < 1e-4 && w1 < 1e-4, "%s on %s: chain rows differ from a prefill by %g / %g", name, backend, w0, w1);
    int32_t path[4] = {0, 1, 2, 3};
    CHECK(rl_model_seq_tree_commit(a, 0, path, 2) == 0 && rl_model_seq_tree_commit(a, 1, path, 3) == 0, "%s commit: %s", name,
          rl_last_error());
    CHECK(rl_model_seq_pos(a, 0) == 14 && rl_model_seq_pos(a, 1) == 12, "%s: positions after the commits %d, %d", name,
          rl_model_seq_pos(a, 0), rl_model_seq_pos(a, 1));
    unsigned long long s0 = a->n_sweeps;
    rl_batch_item step[2] = {{0, &x[0], 1}, {1, &x[1], 1}};
    CHECK(rl_model_eval_batch(a, step, 2, la) == 0, "%s step: %s", name, rl_last_error());
    CHECK(a->n_sweeps - s0 == 1, "%s: the step after the commits took %llu sweeps", name, a->n_sweeps - s0);
    w0 = w1 = 1;
    if (!ref_rows(b, p0, 12, c0, 2, &x[0], 1, 1, lb)) w0 = diff(la, lb, (size_t)V);
    if (!ref_rows(b, p1, 9, c1, 3, &x[1], 1, 1, lb)) w1 = diff(la + V, lb, (size_t)V);
    CHECK(w0 < 1e-4 && w1 < 1e-4, "%s on %s: after the commits %g / %g from a prefill", name, backend, w0, w1);
    /* a chain without a commit: the next eval continues from before it */
    tr[0] = (rl_tree_item){0, c1, par, 3};
    CHECK(rl_model_eval_tree_batch(a, tr, 1, la) == 0 && rl_model_eval(a, &z, 1, la, 0) == 0, "%s drop: %s", name, rl_last_error());
    int32_t kept[3] = {c0[0], c0[1], x[0]};
    w0 = 1;
    if (!ref_rows(b, p0, 12, kept, 3, &z, 1, 1, lb)) w0 = diff(la, lb, (size_t)V);
    CHECK(w0 < 1e-4, "%s: a chain without a commit changed the next eval by %g", name, w0);
    int32_t branch[3] = {-1, 0, 0};
    tr[0] = (rl_tree_item){0, c0, branch, 3};
    CHECK(rl_model_eval_tree_batch(a, tr, 1, la) != 0 && strstr(rl_last_error(), "chains only"), "%s: a branching tree: %s",
          name, rl_last_error());
    /* bad commits are errors that keep the chain's sequence usable */
    tr[0] = (rl_tree_item){0, c0, par, 3};
    int32_t skip[2] = {0, 2}, six[5] = {0, 1, 2, 3, 4};
    int pos0 = rl_model_seq_pos(a, 0);
    CHECK(rl_model_eval_tree_batch(a, tr, 1, la) == 0, "%s: chain again: %s", name, rl_last_error());
    CHECK(rl_model_seq_tree_commit(a, 0, skip, 2) != 0, "%s: a path skipping a node was committed", name);
    CHECK(rl_model_seq_tree_commit(a, 0, six, 5) != 0, "%s: 5 nodes of a chain of 3 were committed", name);
    CHECK(rl_model_seq_tree_commit(a, 1, six, 1) != 0, "%s: a commit of a sequence without a chain", name);
    CHECK(rl_model_seq_tree_commit(a, 0, six, 3) == 0 && rl_model_seq_pos(a, 0) == pos0 + 3, "%s: the good commit after them: %s",
          name, rl_last_error());
    CHECK(rl_model_seq_tree_commit(a, 0, six, 1) != 0, "%s: a second commit of the same chain", name);
    free(la); free(lb);
    rl_model_close(a); rl_model_close(b);
}

/* The public drafter on a hybrid target and draft: each sequence's tree is the draft's greedy
 * chain from its root (compared with a fresh prefill of the draft), the target verifies both
 * chains in one sweep and commits them; the draft as its own target accepts every node. */
static void test_drafter_chains(void) {
    rl_model *m = open_fixture("qwen3_5", 2, 0), *d = open_fixture("qwen3_5", 2, 0), *b = open_fixture("qwen3_5", 1, 0);
    rl_drafter *p = m && d ? rl_drafter_new(m, d, 8, 1) : NULL;
    CHECK(p != NULL, "drafter: %s", rl_last_error());
    if (!p || !b) { rl_drafter_free(p); rl_model_close(m); rl_model_close(d); rl_model_close(b); return; }
    int V = rl_model_vocab(m);
    int32_t p0[7], p1[5];
    for (int i = 0; i < 7; i++) p0[i] = (int32_t)((i * 43 + 1) % V);
    for (int i = 0; i < 5; i++) p1[i] = (int32_t)((i * 59 + 8) % V);
    rl_batch_item pre[2] = {{0, p0, 6}, {1, p1, 4}};
    rl_draft_req rq[2] = {{0, p0, 6, p0[6], 5}, {1, p1, 4, p1[4], 4}};
    rl_tree_item tr[2];
    float *lt = malloc((size_t)V * 16 * sizeof(float)), *lb = malloc((size_t)V * 16 * sizeof(float));
    CHECK(rl_model_eval_batch(m, pre, 2, NULL) == 0 && rl_drafter_grow(p, rq, 2, tr) == 0, "grow: %s", rl_last_error());
    for (int k = 0; k < 2; k++) {
        CHECK(tr[k].n == rq[k].budget && tr[k].tokens[0] == rq[k].root, "tree %d: %d nodes", k, tr[k].n);
        for (int i = 1; i < tr[k].n; i++) CHECK(tr[k].parent[i] == i - 1, "tree %d node %d: parent %d", k, i, tr[k].parent[i]);
        /* node i + 1 is the draft's argmax after the prompt and nodes 0..i */
        if (ref_rows(b, rq[k].tokens, rq[k].n, tr[k].tokens, tr[k].n - 1, NULL, 0, tr[k].n - 1, lb)) continue;
        for (int i = 0; i + 1 < tr[k].n; i++) {
            int best = 0;
            for (int v = 1; v < V; v++) if (lb[(size_t)i * V + v] > lb[(size_t)i * V + best]) best = v;
            CHECK(tr[k].tokens[i + 1] == best, "tree %d node %d: %d, the draft's argmax is %d", k, i + 1, tr[k].tokens[i + 1], best);
        }
    }
    CHECK(rl_model_eval_tree_batch(m, tr, 2, lt) == 0, "verify: %s", rl_last_error());
    int32_t path[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK(rl_model_seq_tree_commit(m, 0, path, tr[0].n) == 0 && rl_model_seq_tree_commit(m, 1, path, 2) == 0, "commit: %s",
          rl_last_error());
    CHECK(rl_model_seq_pos(m, 0) == 6 + tr[0].n && rl_model_seq_pos(m, 1) == 6, "positions %d, %d", rl_model_seq_pos(m, 0),
          rl_model_seq_pos(m, 1));
    /* the next grow feeds the draft what the target kept (its caches follow) */
    int32_t t0[16], t1[16];
    memcpy(t0, p0, 6 * sizeof *t0); memcpy(t0 + 6, tr[0].tokens, (size_t)tr[0].n * sizeof *t0);
    memcpy(t1, p1, 4 * sizeof *t1); memcpy(t1 + 4, tr[1].tokens, 2 * sizeof *t1);
    rl_draft_req rq2[2] = {{0, t0, 6 + tr[0].n, 3, 3}, {1, t1, 6, 4, 3}};
    CHECK(rl_drafter_grow(p, rq2, 2, tr) == 0 && rl_model_eval_tree_batch(m, tr, 2, lt) == 0, "second step: %s", rl_last_error());
    double w = 1;
    if (!ref_rows(b, t1, 6, tr[1].tokens, tr[1].n, NULL, 0, tr[1].n, lb)) w = diff(lt + (size_t)tr[0].n * V, lb, (size_t)V * tr[1].n);
    CHECK(w < 1e-4, "second step: sequence 1's rows %g from a prefill", w);
    free(lt); free(lb);
    rl_drafter_free(p);
    rl_model_close(m); rl_model_close(d); rl_model_close(b);
}

static void test_chains(void) {
    for (int b = 0; b < NBE; b++) {
        backend = BE[b];
        chains_of("qwen3_5");
        chains_of("qwen3_5_moe");
    }
    backend = "cpu";
}

/* A synthetic checkpoint of config cfg (seed 7) through the same chains on every backend. */
static void chains_synth(const char *CFG) {
    char dir[64] = "/tmp/rl_chains_XXXXXX", cfg[128], m_dir[128], cmd[160];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(cfg, sizeof cfg, "%s/in.json", dir);
    snprintf(m_dir, sizeof m_dir, "%s/m", dir);
    rl_synth_opts so = {.dtype = RL_DT_BF16, .seed = 7};
    CHECK(rl_write_file_atomic(cfg, CFG, strlen(CFG)) == 0 && rl_synth_write(cfg, m_dir, &so) == 0, "synth: %s", rl_last_error());
    for (int b = 0; b < NBE; b++) {
        backend = BE[b];
        chains_of(m_dir);
    }
    backend = "cpu";
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

/* Mamba-2 state (Nemotron-H: Mamba-2, attention and MLP layers) through the same chains. */
static void test_chains_mamba(void) {
    chains_synth("{\"architectures\":[\"NemotronHForCausalLM\"],\"model_type\":\"nemotron_h\",\"hidden_size\":64,\"intermediate_size\":96,"
                 "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":24,\"vocab_size\":256,\"layer_norm_epsilon\":1e-5,"
                 "\"tie_word_embeddings\":false,\"eos_token_id\":1,\"num_hidden_layers\":4,\"mamba_num_heads\":8,\"mamba_head_dim\":16,"
                 "\"ssm_state_size\":16,\"n_groups\":2,\"conv_kernel\":4,\"hybrid_override_pattern\":\"M*-M\"}");
}

/* Mamba-1 state (Jamba: Mamba-1 and attention layers, experts) through the same chains. */
static void test_chains_mamba1(void) {
    chains_synth("{\"architectures\":[\"JambaForCausalLM\"],\"model_type\":\"jamba\",\"hidden_size\":64,\"intermediate_size\":96,"
                 "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,\"num_hidden_layers\":4,\"rms_norm_eps\":1e-5,"
                 "\"eos_token_id\":2,\"attn_layer_period\":2,\"attn_layer_offset\":1,\"mamba_d_state\":8,\"mamba_d_conv\":4,"
                 "\"mamba_expand\":2,\"num_experts\":4,\"num_experts_per_tok\":2,\"expert_layer_period\":2,\"expert_layer_offset\":0}");
}

/* Falcon-H1: a Mamba-2 state beside a KV cache in every layer. */
static void test_chains_falcon_h1(void) {
    chains_synth("{\"architectures\":[\"FalconH1ForCausalLM\"],\"model_type\":\"falcon_h1\",\"hidden_size\":64,\"intermediate_size\":96,"
                 "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":24,\"vocab_size\":256,\"num_hidden_layers\":3,"
                 "\"eos_token_id\":11,\"mamba_d_ssm\":96,\"mamba_n_heads\":6,\"mamba_d_head\":16,\"mamba_n_groups\":2,\"mamba_d_state\":16,"
                 "\"mamba_rms_norm\":true,\"mamba_norm_before_gate\":false,\"key_multiplier\":0.39,\"ssm_in_multiplier\":1.25,"
                 "\"ssm_multipliers\":[0.35,0.25,0.35,0.5,0.35]}");
}

/* LFM2: a conv state without a recurrent one (the short conv), and experts. */
static void test_chains_lfm2(void) {
    chains_synth("{\"architectures\":[\"Lfm2MoeForCausalLM\"],\"model_type\":\"lfm2_moe\",\"hidden_size\":64,\"intermediate_size\":96,"
                 "\"moe_intermediate_size\":32,\"num_experts\":4,\"num_experts_per_tok\":2,\"num_dense_layers\":1,"
                 "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,\"num_hidden_layers\":4,\"eos_token_id\":2,"
                 "\"conv_L_cache\":3,\"layer_types\":[\"conv\",\"full_attention\",\"conv\",\"conv\"]}");
}

/* Llama 4's chunked attention (chunks of 4 positions: the chains cross chunks) verifies chains. */
static void test_chains_chunked(void) {
    chains_synth("{\"architectures\":[\"Llama4ForCausalLM\"],\"model_type\":\"llama4_text\",\"hidden_size\":64,\"intermediate_size\":32,"
                 "\"intermediate_size_mlp\":96,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":16,\"vocab_size\":256,"
                 "\"num_hidden_layers\":4,\"rms_norm_eps\":1e-5,\"tie_word_embeddings\":false,\"eos_token_id\":1,\"num_local_experts\":4,"
                 "\"num_experts_per_tok\":1,\"interleave_moe_layer_step\":2,\"attention_chunk_size\":4,\"floor_scale\":3}");
}

int main(void) {
    NBE = gpu_backends(BE, 2);
    for (int b = 0; b < NBE; b++) fprintf(stderr, "  backend %s\n", BE[b]);
    RUN_SHARED(test_deferred_checkpoint);
    RUN_SHARED(test_two_slots);
    RUN_SHARED(test_chains);
    RUN(test_chains_mamba);
    RUN(test_chains_mamba1);
    RUN(test_chains_chunked);
    RUN(test_chains_falcon_h1);
    RUN(test_chains_lfm2);
    RUN_SHARED(test_drafter_chains);
    TEST_END();
}
