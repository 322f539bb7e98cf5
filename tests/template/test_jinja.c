/* Unit tests of the Jinja engine: language features, Python printing rules, filters, tests, methods,
 * error positions, and the sandbox bounds. */
#include "test.h"
#include "template/jinja.h"
#include "util/err.h"

static const char *CTX =
    "{\"msgs\": [{\"role\": \"user\", \"content\": \" Hi 'there' \"}, {\"role\": \"assistant\", \"content\": \"Yo\\nman\"}],"
    " \"n\": 3, \"f\": 2.5, \"s\": \"Hello World\", \"d\": {\"b\": 2, \"a\": 1}, \"e\": \"\", \"l\": [3, 1, 2], \"u\": \"\\u00c4b\\u00c7\"}";

/* Renders tpl with CTX: returns malloc'd output or NULL (error in rl_errmsg). */
static char *render(const char *tpl) {
    cJSON *ctx = cJSON_Parse(CTX);
    rl_jinja *t = rl_jinja_parse(tpl, strlen(tpl));
    char *out = NULL;
    if (t && rl_jinja_render(t, ctx, &out, NULL) != 0) out = NULL;
    rl_jinja_free(t);
    cJSON_Delete(ctx);
    return out;
}

static void expect(const char *tpl, const char *want) {
    char *got = render(tpl);
    CHECK(got && !strcmp(got, want), "template %s\n    want [%s]\n    got  [%s]", tpl, want, got ? got : rl_errmsg());
    free(got);
}

static void expect_err(const char *tpl, const char *substr) {
    char *got = render(tpl);
    CHECK(!got && strstr(rl_errmsg(), substr), "template %s: want error containing [%s], got [%s]", tpl, substr,
          got ? got : rl_errmsg());
    free(got);
}

static void test_printing(void) {
    expect("{{ 1 + 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 7 / 2 }}", "3 3 -4 -2 1024 3.5");
    expect("{{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1e-7 }} {{ 1e16 }} {{ 123.0 * 10 }}", "1.0 1e+20 0.30000000000000004 1e-07 1e+16 1230.0");
    expect("{{ [1, 'a', none, true, 1.5, (1,), {'k': 'v'}] }}", "[1, 'a', None, True, 1.5, (1,), {'k': 'v'}]");
    expect("{{ (1, 2) }} {{ () }} {{ 'it''s' }} {{ [\"it's\", 'say \"x\"'] }}", "(1, 2) () its [\"it's\", 'say \"x\"']");
    expect("{{ 'a\\tb\\u00e9\\x41' }}|{{ ['a\\nb'] }}", "a\tb\xc3\xa9" "A|['a\\nb']");
    expect("{{ 'a' ~ 1 ~ none ~ missing ~ true }}", "a1NoneTrue");
    expect("{{ missing }}|{{ none }}|{{ true }}", "|None|True");
}

