/* The table of every command's arguments and flags (name, value, default, meaning), printed by
 * `rabbitllm CMD --help` and searched for the nearest flag when one is unknown (see help.h). */
#include "cli/help.h"
#include <string.h>

const char *rl_cli_command;

/* A command's table: its own rows first; a later row of the same flag (from GEN_FLAGS) is not
 * printed, so an own row overrides a shared one (its default); an own row with help NULL (NOT)
 * leaves a shared flag out of the command (parsed, but of no effect there). */
typedef struct { const char *flag, *value, *def, *help; } flag_row;
#define NOT(f) {f, NULL, NULL, NULL}

/* The generation flags parsed by opts.c (run, chat, serve, bench). */
#define GEN_FLAGS \
    {"-p, --prompt", "TEXT", "", "prompt text (chat template applied unless --raw)"}, \
    {"--system", "TEXT", "", "system message for the chat template"}, \
    {"--ids", "1,2,3", "", "prompt as token ids"}, \
    {"--ids-file", "FILE", "", "prompt ids, one list per line"}, \
    {"--prompts", "FILE", "", "batch: one prompt per line"}, \
    {"--raw", "", "off", "no chat template"}, \
    {"-n, --n-predict", "N", "64", "tokens to generate"}, \
    {"--temp, --temperature", "T", "0 (greedy)", "sampling temperature"}, \
    {"--top-k", "K", "0 (off)", "keep the K most likely tokens"}, \
    {"--top-p", "P", "1 (off)", "nucleus sampling"}, \
    {"--min-p", "P", "0 (off)", "drop tokens under P x the best"}, \
    {"--repeat-penalty, --repetition-penalty", "R", "1 (off)", "repetition penalty"}, \
    {"--seed", "N", "0", "sampling seed"}, \
    {"--ignore-eos", "", "off", "keep generating past end-of-sequence"}, \
    {"--ctx", "N", "model / prompt", "context length"}, \
    {"-t, --threads", "N", "0 (all cores)", "compute threads"}, \
    {"--batch", "N", "engine default", "largest prefill batch"}, \
    {"--parallel", "N", "1", "sequences decoded together"}, \
    {"--draft", "N", "0 (off)", "speculative tokens per sweep (prompt lookup; with --draft-model: merged into its tree)"}, \
    {"--draft-model", "DIR", "", "small resident model drafting token trees (same vocabulary)"}, \
    {"--draft-tokens", "N", "64", "most tree nodes per sweep the draft model grows"}, \
    {"--draft-fixed", "", "off", "always trees of --draft-tokens (no cost model)"}, \
    {"--draft-quant", "8|4", "off", "run the draft model from its quantized layer cache"}, \
    {"--draft-backend", "NAME", "the target's", "compute backend of the draft model"}, \
    {"--quant", "8|4", "off", "run from the quantized layer cache (built when absent or stale)"}, \
    {"--compute", "f32|bf16", "f32", "prefill precision: bf16 = BF16 weights on bf16, Q8_0 on int8 activations"}, \
    {"--mem-budget", "SIZE|auto", "auto", "memory for resident layers (e.g. 4G, 0)"}, \
    {"--backend", "NAME", "cpu", "compute backend (cpu, cuda, vulkan; auto: a GPU that opens, else cpu)"}, \
    {"--gpu-mem", "SIZE|auto", "0 (stream)", "GPU memory for layers kept on the device (e.g. 20G; auto: free memory less a margin)"}, \
    {"--expert-cache", "SIZE|auto|off", "auto", "MoE: most-used routed experts kept in the backend's memory (auto: what --gpu-mem / --mem-budget leave)"}, \
    {"--moe-cpu-rows", "N|off", "8", "MoE on a GPU: an uncached expert with at most N rows runs on the CPU"}, \
    {"--pp-split", "A,B,...", "by bytes", "layers per rank under mpirun (make MPI=1)"}, \
    {"--gpu", "", "off", "short for --backend cuda"}, \
    {"--kv-type", "TYPE", "f32", "KV cache element type"}, \
    {"--profile", "", "off", "per-stage timings on stderr"}, \
    {"--trace", "FILE", "", "every layer's intermediates as text lines (sum, abs sum, max, first values)"}, \
    {"--dump-logits", "FILE", "", "write the last logits (f32)"}

