/* Unit tests of tokenizer.json components on small hand-written tokenizers: split behaviors,
 * Oniguruma \s, pre-tokenizers, normalizers, WordPiece, Unigram, BPE options, added-token
 * options, tokenizer_config.json rules, and errors (malformed files, bad UTF-8, bad ids). */
#include "test.h"
#include "tokenizer/tokenizer.h"
#include "util/err.h"
#include <unistd.h>

static char g_dir[256];

static void write_file(const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    if (f) { fputs(text, f); fclose(f); }
}

static void rm_files(void) {
    char p[512];
    const char *names[] = {"tokenizer.json", "tokenizer_config.json", "tokenizer.model"};
    for (int i = 0; i < 3; i++) { snprintf(p, sizeof p, "%s/%s", g_dir, names[i]); unlink(p); }
}

/* Loads a tokenizer from JSON text (and optional config). */
static rl_tokenizer *mk(const char *json, const char *config) {
    rm_files();
    write_file("tokenizer.json", json);
    if (config) write_file("tokenizer_config.json", config);
    rl_tokenizer *t = rl_tok_load(g_dir);
    CHECK(t != NULL, "load: %s", rl_errmsg());
    return t;
}

/* Encodes and renders ids as "1,2,3" (or "ERR"). */
static const char *enc(rl_tokenizer *t, const char *text, int add) {
    static char out[1024];
    int32_t *ids; size_t n;
    if (!t || rl_tok_encode(t, text, strlen(text), add, &ids, &n)) return "ERR";
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && o < sizeof out - 16; i++) o += (size_t)snprintf(out + o, sizeof out - o, i ? ",%d" : "%d", ids[i]);
    free(ids);
    return out;
}

static const char *dec(rl_tokenizer *t, const int32_t *ids, size_t n, int skip) {
    static char out[1024];
    char *s; size_t l;
    if (!t || rl_tok_decode(t, ids, n, skip, &s, &l)) return "ERR";
    snprintf(out, sizeof out, "%s", s);
    free(s);
    return out;
}

#define EQ(got, want) do { const char *g_ = (got); CHECK(!strcmp(g_, want), "got [%s] want [%s]", g_, want); } while (0)

static const char *WL_VOCAB = "{\"a\":0,\"-\":1,\"b\":2,\"a-\":3,\"-b\":4,\"[UNK]\":5,\"--\":6,\"1\":7,\"2\":8,\"12\":9,\"!\":10,\"?\":11,\"c\":12,\"_aby\":13}";

static rl_tokenizer *wordlevel(const char *pre, const char *norm, const char *added) {
    char j[4096];
    snprintf(j, sizeof j, "{\"version\":\"1.0\",\"added_tokens\":%s,\"normalizer\":%s,\"pre_tokenizer\":%s,"
             "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":\"WordLevel\",\"vocab\":%s,\"unk_token\":\"[UNK]\"}}",
             added ? added : "[]", norm ? norm : "null", pre, WL_VOCAB);
    return mk(j, NULL);
}

static rl_tokenizer *split(const char *pattern, const char *behavior, int invert) {
    char p[512];
    snprintf(p, sizeof p, "{\"type\":\"Split\",\"pattern\":%s,\"behavior\":\"%s\",\"invert\":%s}", pattern, behavior, invert ? "true" : "false");
    return wordlevel(p, NULL, NULL);
}

static void test_split_behaviors(void) {
    const char *dash = "{\"String\":\"-\"}";
    rl_tokenizer *t;
    t = split(dash, "Removed", 0); EQ(enc(t, "a-b", 0), "0,2"); rl_tok_free(t);
    t = split(dash, "Isolated", 0); EQ(enc(t, "a-b", 0), "0,1,2"); rl_tok_free(t);
    t = split(dash, "MergedWithPrevious", 0); EQ(enc(t, "a-b", 0), "3,2"); rl_tok_free(t);
    t = split(dash, "MergedWithNext", 0); EQ(enc(t, "a-b", 0), "0,4"); rl_tok_free(t);
    t = split(dash, "Contiguous", 0); EQ(enc(t, "a--b", 0), "0,6,2"); rl_tok_free(t);
    t = split(dash, "Removed", 1); EQ(enc(t, "a-b", 0), "1"); rl_tok_free(t);
    t = split("{\"Regex\":\"-+\"}", "Isolated", 0); EQ(enc(t, "a--b-", 0), "0,6,2,1"); rl_tok_free(t);
}

