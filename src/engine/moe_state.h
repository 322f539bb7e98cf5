/* The MoE layer state shared by moe.c (routing, streaming, the experts' compute) and
 * moe_place.c (where each routed expert lives and runs: the expert cache, the CPU side of a
 * GPU backend). Internal to the engine. */
#ifndef RL_ENGINE_MOE_STATE_H
#define RL_ENGINE_MOE_STATE_H
#include "engine/model.h"
#include "engine/moe_cache.h"
#include "io/expert_reader.h"

/* Pieces of one expert: tensor k (0 gate (fused: gate_up), 1 up (fused: unused), 2 down) is
 * piece k * XA, a composite (pre-quantized) tensor's extra tensors are pieces k * XA + 1 + a,
 * and its bias (fused experts with ename_b: gpt-oss) piece XB(k). */
#define XA (2 + RL_QAUX)
#define XP (3 * XA)
#define XB(k) ((k) * XA + 1 + RL_QAUX)
typedef struct {
    int file[XP];
    uint64_t off[XP], len[XP];
    rl_dtype dt[3];           /* composite dtype where the checkpoint is pre-quantized */
    rl_dtype bdt[3];          /* the biases' dtypes (len[XB(k)] > 0) */
} expert_loc;

/* Where a routed expert of a sweep runs (moe_place.c decides). */
enum { XK_HIT, XK_ADMIT, XK_DEV, XK_CPU };

struct rl_moe_state {
    int E, k, I, Is, H, max_T, n_layers;
    int Hm;                   /* the model's width (router, shared expert); H is the routed experts' (latent MoE: less) */
    int n_moe;                /* MoE layers this process runs (layers l0..l1 of an MPI pipeline rank) */
    expert_loc *loc;          /* (n_layers, E); only MoE layers filled */
    rl_stage_qrole *qt;       /* (n_layers, 3): composite expert tensors' format (aux presence, params) */
    size_t ex_bytes;          /* buffer bytes of one expert (aligned pieces) */
    int per_batch;            /* experts per reader buffer */
    rl_expert_reader *xr;
    rl_route_params rp;
    /* host */
    int32_t *top_idx;         /* (max_T, k) chosen experts */
    float *top_w;             /* (max_T, k) their weights */
    int *cnt, *start;         /* (E), (E+1) tokens per expert, prefix sums */
    int32_t *tok_of;          /* (max_T*k) token of each assignment, grouped by expert */
    float *w_of;              /* (max_T*k) its weight (moe_input_scaled: 1) */
    float *w_in;              /* (max_T*k) moe_input_scaled: its weight, on the expert's input row; else NULL */
    int *needed;              /* (E) experts used this call, ascending */
    uint8_t *kind;            /* (E) XK_* of needed[j] */
    int *slot;                /* (E) its cache slot (XK_HIT, XK_ADMIT) */
    int *rd;                  /* (E) the needed indices j to read from disk, in reading order */
    rl_xr_range *ranges;      /* (E*XP) */
    rl_xr_batch *batches;     /* (E) */
    size_t *t_off;            /* (E*XP) piece k of rd[i] at t_off[i*XP+k] in its batch buffer */
    /* device */
    float *logits;            /* (max_T, E) router logits, then scores */
    int32_t *d_idx;           /* (max_T, k) */
    float *d_w;               /* (max_T, k) */
    int32_t *d_tok;           /* (max_T*k) tok_of */
    float *d_wof;             /* (max_T*k) w_of */
    float *d_win;             /* (max_T*k) w_in (moe_input_scaled), else NULL */
    float *xe, *g, *u;        /* (max_T, H), (max_T, max(I, Is)) x2 */
    float *y;                 /* (max_T*k, H) every assignment's expert output, rows grouped by
                                 expert as tok_of; added into the sum in ascending expert order at
                                 the end, so the sum is the same wherever and whenever each expert ran */
    float *vb;                /* f32 vectors: correction bias (E), shared gate weights (Hm), router bias (E) */
    float *xl, *sum_l, *lat_y; /* latent MoE: the experts' input rows (max_T, H), their weighted sum (max_T, H), its
                                 projection back (max_T, Hm); else NULL */
    float *gu;                /* (max_T, 2 I) gate_up outputs to split (moe_interleaved, moe_transposed), else NULL */
    float *xbias;             /* (2 I + H) an expert's biases as f32 (ename_b), else NULL */
    uint8_t *xdev[2];         /* device copies of the two expert batches (NULL if host_shared) */
    uint64_t *bytes, *total;  /* per layer: expert bytes read, expert bytes on disk */
    double *wait;             /* per layer: time waited for experts */

    /* the expert cache (moe_cache.h): slots in the backend's memory, one arena per MoE layer */
    rl_xcache xc;
    size_t xc_req;            /* rl_model_opts.expert_cache */
    size_t xc_bytes;          /* slots x ex_bytes x MoE layers (0: no cache) */
    uint8_t **xc_mem;         /* (n_layers) a MoE layer's slots (NULL for dense layers) */
    size_t *xc_off;           /* (n_layers, slots, XP) piece offsets inside a slot */
    uint8_t *xc_used;         /* (n_layers, slots) 1 once a slot was filled (its pages committed) */
    char xc_line[400];        /* the placement, for info / --profile */