/* what a conversation or a server does not use: prompts come from stdin or the requests */
#define NO_PROMPT NOT("-p, --prompt"), NOT("--ids"), NOT("--ids-file"), NOT("--prompts"), NOT("--dump-logits"), \
    NOT("--trace"), NOT("--profile"), NOT("--draft-fixed")

static const flag_row RUN[] = {{"--parallel", "N", "8", "with --ids-file / --prompts: sequences decoded together"}, GEN_FLAGS, {0}};
static const flag_row CHAT[] = {{"-n, --n-predict", "N", "512", "most tokens per answer"}, NO_PROMPT, GEN_FLAGS, {0}};
static const flag_row SERVE[] = {{"-n, --n-predict", "N", "the request's max_tokens, else to the context", "default max_tokens"},
                                 {"--draft-model", "DIR", "", "speculative decoding: a token tree per decoding slot, all verified in one sweep (same vocabulary)"},
                                 {"--draft-tokens", "N", "64", "most tree nodes per slot and step"},
                                 {"--draft-fixed", "", "off", "always trees of --draft-tokens (no cost model)"},
                                 NO_PROMPT, NOT("--system"), NOT("--raw"), NOT("--draft"),
                                 {"--host", "H", "127.0.0.1", "address to listen on"},
                                 {"--port", "P", "8080", "port to listen on"},
                                 {"--model-name", "NAME", "the model directory", "model id in the API"},
                                 {"--chat-template", "NAME|FILE", "the model's, else chatml", "built-in (chatml, llama3, llama2, gemma, mistral, phi3, qwen, deepseek) or a Jinja file"},
                                 {"--api-key", "KEY", "$RABBITLLM_API_KEY", "require Authorization: Bearer KEY"},
                                 {"--cors", "ORIGIN", "off", "allow this origin (answers OPTIONS preflight)"},
                                 {"--queue", "N", "64", "requests waiting for a slot (503 beyond)"},
                                 {"--timeout", "S", "120", "idle connection timeout in seconds"},
                                 {"--max-connections", "N", "256", "connection cap"},
                                 {"--sse-keepalive", "S", "15", "keep-alive comment interval of queued streams"},
                                 {"--batch-tokens", "N", "256", "most tokens per step (prefill chunks + decode rows)"},
                                 {"--parallel", "N", "what the memory plan allows, at most 16", "slots: requests generated together"},
                                 GEN_FLAGS, {0}};
static const flag_row BENCH[] = {{"-n, --n-predict", "N", "8", "decode tokens timed (medians of N)"},
                                 {"--ctx", "N", "512", "context length"},
                                 NOT("--mem-budget"),   /* fixed by the mode: all streamed, or (--resident) all resident */
                                 NO_PROMPT, NOT("--system"), NOT("--raw"), NOT("--temp, --temperature"), NOT("--top-k"),
                                 NOT("--top-p"), NOT("--min-p"), NOT("--repeat-penalty, --repetition-penalty"), NOT("--seed"),
                                 NOT("--ignore-eos"), NOT("--parallel"),
                                 {"--resident", "", "off", "time the resident (all in memory) path instead"},
                                 {"--pp", "LIST", "128,2048", "prefill lengths for --resident"},
                                 {"--timeline", "FILE.svg", "", "draw one sweep: read / prefetch wait / compute per stage"},
                                 GEN_FLAGS, {0}};
