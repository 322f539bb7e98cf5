#!/bin/sh
# Tokenizers stored in GGUF: the qwen3, llama3_1 and deepseek_v3 tokenizer.json vocabularies written as
# llama.cpp's converter writes them (tokenizer.ggml.model "gpt2", tokens, token types, merges,
# tokenizer.ggml.pre, bos / eos ids, add_bos_token, tokenizer.chat_template) into a GGUF with no
# tensors; every encode / decode / chat golden of ../shared/tokenizers must match through it.
BIN=${RL_BIN:-build/rabbitllm}
SH=${RL_SHARED:-../shared}
[ -d "$SH" ] || { echo "skipped: needs $SH"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/mk.py" <<'PY'
import json, struct, sys
src, out, pre, add_bos = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
t = json.load(open(src + "/tokenizer.json", encoding="utf-8"))
c = json.load(open(src + "/tokenizer_config.json", encoding="utf-8"))
vocab = dict(t["model"]["vocab"])
special = {}
for a in t["added_tokens"]:
    vocab[a["content"]] = a["id"]; special[a["id"]] = a["special"]
n = max(vocab.values()) + 1
toks = ["[PAD%d]" % i for i in range(n)]
for s, i in vocab.items(): toks[i] = s
types = [(3 if special[i] else 4) if i in special else 1 for i in range(n)]
merges = [m if isinstance(m, str) else " ".join(m) for m in t["model"]["merges"]]
def s(x): b = x.encode("utf-8"); return struct.pack("<Q", len(b)) + b
def kv(k, ty, payload): return s(k) + struct.pack("<I", ty) + payload
def arr_str(xs): return struct.pack("<IQ", 8, len(xs)) + b"".join(s(x) for x in xs)
def tok(x):
    v = c.get(x)
    if isinstance(v, dict): v = v.get("content")
    return vocab.get(v) if v else None
kvs = [kv("general.architecture", 8, s("none")), kv("tokenizer.ggml.model", 8, s("gpt2")),
       kv("tokenizer.ggml.pre", 8, s(pre)), kv("tokenizer.ggml.tokens", 9, arr_str(toks)),
       kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, n) + struct.pack("<%di" % n, *types)),
       kv("tokenizer.ggml.merges", 9, arr_str(merges)), kv("tokenizer.ggml.add_bos_token", 7, struct.pack("<B", add_bos))]
for k, js in (("bos", "bos_token"), ("eos", "eos_token")):
    if tok(js) is not None: kvs.append(kv("tokenizer.ggml.%s_token_id" % k, 4, struct.pack("<I", tok(js))))
if isinstance(c.get("chat_template"), str): kvs.append(kv("tokenizer.chat_template", 8, s(c["chat_template"])))
h = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs)
open(out, "wb").write(h + b"\0" * ((len(h) + 31) // 32 * 32 - len(h)))
PY
mkdir "$tmp/g" "$tmp/g/qwen3" "$tmp/g/llama3_1" "$tmp/g/deepseek_v3"
python3 "$tmp/mk.py" "$SH/tokenizers/qwen3" "$tmp/g/qwen3/tok.gguf" qwen2 0 || fail "qwen3 gguf"
python3 "$tmp/mk.py" "$SH/tokenizers/llama3_1" "$tmp/g/llama3_1/tok.gguf" llama-bpe 1 || fail "llama3_1 gguf"
python3 "$tmp/mk.py" "$SH/tokenizers/deepseek_v3" "$tmp/g/deepseek_v3/tok.gguf" deepseek-v3 1 || fail "deepseek_v3 gguf"
mkdir "$tmp/gold"
for n in qwen3 llama3_1 deepseek_v3; do ln -s "$(cd "$SH/tokenizers/$n" && pwd)" "$tmp/gold/$n"; done
python3 "$SH/hooks/check_text.py" "$BIN" encode "$tmp/gold" "$tmp/g" || fail "encode goldens through GGUF"
python3 "$SH/hooks/check_text.py" "$BIN" decode "$tmp/gold" "$tmp/g" || fail "decode goldens through GGUF"
python3 "$SH/hooks/check_text.py" "$BIN" chat "$tmp/gold" "$tmp/g" || fail "chat goldens through GGUF"
# every other tokenizer.ggml.pre name loads (its regexes compile) and tokenizes; the starcoder
# family splits digits one by one, the llama3 family in threes (the llama3_1 vocabulary under each name)
printf '%s\n' '{"text":"Hello world 12345 x","add_special_tokens":false}' >"$tmp/in.jsonl"
for pre in gpt-2 default mpt olmo jais llama-bpe llama3 glm4 chatglm-bpe dbrx smaug-bpe qwen2 qwen35 gpt-4o starcoder command-r \
           refact smollm codeshell exaone minerva tekken deepseek-v3; do
    mkdir -p "$tmp/p/$pre"
    python3 "$tmp/mk.py" "$SH/tokenizers/llama3_1" "$tmp/p/$pre/tok.gguf" "$pre" 0 || fail "$pre gguf"
    "$BIN" tokenize "$tmp/p/$pre/tok.gguf" --jsonl <"$tmp/in.jsonl" >"$tmp/p/$pre/out" 2>"$tmp/err" || fail "$pre: $(cat "$tmp/err")"
    n=$(python3 -c 'import json,sys; print(len(json.loads(open(sys.argv[1]).read())["ids"]))' "$tmp/p/$pre/out") || fail "$pre: output"
    case $pre in
    starcoder|command-r|refact|smollm|codeshell|exaone|minerva) want=9 ;;  # Hello, " world", " ", 1 2 3 4 5, " x"
    gpt-2|default|mpt|olmo|jais|gpt-4o|deepseek-v3|tekken|qwen2|qwen35) want=$n ;;  # loads and runs (pieces depend on the vocabulary)
    *) want=6 ;;  # Hello, " world", " ", 123, 45, " x"
    esac
    [ "$n" = "$want" ] || fail "$pre: $n tokens for 'Hello world 12345 x', $want expected"
done
echo ok