static void test_control(void) {
    expect("{% for m in msgs %}{{ loop.index }}/{{ loop.length }} {{ m.role }}: {{ m.content | trim }}{% if not loop.last %}, {% endif %}{% endfor %}",
           "1/2 user: Hi 'there', 2/2 assistant: Yo\nman");
    expect("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "b=2;a=1;");
    expect("{% for k in d %}{{ k }}{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}", "ba|empty");
    expect("{% for x in l if x > 1 %}{{ x }}{{ loop.length }}{% endfor %}", "3222");
    expect("{% for x in range(10) %}{% if x == 5 %}{% break %}{% endif %}{% if x is odd %}{% continue %}{% endif %}{{ x }}{% endfor %}", "024");
    expect("{% for i in [1,2,3] %}{{ loop.previtem }}:{{ loop.nextitem }}:{{ loop.revindex }}:{{ loop.first }} {{ loop.cycle('a','b') }};{% endfor %}",
           ":2:3:True a;1:3:2:False b;2::1:False a;");
    expect("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", "37");
    expect("{% if l[0] == 1 %}A{% elif l[0] == 3 %}B{% else %}C{% endif %}", "B");
    expect("{% for i in range(3) %}{% if i == 1 %}{% set x = 5 %}{% endif %}{{ x }}{% endfor %}|{{ x }}", "5|");
    expect("{% for x in [[1, [2]], [3]] recursive %}[{% if x is iterable %}{{ loop(x) }}{% else %}{{ x }}{% endif %}]{% endfor %}",
           "[[1][[2]]][[3]]");
}

static void test_assignment(void) {
    expect("{% set ns = namespace(a=1) %}{% for i in range(3) %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}", "4");
    expect("{% set x %}  block {{ n }} {% endset %}[{{ x }}]", "[  block 3 ]");
    expect("{% set x | upper %}ab{% endset %}{{ x }}", "AB");
    expect("{% set a, b = 1, 2 %}{{ a }}{{ b }}", "12");
    expect("{% with q = 5 %}{{ q }}{% endwith %}[{{ q }}]", "5[]");
    expect_err("{% set x = 1 %}{% set x.y = 2 %}", "non-namespace");
}

static void test_macros(void) {
    expect("{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, 3) }} {{ m(b=5, a=0) }}", "1-2 1-3 0-5");
    expect("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}inner {{ n }}{% endcall %}", "<inner 3>");
    expect("{% macro w() %}{{ caller(7) }}{% endmacro %}{% call(x) w() %}got {{ x }}{% endcall %}", "got 7");
    expect("{% macro r(k) %}{% if k > 0 %}{{ k }}{{ r(k - 1) }}{% endif %}{% endmacro %}{{ r(5) }}", "54321");
    expect("{% macro v() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ v(1, z=2) }}", "(1,){'z': 2}");
    expect("{% filter upper %}hello {{ s }}{% endfilter %}", "HELLO HELLO WORLD");
}

static void test_whitespace(void) {
    expect("  {% if true %}\n    text\n  {% endif %}\nend", "    text\nend");
    expect("{%- if true -%}   a   {%- endif -%}   b", "ab");
    expect("x  {{- ' y ' -}}  z", "x y z");
    expect("a\n{# comment #}\nb", "a\nb");
    expect("a {%+ if true %}x{% endif +%}\nb", "a x\nb");
    expect("{% raw %}{{ not parsed }}{% endraw %}", "{{ not parsed }}");
    expect("line\n", "line");
    expect("{{ 'a' }}  {% if true %}b{% endif %}", "a  b");
}

static void test_expressions(void) {
    expect("{{ 'abc'[1] }} {{ 'abcdef'[1:4] }} {{ 'abcdef'[::-1] }} {{ l[-1] }} {{ l[::2] }} [{{ l[5] }}] {{ s[-3:] }} {{ u[1:] }}",
           "b bcd fedcba 2 [3, 2] [] rld b\xc3\x87");
    expect("{{ 'x' if n > 2 else 'y' }}[{{ 'x' if n > 5 }}]", "x[]");
    expect("{{ n > 2 and 'yes' or 'no' }} {{ 0 or '' or 'z' }} {{ 1 < n < 5 }} {{ 'b' in 'abc' }} {{ 2 not in l }}", "yes z True True False");
    expect("{{ 10 ** 2 ** 2 }} {{ -2 ** 2 }} {{ not 1 == 2 }} {{ 3 - 2 - 1 }} {{ 2 * 3 + 4 }} {{ 'ab' * 3 }}", "10000 4 True 0 10 ababab");
    expect("{{ [1, 2] == [1, 2] }} {{ (1, 2) == [1, 2] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}",
           "True False True True True True");
    expect("{{ msgs[0]['content'] }}|{{ msgs[-1].role }}|{{ msgs | length }}", " Hi 'there' |assistant|2");
    expect("{{ '%s is %d' % ('x', 3) }} {{ '{} and {}'.format(1, 'b') }} {{ '%.2f' | format(3.14159) }}", "x is 3 1 and b 3.14");
    expect("{{ dict(a=1, b=2) }} {{ {'a': 1}.items() | list }}", "{'a': 1, 'b': 2} [('a', 1)]");
}

static void test_filters(void) {
    expect("{{ s | lower }} {{ s | upper }} {{ 'hello wORLD' | title }} {{ 'hELLO' | capitalize }} {{ s | length }} {{ u | upper }} {{ u | length }}",
           "hello world HELLO WORLD Hello World Hello 11 \xc3\x84" "B\xc3\x87 3");
    expect("{{ d | tojson }} {{ msgs[1] | tojson }} {{ '\xc3\xa9\\n\"' | tojson }} {{ f | tojson }}",
           "{\"b\": 2, \"a\": 1} {\"role\": \"assistant\", \"content\": \"Yo\\nman\"} \"\xc3\xa9\\n\\\"\" 2.5");
    expect("{{ d | tojson(indent=2) }}", "{\n  \"b\": 2,\n  \"a\": 1\n}");
    expect("{{ d | tojson(sort_keys=true) }} {{ [] | tojson }} {{ [1,[2,[]]] | tojson(indent=1) }}", "{\"a\": 1, \"b\": 2} [] [\n 1,\n [\n  2,\n  []\n ]\n]");
    expect("{{ l | sort }} {{ l | sort(reverse=true) }} {{ l | first }} {{ l | last }} {{ l | join('-') }} {{ l | sum }} {{ l | max }} {{ l | min }}",
           "[1, 2, 3] [3, 2, 1] 3 2 3-1-2 6 3 1");
    expect("{{ msgs | map(attribute='role') | list }} {{ msgs | selectattr('role', 'equalto', 'user') | list | length }} {{ l | select('odd') | list }} {{ l | reject('odd') | list }}",
           "['user', 'assistant'] 1 [3, 1] [2]");
    expect("{{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='content') | join }}", "Yo\nman");
    expect("{{ missing | default('dflt') }} {{ e | default('x', true) }}[{{ e | d('x') }}]", "dflt x[]");
    expect("{{ 3.7 | int }} {{ '42' | int }} {{ 'x' | int }} {{ '4.5' | float }} {{ -3 | abs }} {{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 2.7 | round(0, 'floor') }}",
           "3 42 0 4.5 3 2.0 3.14 2.0");
    expect("{{ d | dictsort }} {{ [1, 2, 2, 'A', 'a'] | unique | list }} {{ 'one two  three' | wordcount }}", "[('a', 1), ('b', 2)] [1, 2, 'A'] 3");
    expect("{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}", "a\n  b\n\n  c|  a\n  b");
    expect("{{ l | batch(2) | list }} {{ l | reverse | list }} {{ 'abc' | reverse }} {{ 'abc' | list }}", "[[3, 1], [2]] [2, 1, 3] cba ['a', 'b', 'c']");
    expect("{{ s | replace('l', 'L', 2) }} {{ ['a', 'B'] | map('upper') | list }} {{ none | string }} {{ none | upper }}", "HeLLo World ['A', 'B'] None NONE");
    expect("{{ '  x  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ d | items | list }}", "x|hi|[('b', 2), ('a', 1)]");
    expect_err("{{ l | nosuchfilter }}", "No filter named 'nosuchfilter'");
    expect_err("{% if false %}{{ l | nosuchfilter }}{% endif %}", "line 1, col 22: No filter named");
    expect_err("{{ 1 is nosuchtest }}", "No test named");
}

static void test_tests(void) {
    expect("{{ missing is defined }} {{ missing is undefined }} {{ n is number }} {{ s is string }} {{ d is mapping }} {{ l is sequence }} {{ n is iterable }}",
           "False True True True True True False");
    expect("{{ 'AbC' is lower }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 10 is divisibleby 5 }} {{ 10 is divisibleby(3) }}",
           "False True True True False");
    expect("{{ none is none }} {{ true is true }} {{ 1 is true }} {{ false is false }} {{ true is boolean }} {{ 1 is integer }} {{ 1.5 is float }}",
           "True True False True True True True");
    expect("{{ 2 is even }} {{ 3 is odd }} {{ 2 is in l }} {{ 5 is in l }} {{ n is eq 3 }} {{ n is ne 3 }} {{ n is not none }}",
           "True True True False True False True");
}

static void test_methods(void) {
    expect("{{ s.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ ' a  b '.split(None, 1) }}",
           "['Hello', 'World'] ['a', 'b', '', 'c'] ['a', 'b,c'] ['a', 'b ']");
    expect("[{{ '  x  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  lead'.lstrip() }}|{{ 'trail  '.rstrip() }}|{{ 'xyx'.rstrip('x') }}]",
           "[x|hi|lead|trail|xy]");
    expect("{{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }} {{ 'abc'.startswith('b', 1) }}", "True True True");
    expect("{{ s.replace('o', '0') }} {{ s.find('W') }} {{ s.find('z') }} {{ s.count('l') }} {{ '-'.join(['a', 'b']) }} {{ 'ab cd'.title() }} {{ s.lower().upper() }}",
           "Hell0 W0rld 6 -1 3 a-b Ab Cd HELLO WORLD");
    expect("{{ d.get('a') }} {{ d.get('z', 'dz') }} {{ d.get('z') }} {{ d.keys() | list }} {{ d.values() | list }} {{ l.index(1) }} {{ l.count(3) }}",
           "1 dz None ['b', 'a'] [2, 1] 1 1");
    expect("{{ u.lower() }} {{ 'a\\nb'.splitlines() }}", "\xc3\xa4" "b\xc3\xa7 ['a', 'b']");
    expect_err("{% set x = [1] %}{{ x.append(2) }}", "access to attribute 'append' of 'list' object is unsafe.");
    expect_err("{{ d.update({}) }}", "unsafe");
}

static void test_undefined(void) {
    expect("[{{ missing }}][{{ missing | length }}][{% for x in missing %}x{% endfor %}][{{ 'yes' if missing else 'no' }}]", "[][0][][no]");
    expect("{{ d.zz is defined }} {{ none.x is defined }} {{ msgs[7] is defined }}", "False False False");
    expect_err("{{ foo.bar }}", "'foo' is undefined");
    expect_err("{{ foo + 1 }}", "'foo' is undefined");
    expect_err("{{ foo() }}", "'foo' is undefined");
    expect_err("{{ d.zz.y }}", "'dict object' has no attribute 'zz'");
}

static void test_errors(void) {
    expect_err("{{ raise_exception('boom') }}", "boom");
    char *got = render("x{{ raise_exception('exact message') }}");
    CHECK(!got && !strcmp(rl_errmsg(), "exact message"), "raise_exception message verbatim: %s", rl_errmsg());
    free(got);
    expect_err("line1\n  {{ 1 + 'a' }}", "line 2, col 8: unsupported operand type(s) for +: 'int' and 'str'");
    expect_err("{{ 'a' + 1 }}", "can only concatenate str (not \"int\") to str");
    expect_err("a\nb {% for x in 5 %}{% endfor %}", "line 2, col 15: 'int' object is not iterable");
    expect_err("{{ n() }}", "'int' object is not callable");
    expect_err("{{ 1 / 0 }}", "division by zero");
    /* syntax errors name line and column */
    expect_err("ok\n{% if true %}x", "line 2, col 15: unexpected end of template");
    expect_err("{{ 1 + }}", "line 1, col 8: unexpected '}}'");
    expect_err("{% endif %}", "unexpected 'endif'");
    expect_err("{{ 'abc }}", "unterminated string");
    expect_err("a\n\n   {% frobnicate %}", "line 3, col 7: unknown statement 'frobnicate'");
    expect_err("{% include 'x' %}", "not supported");
}

static void test_sandbox(void) {
    expect_err("{% for i in range(10**9) %}{% endfor %}", "Range too big");
    expect_err("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "loop iterations");
    expect_err("{% macro r(k) %}{{ r(k + 1) }}{% endmacro %}{{ r(0) }}", "recursion depth");
    expect_err("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
               "limit exceeded");
    expect_err("{% for i in range(100000) %}{% for j in range(100) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}{% endfor %}{% endfor %}",
               "limit");
    expect_err("{{ 'x' * 1000000000 }}", "too large");
    /* deeply nested expressions are a parse error, not a stack overflow */
    char deep[4000];
    size_t k = 0;
    k += (size_t)snprintf(deep + k, sizeof deep - k, "{{ ");
    for (int i = 0; i < 1000; i++) deep[k++] = '(';
    deep[k++] = '1';
    for (int i = 0; i < 1000; i++) deep[k++] = ')';
    snprintf(deep + k, sizeof deep - k, " }}");
    expect_err(deep, "nesting too deep");
}

int main(void) {
    RUN(test_printing);
    RUN(test_control);
    RUN(test_assignment);
    RUN(test_macros);
    RUN(test_whitespace);
    RUN(test_expressions);
    RUN(test_filters);
    RUN(test_tests);
    RUN(test_methods);
    RUN(test_undefined);
    RUN(test_errors);
    RUN(test_sandbox);
    TEST_END();
}