static const flag_row INFO[] = {{"--ctx", "N", "model maximum", "context length of the memory plan"},
                                {"--backend", "NAME", "cpu", "compute backend"},
                                {"--kv-type", "TYPE", "f32", "KV cache element type"},
                                {"--parallel", "N", "1", "sequences of the plan"},
                                {"--batch", "N", "engine default", "prefill batch of the plan"},
                                {"--mem-budget", "SIZE|auto", "auto", "memory for resident layers"},
                                {"--gpu-mem", "SIZE|auto", "0 (stream)", "GPU memory for layers kept on the device (auto: free memory less a margin)"},
                                {"--expert-cache", "SIZE|auto|off", "auto", "MoE: routed experts kept in the backend's memory"},
                                {"--moe-cpu-rows", "N|off", "8", "MoE on a GPU: uncached experts with at most N rows run on the CPU"},
                                {"--json", "", "off", "description, memory plan and files as JSON"},
                                {0}};
static const flag_row TOKENIZE[] = {{"--jsonl", "", "off", "read {\"text\":...} lines from stdin"},
                                    {"--no-special", "", "off", "no special tokens (BOS...)"}, {0}};
static const flag_row DETOK[] = {{"--jsonl", "", "off", "read {\"ids\":[...]} lines from stdin"},
                                 {"--skip-special", "", "off", "leave special tokens out"}, {0}};
static const flag_row TEMPLATE[] = {{"--jsonl", "", "off", "read {\"messages\":...} lines from stdin"}, {0}};
static const flag_row SYNTH[] = {{"--dtype", "bf16|f16|f32|fp8|fp8-channel|fp8-tensor|gptq4", "bf16", "weight type (pre-quantized forms: DeepSeek FP8 blocks, compressed-tensors FP8, GPTQ)"},
                                 {"--shard-size", "SIZE", "2G", "largest shard file"},
                                 {"--seed", "N", "0", "random seed"}, {0}};
static const flag_row QUANT[] = {{"--bits", "8|4", "8", "Q8_0 or Q4_1 layer matrices (with --gguf: Q8_0 or Q4_0)"},
                                 {"--quant", "8|4", "8", "same as --bits"},
                                 {"--gguf", "OUT.gguf", "off", "write one GGUF file (llama.cpp's format) instead of the cache"},
                                 {"--type", "f32|f16|bf16|q8_0|q4_0|q4_1", "from --bits", "GGUF matrix type (with --gguf)"},
                                 {"--out", "DIR", "$XDG_CACHE_HOME/rabbitllm/<hash>-qBITS", "cache directory"},
                                 {"--force", "", "off", "rebuild even when fresh"}, {0}};
static const flag_row BTOK[] = {{"--repeat", "N", "3", "warm passes over FILE (after one cold pass)"}, {0}};
static const flag_row DOWNLOAD[] = {{"--revision", "R", "main", "branch, tag or commit"},
                                    {"--include", "PATTERN...", "config, tokenizer, template, safetensors", "extra files"},
                                    {"-q, --quiet", "", "off", "no progress"}, {0}};

static const struct { const char *cmd, *args, *what; const flag_row *flags; } CMDS[] = {
    {"run", "MODEL (-p TEXT | --ids 1,2,3)", "generate text", RUN},
    {"chat", "MODEL", "interactive chat", CHAT},
    {"serve", "MODEL", "OpenAI-compatible HTTP server", SERVE},
    {"bench", "MODEL", "streaming (or resident) speed vs disk and memory; --draft-model: speculative vs plain decoding", BENCH},
    {"info", "MODEL", "model description and memory plan", INFO},
    {"tokenize", "MODEL (TEXT | --jsonl)", "text to token ids", TOKENIZE},
    {"detokenize", "MODEL (IDS | --jsonl)", "token ids to text", DETOK},
    {"template", "MODEL --jsonl", "render the chat template", TEMPLATE},
    {"synth", "CONFIG_JSON OUT_DIR", "write a random-weight checkpoint", SYNTH},
    {"quantize", "MODEL", "write the 8/4-bit layer cache, or a GGUF file", QUANT},
    {"bench-tokenizer", "MODEL FILE", "tokenizer speed", BTOK},
    {"download", "org/name[@revision]", "fetch a model into the Hugging Face cache", DOWNLOAD},
};

