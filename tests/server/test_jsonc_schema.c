/* The JSON-schema keywords of the output constraint (server/jsonc.h): required / optional
 * properties, additionalProperties, item / length / member counts, enum / const of any type,
 * anyOf / oneOf, type arrays, nullable, $ref / $defs (recursive), numeric ranges, the prefix /
 * suffix of forced tool calls, unsupported keywords refused; and random walks through the token
 * mask over a small vocabulary (some pieces and every ASCII character): every finished walk is JSON, no walk gets stuck. Schemas and
 * texts are written with ' for " to stay readable. */
#include "test.h"
#include "server/jsonc.h"
#include <cjson/cJSON.h>

/* s with ' turned into " (a static buffer of 4 rotating slots). */
static const char *q(const char *s) {
    static char buf[4][2048];
    static int k;
    char *b = buf[k++ & 3];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof buf[0]; i++) b[i] = s[i] == '\'' ? '"' : s[i];
    b[i] = 0;
    return b;
}

static rl_jsonc *make(const char *schema, const char *pre, const char *suf, char *err, size_t errsz) {
    cJSON *s = cJSON_Parse(q(schema));
    if (!s) { snprintf(err, errsz, "test schema does not parse"); return NULL; }
    rl_jsonc *c = rl_jsonc_new_ex(s, pre, suf, NULL, err, errsz);
    cJSON_Delete(s);
    return c;
}

/* 1: text accepted and complete; 0: accepted, not complete; -1: refused. */
static int run_text(const char *schema, const char *text) {
    char err[256];
    rl_jsonc *c = make(schema, NULL, NULL, err, sizeof err);
    if (!c) { fprintf(stderr, "  schema error: %s\n", err); return -2; }
    int r = rl_jsonc_feed(c, q(text)) ? -1 : rl_jsonc_done(c);
    rl_jsonc_free(c);
    return r;
}
#define OK(s, t) CHECK(run_text(s, t) == 1, "%s should be complete under %s", t, s)
#define PART(s, t) CHECK(run_text(s, t) == 0, "%s should be an incomplete prefix under %s", t, s)
#define NO(s, t) CHECK(run_text(s, t) == -1, "%s should be refused under %s", t, s)

static void test_required(void) {
    const char *S = "{'type':'object','properties':{'a':{'type':'integer'},'b':{'type':'string'},'c':{'type':'boolean'}},'required':['a','c']}";
    OK(S, "{'a':1,'c':true}");
    OK(S, "{'a': 1, 'b': 'x', 'c': false}");
    NO(S, "{'a':1}");
    NO(S, "{'b':'x'");                   /* a is required and comes first */
    NO(S, "{'a':1,'c':true,'b'");        /* schema order */
    NO(S, "{'a':1,'d'");
    const char *O = "{'type':'object','properties':{'x':{'type':'integer'},'y':{'type':'integer'}}}";
    OK(O, "{}");
    OK(O, "{'y':2}");
    OK(O, "{'x':1,'y':2}");
    NO(O, "{'x':1,}");
    const char *M = "{'type':'object','properties':{'x':{},'y':{},'z':{}},'minProperties':2,'maxProperties':2}";
    OK(M, "{'x':1,'z':[]}");
    NO(M, "{'x':1}");
    NO(M, "{'x':1,'y':2,");
}

static void test_additional(void) {
    const char *A = "{'type':'object','additionalProperties':{'type':'integer'}}";
    OK(A, "{'any':1,'other key':-2}");
    NO(A, "{'k':'s'");
    const char *F = "{'type':'object','additionalProperties':false}";
    OK(F, "{ }");
    NO(F, "{'");
    const char *P = "{'type':'object','properties':{'p':{'const':1}},'required':['p'],'additionalProperties':false}";
    OK(P, "{'p':1}");
    NO(P, "{'p':1,");
}

static void test_arrays_strings(void) {
    const char *A = "{'type':'array','items':{'type':'integer'},'minItems':2,'maxItems':3}";
    OK(A, "[1,2]");
    OK(A, "[1, 2, 3]");
    NO(A, "[1]");
    NO(A, "[]");
    NO(A, "[1,2,3,");
    NO(A, "[1,'a'");
    OK("{'type':'array','maxItems':0}", "[]");
    NO("{'type':'array','maxItems':0}", "[1");
    const char *S = "{'type':'string','minLength':2,'maxLength':3}";
    OK(S, "'ab'");
    OK(S, "'\xC3\xA9t\xC3\xA9'");           /* 3 code points, 5 bytes */
    OK(S, "'\\u00e9\\n'");
    OK(S, "'\\ud83d\\ude00x'");            /* a surrogate pair is one code point */
    NO(S, "'a'");
    NO(S, "'abcd");
    PART(S, "'ab");
}