static void test_regex_onig_space(void) {
    rl_tokenizer *t = split("{\"Regex\":\"\\\\s\"}", "Removed", 0);
    EQ(enc(t, "a\xC2\x85" "b", 0), "0,2");          /* U+0085 is \s in Oniguruma */
    EQ(enc(t, "a\xEF\xBB\xBF" "b", 0), "5");         /* U+FEFF is not */
    EQ(enc(t, "a\xE3\x80\x80" "b", 0), "0,2");       /* U+3000 is */
    rl_tok_free(t);
    t = split("{\"Regex\":\"[^\\\\s-]+\"}", "Isolated", 0);   /* \s inside a class */
    EQ(enc(t, "a-b\xC2\x85" "c", 0), "0,1,2,5,12");
    rl_tok_free(t);
}

static void test_pretokenizers(void) {
    rl_tokenizer *t = wordlevel("{\"type\":\"Digits\",\"individual_digits\":true}", NULL, NULL);
    EQ(enc(t, "a12", 0), "0,7,8"); rl_tok_free(t);
    t = wordlevel("{\"type\":\"Digits\",\"individual_digits\":false}", NULL, NULL);
    EQ(enc(t, "a12", 0), "0,9"); rl_tok_free(t);
    t = wordlevel("{\"type\":\"Punctuation\",\"behavior\":\"Isolated\"}", NULL, NULL);
    EQ(enc(t, "a!?", 0), "0,10,11"); rl_tok_free(t);
    t = wordlevel("{\"type\":\"WhitespaceSplit\"}", NULL, NULL);
    EQ(enc(t, " a  b\tc ", 0), "0,2,12"); rl_tok_free(t);
    t = wordlevel("{\"type\":\"Whitespace\"}", NULL, NULL);
    EQ(enc(t, "a-b c", 0), "0,1,2,12"); rl_tok_free(t);
    t = wordlevel("{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"WhitespaceSplit\"},{\"type\":\"Digits\",\"individual_digits\":true}]}", NULL, NULL);
    EQ(enc(t, "a 12", 0), "0,7,8"); rl_tok_free(t);
}

static void test_normalizers(void) {
    rl_tokenizer *t = wordlevel("null",
        "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Lowercase\"},{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":true},"
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\"x\"},\"content\":\"y\"},{\"type\":\"Prepend\",\"prepend\":\"_\"}]}", NULL);
    EQ(enc(t, " \xEF\xBC\xA1" "Bx ", 0), "13");   /* fullwidth A, NFKC -> A */
    rl_tok_free(t);
    t = wordlevel("null", "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"StripAccents\"}]}", NULL);
    EQ(enc(t, "\xC3\xA1", 0), "0");               /* á -> a */
    rl_tok_free(t);
}

/* A hand-built SentencePiece charsmap (darts double array) mapping "a" -> "b". */
static void test_precompiled(void) {
    uint32_t arr[98] = {0};
    arr[0] = 1u << 10;                                   /* root: offset 1 */
    arr[96] = (1u << 10) | (1u << 8) | 0x61;             /* 1 ^ 'a' = 96: label 'a', leaf, offset 1 */
    arr[97] = 0;                                         /* 96 ^ 1 = 97: value = blob offset 0 */
    unsigned char raw[4 + sizeof arr + 2];
    uint32_t sz = sizeof arr;
    memcpy(raw, &sz, 4); memcpy(raw + 4, arr, sizeof arr); raw[4 + sizeof arr] = 'b'; raw[5 + sizeof arr] = 0;
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char b64[1024]; size_t o = 0;
    for (size_t i = 0; i < sizeof raw; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (i + 1 < sizeof raw ? (uint32_t)raw[i + 1] << 8 : 0) | (i + 2 < sizeof raw ? raw[i + 2] : 0);
        b64[o++] = T[v >> 18]; b64[o++] = T[(v >> 12) & 63];
        b64[o++] = i + 1 < sizeof raw ? T[(v >> 6) & 63] : '=';
        b64[o++] = i + 2 < sizeof raw ? T[v & 63] : '=';
    }
    b64[o] = 0;
    char norm[1200];
    snprintf(norm, sizeof norm, "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"%s\"}", b64);
    rl_tokenizer *t = wordlevel("{\"type\":\"WhitespaceSplit\"}", norm, NULL);
    EQ(enc(t, "a ab c", 0), "2,5,12");   /* "a"->"b"; "ab"->"bb" (unknown); "c" unchanged */
    rl_tok_free(t);
}

static const char *BERT =
    "{\"added_tokens\":[{\"id\":0,\"content\":\"[UNK]\",\"special\":true},{\"id\":1,\"content\":\"[CLS]\",\"special\":true},"
    "{\"id\":2,\"content\":\"[SEP]\",\"special\":true}],"
    "\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,\"strip_accents\":null,\"lowercase\":true},"
    "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]},"
    "\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true},"
    "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":100,"
    "\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"hello\":3,\"world\":4,\"wor\":5,\"##ld\":6,\"!\":7,\"un\":8,\"##aff\":9,\"##able\":10}}}";

