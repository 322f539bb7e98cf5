/* Fuzz target: encode and decode arbitrary bytes with real tokenizers of each model kind: the
 * ../shared/tokenizers set (byte-level BPE, SentencePiece-style BPE with byte fallback,
 * SentencePiece .model) plus small built-in Unigram / WordPiece / WordLevel tokenizer.json files.
 * The first byte picks the tokenizer; the rest is text to encode, and is also read as ids to
 * decode. Without ../shared only the built-in ones run. */
#include "fuzz.h"
#include "tokenizer/tokenizer.h"

static const char tok0[] =
    "{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"\\u2581\",-1],[\"a\",-2],[\"b\",-2],"
    "[\"ab\",-1.5],[\"\\u2581a\",-1],[\"c\",-3]],\"byte_fallback\":false},\"normalizer\":{\"type\":\"Sequence\","
    "\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Lowercase\"}]},\"pre_tokenizer\":{\"type\":\"Metaspace\","
    "\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\"},\"decoder\":{\"type\":\"Metaspace\","
    "\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\"},\"added_tokens\":[{\"id\":7,\"content\":\"<eos>\","
    "\"special\":true}]}";
static const char tok1[] =
    "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
    "\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"a\":3,\"##b\":4,\"ab\":5,"
    "\"c\":6,\"##c\":7}},\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true,\"strip_accents\":null,"
    "\"clean_text\":true,\"handle_chinese_chars\":true},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\","
    "\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_id\":0}}],"
    "\"special_tokens\":{\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[1],\"tokens\":[\"[CLS]\"]},\"[SEP]\":{\"id\":\"[SEP]\","
    "\"ids\":[2],\"tokens\":[\"[SEP]\"]}}},\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true}}";
static const char tok2[] =
    "{\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"a\":1,\"b\":2,\"hello\":3}},"
    "\"pre_tokenizer\":{\"type\":\"Whitespace\"}}";
static const char *const builtin[] = {tok0, tok1, tok2};

#define MAXT 16
static rl_tokenizer *toks[MAXT];
static int n_toks;

static void load_dir(const char *dir) {
    if (n_toks >= MAXT) return;
    rl_tokenizer *t = rl_tok_load(dir);
    if (t) toks[n_toks++] = t;
}

static void init(void) {
    for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++) {
        char name[64];
        snprintf(name, sizeof name, "b%zu", i);
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", fz_dir(), name);
        mkdir(dir, 0700);
        char f[128];
        snprintf(f, sizeof f, "%s/tokenizer.json", name);
        fz_file(f, builtin[i], strlen(builtin[i]));
        load_dir(dir);
    }
    const char *sh = fz_shared();
    static const char *const names[] = {"llama3_1", "qwen3", "gemma3", "mistral_v01", "deepseek_v3", "llama2_spm"};
    for (size_t i = 0; sh && i < sizeof names / sizeof *names; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/tokenizers/%s", sh, names[i]);
        load_dir(dir);
    }
}

static void cleanup(void) { for (int i = 0; i < n_toks; i++) rl_tok_free(toks[i]); }

/* Loading the tokenizers takes seconds under ASan: done once, outside the per-input timeout. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    init();
    atexit(cleanup);
    fprintf(stderr, "tok_encode: %d tokenizers loaded\n", n_toks);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || !n_toks) return 0;
    rl_tokenizer *t = toks[data[0] % n_toks];
    int32_t *ids = NULL;
    size_t n = 0;
    if (rl_tok_encode(t, (const char *)data + 1, size - 1, data[0] & 0x80 ? 1 : 0, &ids, &n) == 0) {
        char *s = NULL;
        size_t len = 0;
        if (rl_tok_decode(t, ids, n, 0, &s, &len) == 0) free(s);
    }
    free(ids);
    /* the bytes as ids (some out of range) */
    size_t k = (size - 1) / 4;
    int32_t *raw = malloc((k ? k : 1) * sizeof *raw);
    if (raw) {
        memcpy(raw, data + 1, k * 4);
        size_t V = rl_tok_vocab_size(t);
        for (size_t i = 0; i < k; i++) if (raw[i] >= 0 && V && (raw[i] & 0x40000000) == 0) raw[i] %= (int32_t)V;
        char *s = NULL;
        size_t len = 0;
        if (rl_tok_decode(t, raw, k, data[0] & 1, &s, &len) == 0) free(s);
        free(raw);
    }
    return 0;
}