static void test_literals(void) {
    const char *E = "{'enum':[1,'a',null,{'k':[1,2]},[true],2.5]}";
    OK(E, "1");
    OK(E, "'a'");
    OK(E, "null");
    OK(E, "{'k':[1,2]}");
    OK(E, "[true]");
    OK(E, "2.5");
    NO(E, "'b'");
    NO(E, "{'k':[1]}");
    OK("{'const':{'x':false}}", "{'x':false}");
    OK("{'type':'boolean'}", "true");
    NO("{'type':'boolean'}", "1");
    /* a big enum (several literal groups) */
    char big[16384];
    size_t l = (size_t)snprintf(big, sizeof big, "{'enum':[");
    for (int i = 0; i < 300; i++) l += (size_t)snprintf(big + l, sizeof big - l, "%s'v%d'", i ? "," : "", i);
    snprintf(big + l, sizeof big - l, "]}");
    cJSON *s = cJSON_Parse(q(big));
    char err[256];
    rl_jsonc *c = s ? rl_jsonc_new(s, NULL, err, sizeof err) : NULL;
    CHECK(c && rl_jsonc_feed(c, "\"v299\"") == 0 && rl_jsonc_done(c), "enum of 300");
    rl_jsonc_free(c);
    c = s ? rl_jsonc_new(s, NULL, err, sizeof err) : NULL;
    CHECK(c && rl_jsonc_feed(c, "\"v300\"") != 0, "not in the enum of 300");
    rl_jsonc_free(c);
    cJSON_Delete(s);
}

static void test_alternatives(void) {
    const char *A = "{'anyOf':[{'type':'string','maxLength':2},{'type':'integer','minimum':5}]}";
    OK(A, "'ab'");
    OK(A, "7 ");
    NO(A, "'abc");
    NO(A, "3 ");
    NO(A, "true");
    const char *O = "{'oneOf':[{'type':'object','properties':{'kind':{'const':'circle'},'r':{'type':'number'}},'required':['kind','r']},"
                    "{'type':'object','properties':{'kind':{'const':'rect'},'w':{'type':'number'},'h':{'type':'number'}},'required':['kind','w','h']}]}";
    OK(O, "{'kind':'circle','r':1.5}");
    OK(O, "{'kind':'rect','w':1,'h':2}");
    NO(O, "{'kind':'circle','w'");
    NO(O, "{'kind':'rect','w':1}");
    const char *T = "{'type':['string','null']}";
    OK(T, "null");
    OK(T, "'x'");
    NO(T, "1");
    const char *N = "{'type':'integer','nullable':true}";
    OK(N, "null");
    OK(N, "3 ");
    NO(N, "'x'");
    OK("{'allOf':[{'type':'integer'}]}", "4 ");
    OK("{'type':'object','properties':{'v':{'anyOf':[{'type':'array','items':{'type':'integer'}},{'type':'null'}]}},'required':['v']}", "{'v':[1,2]}");
}

static void test_refs(void) {
    const char *R = "{'$defs':{'node':{'type':'object','properties':{'v':{'type':'integer'},'kids':{'type':'array','items':{'$ref':'#/$defs/node'}}},"
                    "'required':['v','kids']}},'$ref':'#/$defs/node'}";
    OK(R, "{'v':1,'kids':[{'v':2,'kids':[]},{'v':3,'kids':[{'v':4,'kids':[]}]}]}");
    NO(R, "{'v':1,'kids':[{'v':'x'");
    NO(R, "{'v':1,'kids':[{'kids'");
    const char *D = "{'definitions':{'a/b':{'type':'string'}},'type':'object','properties':{'s':{'$ref':'#/definitions/a~1b'}},'required':['s']}";
    OK(D, "{'s':'x'}");
    NO(D, "{'s':1");
    const char *L = "{'type':'object','properties':{'next':{'anyOf':[{'$ref':'#'},{'type':'null'}]}},'required':['next']}";
    OK(L, "{'next':{'next':null}}");
    char err[256];
    rl_jsonc *c = make("{'$ref':'#/$defs/missing'}", NULL, NULL, err, sizeof err);
    CHECK(!c && strstr(err, "missing"), "a dangling $ref: %s", err);
    rl_jsonc_free(c);
    c = make("{'$defs':{'x':{'$ref':'#/$defs/x'}},'$ref':'#/$defs/x'}", NULL, NULL, err, sizeof err);
    CHECK(!c || rl_jsonc_feed(c, "1") != 0, "a $ref cycle accepts nothing (and does not loop)");
    rl_jsonc_free(c);
}