static void test_wordpiece(void) {
    rl_tokenizer *t = mk(BERT, "{\"clean_up_tokenization_spaces\":true}");
    EQ(enc(t, "Hello, unaffable W\xC3\xB6rld!", 1), "1,3,0,8,9,10,4,7,2");
    EQ(enc(t, "hello xyz", 0), "3,0");
    int32_t ids[] = {1, 3, 8, 9, 10, 4, 7, 2};
    EQ(dec(t, ids, 8, 1), "hello unaffable world!");
    EQ(dec(t, ids, 8, 0), "[CLS] hello unaffable world! [SEP]");
    CHECK(rl_tok_vocab_size(t) == 11, "vocab %zu", rl_tok_vocab_size(t));
    CHECK(rl_tok_is_special(t, 1) && !rl_tok_is_special(t, 3), "special flags");
    rl_tok_free(t);
}

static const char *UNIGRAM =
    "{\"added_tokens\":[],\"normalizer\":null,"
    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":true},"
    "\"post_processor\":null,\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":true},"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":false,\"vocab\":[[\"<unk>\",0.0],[\"\xE2\x96\x81\",-1.0],"
    "[\"\xE2\x96\x81" "ab\",-2.0],[\"a\",-3.0],[\"b\",-3.0],[\"\xE2\x96\x81" "a\",-2.5],[\"c\",-4.0]]}}";

static void test_unigram_metaspace(void) {
    rl_tokenizer *t = mk(UNIGRAM, NULL);
    EQ(enc(t, "ab", 0), "2");
    EQ(enc(t, "abd", 0), "2,0");
    EQ(enc(t, "ab dd", 0), "2,1,0");     /* unknown "dd" fused into one unk */
    EQ(enc(t, "abc", 0), "2,6");
    int32_t ids[] = {2, 1, 6};
    EQ(dec(t, ids, 3, 0), "ab c");
    rl_tok_free(t);
}

