/* Expert cache bookkeeping (see moe_cache.h). */
#include "engine/moe_cache.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

int rl_xc_init(rl_xcache *c, int n_layers, int E, int slots) {
    memset(c, 0, sizeof *c);
    c->n_layers = n_layers; c->E = E; c->slots = slots > E ? E : slots < 0 ? 0 : slots;
    size_t ne = (size_t)n_layers * (size_t)E, ns = (size_t)n_layers * (size_t)(c->slots ? c->slots : 1);
    c->score = calloc(ne ? ne : 1, sizeof *c->score);
    c->slot_of = malloc((ne ? ne : 1) * sizeof *c->slot_of);
    c->expert_in = malloc(ns * sizeof *c->expert_in);
    c->used = calloc(ne ? ne : 1, sizeof *c->used);
    if (!c->score || !c->slot_of || !c->expert_in || !c->used) { rl_xc_free(c); return rl_err("out of memory for the expert cache"); }
    for (size_t i = 0; i < ne; i++) c->slot_of[i] = -1;
    for (size_t i = 0; i < ns; i++) c->expert_in[i] = -1;
    return 0;
}

void rl_xc_free(rl_xcache *c) {
    free(c->score); free(c->slot_of); free(c->expert_in); free(c->used);
    memset(c, 0, sizeof *c);
}

void rl_xc_touch(rl_xcache *c, int l, const int *rows) {
    float *s = c->score + (size_t)l * c->E;
    uint32_t *u = c->used + (size_t)l * c->E;
    if (++c->sweep == 0) { /* wrapped: no sweep number may stay equal to a current one */
        memset(c->used, 0, (size_t)c->n_layers * (size_t)c->E * sizeof *c->used);
        c->sweep = 1;
    }
    for (int e = 0; e < c->E; e++) {
        s[e] = s[e] * RL_XC_DECAY + (float)rows[e];
        if (rows[e]) u[e] = c->sweep;
    }
}

int rl_xc_lookup(rl_xcache *c, int l, int e) {
    int s = c->slots ? c->slot_of[(size_t)l * c->E + e] : -1;
    if (s >= 0) c->hits++;
    else c->misses++;
    return s;
}

int rl_xc_admit(rl_xcache *c, int l, int e) {
    const float *sc = c->score + (size_t)l * c->E;
    if (!c->slots || c->slot_of[(size_t)l * c->E + e] >= 0 || !(sc[e] >= RL_XC_MIN)) return -1;
    const uint32_t *u = c->used + (size_t)l * c->E;
    int32_t *in = c->expert_in + (size_t)l * c->slots;
    int victim = -1;
    for (int s = 0; s < c->slots; s++) {
        if (in[s] < 0) { victim = s; break; }
        if (u[in[s]] == c->sweep) continue; /* computed from its slot in this sweep */
        if (victim < 0 || sc[in[s]] < sc[in[victim]]) victim = s;
    }
    if (victim < 0) return -1;
    if (in[victim] >= 0) {
        if (!(sc[e] > RL_XC_MARGIN * sc[in[victim]])) return -1;
        c->slot_of[(size_t)l * c->E + in[victim]] = -1;
    }
    in[victim] = e;
    c->slot_of[(size_t)l * c->E + e] = victim;
    c->admits++;
    return victim;
}

int rl_xc_count(const rl_xcache *c, int l) {
    int n = 0;
    for (int s = 0; s < c->slots; s++) n += c->expert_in[(size_t)l * c->slots + s] >= 0;
    return n;
}