static void test_ranges(void) {
    const char *I = "{'type':'integer','minimum':10,'maximum':20}";
    OK(I, "10 ");
    OK(I, "20 ");
    PART(I, "2");
    NO(I, "3");
    NO(I, "21");
    NO(I, "9 ");
    NO(I, "-");
    NO(I, "1.5");
    const char *X = "{'type':'integer','exclusiveMinimum':-3,'exclusiveMaximum':3}";
    OK(X, "-2 ");
    OK(X, "0 ");
    NO(X, "-3");
    NO(X, "3");
    const char *F = "{'type':'number','exclusiveMinimum':0,'maximum':1}";
    OK(F, "0.5 ");
    OK(F, "1 ");
    OK(F, "1.0 ");
    NO(F, "0 ");
    NO(F, "1.5");
    NO(F, "-");
    NO(F, "0.5e");
    const char *B = "{'type':'object','properties':{'age':{'type':'integer','minimum':0,'maximum':150}},'required':['age']}";
    OK(B, "{'age':42}");
    NO(B, "{'age':151");
    NO(B, "{'age':-1");
    char err[256];
    rl_jsonc *c = make("{'type':'integer','minimum':5,'maximum':4}", NULL, NULL, err, sizeof err);
    CHECK(!c && strstr(err, "empty"), "an empty range: %s", err);
    rl_jsonc_free(c);
}

static void test_refused(void) {
    static const char *const BAD[] = {"{'type':'string','pattern':'^a'}", "{'not':{'type':'null'}}", "{'type':'integer','multipleOf':2}",
                                      "{'type':'array','uniqueItems':true}", "{'type':'array','prefixItems':[{}]}",
                                      "{'allOf':[{'type':'integer'},{'minimum':1}]}", "{'type':'object','required':['x']}", "{'type':'wat'}",
                                      "{'type':'array','items':[{}]}", "{'type':'string','minLength':3,'maxLength':2}", NULL};
    for (int i = 0; BAD[i]; i++) {
        char err[256] = "";
        rl_jsonc *c = make(BAD[i], NULL, NULL, err, sizeof err);
        CHECK(!c && err[0], "%s should be refused (got '%s')", BAD[i], err);
        rl_jsonc_free(c);
    }
    OK("{'type':'string','format':'date-time','title':'t','description':'d','default':'x'}", "'2020'");
}

static void test_prefix_suffix(void) {
    char err[256];
    rl_jsonc *c = make("{'type':'object','properties':{'name':{'const':'f'}},'required':['name']}", "<tool_call>\n", "\n</tool_call>", err, sizeof err);
    CHECK(c && rl_jsonc_feed(c, "<tool_call>\n{\"name\": \"f\"}") == 0 && !rl_jsonc_done(c), "prefix and value");
    CHECK(c && rl_jsonc_feed(c, "\n</tool_call>") == 0 && rl_jsonc_done(c), "suffix");
    rl_jsonc_free(c);
    c = make("{'type':'object'}", "<tool_call>\n", NULL, err, sizeof err);
    CHECK(c && rl_jsonc_feed(c, "{") != 0, "the prefix comes first");
    rl_jsonc_free(c);
}

/* Random walks over a small vocabulary: the mask never leaves a walk stuck before the value is
 * complete, and every complete walk parses as JSON. */