static void test_bpe_options(void) {
    rl_tokenizer *t = mk("{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":{\"type\":\"BPE\",\"continuing_subword_prefix\":\"##\","
                         "\"vocab\":{\"a\":0,\"##b\":1,\"ab\":2,\"##a\":3,\"b\":4},\"merges\":[\"a ##b\"]}}", NULL);
    EQ(enc(t, "ab ba", 0), "2,4,3");
    rl_tok_free(t);
    t = mk("{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":{\"type\":\"BPE\",\"end_of_word_suffix\":\"</w>\","
           "\"vocab\":{\"a\":0,\"b</w>\":1,\"ab</w>\":2},\"merges\":[[\"a\",\"b</w>\"]]}}", NULL);
    EQ(enc(t, "ab", 0), "2");
    rl_tok_free(t);
    t = mk("{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"vocab\":{\"<unk>\":0,\"a\":1},\"merges\":[]}}", NULL);
    EQ(enc(t, "xxa", 0), "0,1");
    rl_tok_free(t);
    t = mk("{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":false,\"vocab\":{\"<unk>\":0,\"a\":1},\"merges\":[]}}", NULL);
    EQ(enc(t, "xxa", 0), "0,0,1");
    rl_tok_free(t);
    t = mk("{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"a\":1,\"<0x78>\":2},\"merges\":[]},"
           "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]}}", NULL);
    EQ(enc(t, "xay", 0), "2,1,0");
    int32_t ids[] = {2, 1};
    EQ(dec(t, ids, 2, 0), "xa");
    rl_tok_free(t);
    /* merge priority: lowest rank first, leftmost on ties */
    t = mk("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"ba\":3,\"aba\":4},\"merges\":[\"b a\",\"a b\",\"ab a\"]}}", NULL);
    EQ(enc(t, "aba", 0), "0,3");
    EQ(enc(t, "abab", 0), "0,3,1");
    rl_tok_free(t);
}

static void test_added_tokens(void) {
    const char *added = "[{\"id\":20,\"content\":\"<m>\",\"lstrip\":true,\"rstrip\":true,\"special\":true,\"normalized\":false},"
                        "{\"id\":21,\"content\":\"ab\",\"single_word\":true,\"special\":false,\"normalized\":false},"
                        "{\"id\":22,\"content\":\"<a>\",\"special\":true,\"normalized\":false},"
                        "{\"id\":23,\"content\":\"<a><b>\",\"special\":true,\"normalized\":false}]";
    rl_tokenizer *t = wordlevel("{\"type\":\"WhitespaceSplit\"}", NULL, added);
    EQ(enc(t, "a <m> b", 0), "0,20,2");
    EQ(enc(t, "ab xab", 0), "21,5");
    EQ(enc(t, "a<a><b>b<a>", 0), "0,23,2,22");
    CHECK(rl_tok_token_id(t, "<a><b>") == 23 && rl_tok_token_id(t, "b") == 2 && rl_tok_token_id(t, "zzz") == -1, "token_id");
    CHECK(rl_tok_vocab_size(t) == 24, "vocab size %zu", rl_tok_vocab_size(t));
    rl_tok_free(t);
}

static void test_config(void) {
    const char *json = "{\"added_tokens\":[{\"id\":14,\"content\":\"<s>\",\"special\":true},{\"id\":15,\"content\":\"</s>\",\"special\":true}],"
                       "\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"a\":0,\"<s>\":14,\"</s>\":15},\"unk_token\":\"a\"}}";
    rl_tokenizer *t = mk(json, "{\"tokenizer_class\":\"LlamaTokenizerFast\",\"add_bos_token\":true,\"add_eos_token\":true,"
                               "\"bos_token\":{\"__type\":\"AddedToken\",\"content\":\"<s>\"},\"eos_token\":\"</s>\",\"pad_token\":null}");
    EQ(enc(t, "a", 1), "14,0,15");
    EQ(enc(t, "a", 0), "0");
    const char *b = t ? rl_tok_config_str(t, "bos_token") : NULL, *e = t ? rl_tok_config_str(t, "eos_token") : NULL;
    CHECK(b && !strcmp(b, "<s>"), "bos_token %s", b ? b : "(null)");
    CHECK(e && !strcmp(e, "</s>"), "eos_token %s", e ? e : "(null)");
    CHECK(t && !rl_tok_config_str(t, "pad_token") && !rl_tok_config_str(t, "unk_token"), "absent tokens");
    rl_tok_free(t);
    t = mk(json, "{\"tokenizer_class\":\"PreTrainedTokenizerFast\",\"add_bos_token\":true,\"bos_token\":\"<s>\"}");
    EQ(enc(t, "a", 1), "0");   /* the flag only matters for Llama-style classes */
    rl_tok_free(t);
}

static void expect_load_error(const char *json, const char *needle) {
    rm_files();
    write_file("tokenizer.json", json);
    rl_tokenizer *t = rl_tok_load(g_dir);
    CHECK(t == NULL, "loaded a bad tokenizer.json: %s", json);
    rl_tok_free(t);
    CHECK(strstr(rl_errmsg(), "tokenizer.json") != NULL, "message does not name the file: %s", rl_errmsg());
    CHECK(strstr(rl_errmsg(), needle) != NULL, "message [%s] lacks [%s]", rl_errmsg(), needle);
}

static void test_errors(void) {
    expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {", "invalid JSON");
    expect_load_error("{\"normalizer\": null}", "model");
    expect_load_error("{\"model\": {\"type\": \"Bogus\"}}", "Bogus");
    expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}", "merge");
    expect_load_error("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}}}", "regex");
    rm_files();
    CHECK(rl_tok_load(g_dir) == NULL && strstr(rl_errmsg(), "no tokenizer.json"), "empty dir: %s", rl_errmsg());
    CHECK(rl_tok_load("/nonexistent/dir") == NULL, "missing dir");

    rl_tokenizer *t = mk(UNIGRAM, NULL);
    int32_t *ids = NULL; size_t n = 0;
    CHECK(t && rl_tok_encode(t, "a\xFF" "b", 3, 0, &ids, &n) == -1 && strstr(rl_errmsg(), "UTF-8"), "invalid UTF-8: %s", rl_errmsg());
    CHECK(t && rl_tok_encode(t, "\xE4\xBD", 2, 0, &ids, &n) == -1, "truncated UTF-8");
    CHECK(t && rl_tok_encode(t, "\xED\xA0\x80", 3, 0, &ids, &n) == -1, "surrogate in UTF-8");
    EQ(enc(t, "", 1), "");
    int32_t bad[] = {2, 7};
    char *s = NULL; size_t l;
    CHECK(t && rl_tok_decode(t, bad, 2, 0, &s, &l) == -1 && strstr(rl_errmsg(), "7"), "out-of-range id: %s", rl_errmsg());
    int32_t neg[] = {-1};
    CHECK(t && rl_tok_decode(t, neg, 1, 0, &s, &l) == -1, "negative id");
    EQ(dec(t, NULL, 0, 0), "");
    rl_tok_free(t);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/rl_tok_units_XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    RUN(test_split_behaviors);
    RUN(test_regex_onig_space);
    RUN(test_pretokenizers);
    RUN(test_normalizers);
    RUN(test_precompiled);
    RUN(test_wordpiece);
    RUN(test_unigram_metaspace);
    RUN(test_bpe_options);
    RUN(test_added_tokens);
    RUN(test_config);
    RUN(test_errors);
    rm_files();
    rmdir(g_dir);
    TEST_END();
}