    /* the RAM tier of a GPU backend (host_shared 0): experts kept in host memory within what the
     * memory budget leaves, the source of the CPU's experts and of the device cache's fills
     * instead of a read from disk; same bookkeeping, plain host memory, one block per layer */
    rl_xcache hx;
    size_t hx_stride;         /* bytes between its slots: ex_bytes rounded up to whole pages */
    size_t hx_bytes;
    uint8_t **hx_mem;         /* (n_layers) */
    size_t *hx_off;           /* (n_layers, slots, XP) */
    uint8_t *hx_used;         /* (n_layers, slots) 1 once filled (committed), 2: and page-locked
                                 by the backend (host_register; unregistered at close) */
    int *hslot;               /* (E) per needed j: its RAM slot holding it now (-1: read from disk) */
    int *hfill;               /* (E) per needed j: the RAM slot to copy it into once read (-1: none) */

    /* misses on the CPU (backends with their own memory; moe_place.c) */
    rl_backend *cpu;          /* the CPU backend computing them (NULL: every expert on the device) */
    int cpu_rows;             /* an expert with at most this many rows runs there (-1: never) */
    int n_ct;                 /* rows of the sweep that some CPU expert reads */
    int32_t *ct, *crow;       /* host (max_T): those rows; row of token t among them (-1) */
    int32_t *c_rows;          /* host (max_T*k): per assignment of a CPU expert, its row in ct */
    float *xc_h;              /* host (max_T, H): the rows' inputs */
    float *y_h;               /* host (max_T*k, H): the CPU experts' outputs, rows as y's */
    float *xe_h, *g_h, *u_h;  /* host scratch of one CPU expert, as xe, g, u */
    float *gu_h, *xbias_h;    /* as gu, xbias */
    int32_t *d_ct;            /* (max_T) device copy of ct */
    uint64_t n_cpu, n_dev;    /* experts computed on the CPU, uploaded for one sweep */
};

/* Where an expert computes: a backend, its input rows xn, and scratch (moe.c). */
typedef struct { rl_backend *be; const float *xn; float *xe, *g, *u, *gu, *bias; const float *w_in; } rl_moe_run;
/* (w_in: the assignments' input weights in that backend's memory, grouped as tok_of; NULL unless moe_input_scaled) */
/* Expert e of layer l, its pieces at base + off[p], on the n rows `rows` of r->xn: y (n, H). */
void rl_moe_run_expert(rl_model *m, const rl_moe_run *r, int l, int e, const uint8_t *base, const size_t *off,
                       const int32_t *rows, int n, float *y);

/* moe_place.c. At rl_moe_plan: the CPU side's buffers in the plan. At rl_moe_open: the cache's
 * arenas, the CPU backend and its host buffers; rl_moe_place_close frees them. */
int rl_moe_place_plan(rl_model *m, rl_plan *p);
int rl_moe_place_open(rl_model *m);
void rl_moe_place_close(rl_model *m);
/* Sets kind / slot / hslot / hfill of the n_need experts of this sweep of layer l and the
 * reading order rd; returns how many are read from disk. */
int rl_moe_place(rl_model *m, int l, int n_need);
/* Slot `slot` of layer l's cache: its bytes (backend memory) and its pieces' offsets.
 * rl_moe_slot_fill uploads into it the expert whose ex_bytes region starts at src + reg, its
 * pieces at src + off[p] (committing the slot's pages on first use where the cache is host
 * memory: io/pages.h). 0 / -1 + rl_err. */
uint8_t *rl_moe_slot_mem(rl_model *m, int l, int slot);
int rl_moe_slot_fill(rl_model *m, int l, int slot, const uint8_t *src, size_t reg, const size_t *off);
size_t *rl_moe_slot_off(rl_model *m, int l, int slot);
/* The RAM tier's slot: its bytes and offsets; rl_moe_ram_fill copies an expert read into region
 * src (pieces at off[p], absolute in src's buffer, region starting at reg) into it. */
uint8_t *rl_moe_ram_mem(rl_model *m, int l, int slot);
size_t *rl_moe_ram_off(rl_model *m, int l, int slot);
void rl_moe_ram_fill(rl_model *m, int l, int slot, const uint8_t *buf, size_t reg, const size_t *off);
/* The CPU experts of a sweep: begin brings their rows down (device gather, one download), each
 * expert then runs on the CPU from its batch buffer hb (pieces at hb + off[p]), end uploads
 * their outputs into y. Nothing where no expert runs on the CPU. 0 / -1. */
int rl_moe_cpu_begin(rl_model *m, const float *xn, int n_need, int T);
void rl_moe_cpu_expert(rl_model *m, int l, int e, const uint8_t *hb, const size_t *off);
int rl_moe_cpu_end(rl_model *m, int n_need);

#endif