static void test_walks(void) {
    static const char *const V[] = {"{", "}", "[", "]", "\"", ",", ":", " ", "\n", "0", "1", "7", "-", ".", "e", "a", "b", "é",
                                    "\\n", "\\u00e9", "true", "false", "null", "\"kind\"", "\"circle\"", "\"rect\"", "\"r\"", "\"w\"",
                                    "\"h\"", "\"v\"", "\"kids\"", "\"name\": \"", "\"}", "\"]", "}]", "}}", "\": ", ", \"", "12", "3.5",
                                    "\"a\"", "\"b\"", "\"x\"", "\"y\"", "\"next\"", "\"age\"", "\"tags\"", NULL};
    /* the pieces above and every printable ASCII character, as byte-level vocabularies have */
    const char *voc[256];
    static char single[95][2];
    int nv = 0;
    while (V[nv]) { voc[nv] = V[nv]; nv++; }
    for (int ch = 0x20; ch < 0x7F; ch++) { single[ch - 0x20][0] = (char)ch; voc[nv++] = single[ch - 0x20]; }
    rl_vocab_text *vt = rl_vocab_text_from(voc, nv);
    static const char *const S[] = {
        "{'type':'object','properties':{'kind':{'enum':['circle','rect']},'r':{'type':'number','minimum':0,'maximum':10}},'required':['kind']}",
        "{'$defs':{'n':{'type':'object','properties':{'v':{'type':'integer','minimum':-5,'maximum':17},'kids':{'type':'array','items':{'$ref':'#/$defs/n'},'maxItems':2}},'required':['v','kids']}},'$ref':'#/$defs/n'}",
        "{'type':'object','properties':{'tags':{'type':'array','items':{'type':'string','maxLength':3},'minItems':1,'maxItems':3},'age':{'anyOf':[{'type':'integer'},{'type':'null'}]}},'required':['tags','age']}",
        "{'type':'object','additionalProperties':{'type':['number','boolean']},'maxProperties':3}",
        "{'type':'array','items':{'oneOf':[{'type':'string','minLength':1,'maxLength':2},{'const':{'x':[1]}}]},'maxItems':4}",
        NULL};
    unsigned char *mask = malloc((size_t)nv);
    uint64_t rng = 0x1234567;
    int finished = 0;
    for (int si = 0; S[si]; si++) {
        for (int w = 0; w < 40; w++) {
            char err[256];
            cJSON *s = cJSON_Parse(q(S[si]));
            rl_jsonc *c = s ? rl_jsonc_new(s, vt, err, sizeof err) : NULL;
            cJSON_Delete(s);
            CHECK(c != NULL, "schema %d: %s", si, c ? "" : err);
            if (!c) break;
            char out[4096] = "";
            size_t ol = 0;
            int stuck = 0;
            for (int t = 0; t < 120 && !rl_jsonc_done(c); t++) {
                memset(mask, 0, (size_t)nv);
                rl_jsonc_allowed(c, mask);
                int n = 0, pick = -1;
                for (int i = 0; i < nv; i++) n += mask[i];
                if (!n) { stuck = 1; break; }
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                /* closers are favoured after a while so that most walks end */
                int want = (int)((rng >> 33) % (uint64_t)n);
                if (t > 40) for (int i = 0; i < nv; i++) if (mask[i] && strchr("}]\"", voc[i][0]) && strlen(voc[i]) <= 2) { want = -1; pick = i; break; }
                for (int i = 0; i < nv && want >= 0; i++) if (mask[i] && want-- == 0) pick = i;
                CHECK(rl_jsonc_accept(c, pick) == 0, "an allowed token refused");
                ol += (size_t)snprintf(out + ol, sizeof out - ol, "%s", voc[pick]);
                if (ol >= sizeof out - 64) break;
            }
            CHECK(!stuck, "schema %d: stuck after '%s'", si, out);
            if (rl_jsonc_done(c)) {
                cJSON *v = cJSON_Parse(out);
                CHECK(v != NULL, "schema %d: not JSON: %s", si, out);
                cJSON_Delete(v);
                finished++;
            }
            rl_jsonc_free(c);
        }
    }
    CHECK(finished > 100, "only %d walks of 200 finished", finished);
    free(mask);
    rl_vocab_text_free(vt);
}

int main(void) {
    RUN(test_required);
    RUN(test_additional);
    RUN(test_arrays_strings);
    RUN(test_literals);
    RUN(test_alternatives);
    RUN(test_refs);
    RUN(test_ranges);
    RUN(test_refused);
    RUN(test_prefix_suffix);
    RUN(test_walks);
    TEST_END();
}