/* 0 for a NOT row and for a row whose flag an earlier row of the table already had */
static int shown(const flag_row *tab, const flag_row *r) {
    if (!r->help) return 0;
    for (const flag_row *e = tab; e < r; e++) if (!strcmp(e->flag, r->flag)) return 0;
    return 1;
}

static int find(const char *cmd) {
    for (int i = 0; cmd && i < (int)(sizeof CMDS / sizeof *CMDS); i++)
        if (!strcmp(CMDS[i].cmd, cmd)) return i;
    return -1;
}

int rl_cli_help(const char *cmd, FILE *f) {
    int c = find(cmd);
    if (c < 0) return -1;
    fprintf(f, "usage: rabbitllm %s %s [FLAGS]\n  %s\n", CMDS[c].cmd, CMDS[c].args, CMDS[c].what);
    if (strstr(CMDS[c].args, "MODEL") && strncmp(CMDS[c].args, "MODEL FILE", 1) == 0)
        fprintf(f, "  MODEL: a model directory, a .gguf file, or a hub id org/name[@revision] in the local cache\n");
    fprintf(f, "flags:\n");
    for (const flag_row *r = CMDS[c].flags; r->flag; r++) {
        if (!shown(CMDS[c].flags, r)) continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", r->flag, *r->value ? " " : "", r->value);
        fprintf(f, "  %-30s %s (default: %s)\n", left, r->help, *r->def ? r->def : "none");
    }
    fprintf(f, "  %-30s %s\n", "-h, --help", "this help");
    return 0;
}

static int dist(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 40 || m > 40) return 99;
    int d[41][41];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int x = d[i - 1][j] + 1, y = d[i][j - 1] + 1, z = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            d[i][j] = x < y ? (x < z ? x : z) : (y < z ? y : z);
        }
    return d[n][m];
}

const char *rl_cli_suggest(const char *cmd, const char *flag) {
    static char best[64];
    int c = find(cmd), bd = 4;
    if (c < 0 || !flag) return NULL;
    for (const flag_row *r = CMDS[c].flags; r->flag; r++) {
        if (!r->help) continue;
        char names[64];
        snprintf(names, sizeof names, "%s", r->flag);
        for (char *tok = strtok(names, ", "); tok; tok = strtok(NULL, ", ")) {   /* "-n, --n-predict" */
            int d = dist(flag, tok);
            if (strlen(flag) >= 4 && !strncmp(tok, flag, strlen(flag))) d = 1;   /* a prefix */
            if (d < bd) { bd = d; snprintf(best, sizeof best, "%s", tok); }
        }
    }
    return bd < 4 ? best : NULL;
}

const char *rl_cli_suggest_command(const char *name) {
    const char *best = NULL;
    int bd = 3;
    size_t n = name ? strlen(name) : 0;
    for (int i = 0; n && i < (int)(sizeof CMDS / sizeof *CMDS); i++) {
        int d = dist(name, CMDS[i].cmd);
        if (n >= 3 && !strncmp(CMDS[i].cmd, name, n)) d = 1;   /* a prefix: "quant", "down" */
        if (d < bd) { bd = d; best = CMDS[i].cmd; }
    }
    return best;
}

void rl_cli_unknown_flag(const char *flag) {
    const char *s = rl_cli_suggest(rl_cli_command, flag);
    if (s && !strcmp(s, flag)) fprintf(stderr, "error: option '%s' needs a value", flag);   /* a known flag, last */
    else fprintf(stderr, "error: unknown or incomplete option '%s'", flag);
    if (s && strcmp(s, flag)) fprintf(stderr, "; did you mean '%s'?", s);
    fprintf(stderr, " (rabbitllm %s --help lists them)\n", rl_cli_command ? rl_cli_command : "COMMAND");
}
