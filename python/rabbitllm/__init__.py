"""rabbitllm for Python: ctypes over librabbitllm.so (the public C API of include/rabbitllm.h).

    import rabbitllm
    m = rabbitllm.Model("models/stories260K")          # a model directory or a cached hub id
    print(m.generate("Once upon a time", max_tokens=64))
    for piece in m.stream("Once upon a time"):
        print(piece, end="", flush=True)
    m.chat([{"role": "user", "content": "Hi"}])        # models with a chat template

The library is found through $RABBITLLM_LIB, then beside this package, then the system's
library path. Errors raise rabbitllm.Error with the library's message.
"""
import ctypes
import ctypes.util
import json
import os
import queue
import threading

__all__ = ["Model", "Error", "version", "FINISH_LENGTH", "FINISH_STOP", "FINISH_CANCELLED"]

FINISH_LENGTH, FINISH_STOP, FINISH_CANCELLED = 0, 1, 2


def _struct_layout():
    """{name: (sizeof, {field: offset})} of the mirrored structs (checked against C by the tests)."""
    out = {}
    for name, cls in (("rl_model_opts", _ModelOpts), ("rl_session_opts", _SessionOpts), ("rl_sampling", _Sampling),
                      ("rl_gen_params", _GenParams), ("rl_gen_info", _GenInfo)):
        out[name] = (ctypes.sizeof(cls), {f[0]: getattr(cls, f[0]).offset for f in cls._fields_})
    return out


class Error(Exception):
    """An error reported by librabbitllm (its message names the file and the problem)."""


def _load():
    tried = []
    env = os.environ.get("RABBITLLM_LIB")
    cands = [env] if env else []
    here = os.path.dirname(os.path.abspath(__file__))
    cands += [os.path.join(here, "librabbitllm.so"), os.path.join(here, "librabbitllm.so.0")]
    cands += ["librabbitllm.so.0", ctypes.util.find_library("rabbitllm")]
    for c in cands:
        if not c:
            continue
        if os.sep in c and not os.path.exists(c):
            tried.append(c)
            continue
        try:
            return ctypes.CDLL(c)
        except OSError as e:
            tried.append("%s (%s)" % (c, e))
    raise ImportError("librabbitllm.so not found; set RABBITLLM_LIB (tried: %s)" % ", ".join(tried))


_lib = _load()
_MEM_BUDGET_AUTO = ctypes.c_size_t(-1).value
_i32p = ctypes.POINTER(ctypes.c_int32)
_ON_TEXT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)


# Mirrors of the public structs of include/rabbitllm.h (tests/python/python_module.sh compares
# their sizes and field offsets with the C compiler's).
class _ModelOpts(ctypes.Structure):
    _fields_ = [("n_threads", ctypes.c_int), ("ctx", ctypes.c_int), ("max_batch", ctypes.c_int),
                ("n_seq", ctypes.c_int), ("mem_budget", ctypes.c_size_t), ("kv_type", ctypes.c_char_p),
                ("backend", ctypes.c_char_p), ("gpu_mem", ctypes.c_size_t),
                ("expert_cache", ctypes.c_size_t), ("moe_cpu_rows", ctypes.c_int)]


class _SessionOpts(ctypes.Structure):
    _fields_ = [("model", _ModelOpts), ("raw", ctypes.c_int), ("draft_model", ctypes.c_char_p),
                ("draft_tokens", ctypes.c_int), ("draft_backend", ctypes.c_char_p),
                ("draft_fixed", ctypes.c_int)]  # must mirror rl_session_opts in include/rabbitllm.h


class _Sampling(ctypes.Structure):
    _fields_ = [("temperature", ctypes.c_float), ("top_k", ctypes.c_int), ("top_p", ctypes.c_float),
                ("min_p", ctypes.c_float), ("repetition_penalty", ctypes.c_float), ("seed", ctypes.c_uint64)]


class _GenParams(ctypes.Structure):
    _fields_ = [("max_tokens", ctypes.c_int), ("sampling", _Sampling), ("ignore_eos", ctypes.c_int),
                ("draft", ctypes.c_int), ("stop", ctypes.POINTER(ctypes.c_char_p)), ("n_stop", ctypes.c_int),
                ("on_text", _ON_TEXT), ("user", ctypes.c_void_p), ("cancel", ctypes.POINTER(ctypes.c_int)),
                ("on_reasoning", _ON_TEXT)]


class _GenInfo(ctypes.Structure):
    _fields_ = [("finish", ctypes.c_int), ("ctx_full", ctypes.c_int), ("n_prompt", ctypes.c_int),
                ("n_reused", ctypes.c_int), ("n_gen", ctypes.c_int), ("prefill_s", ctypes.c_double),
                ("decode_s", ctypes.c_double), ("drafted", ctypes.c_int), ("accepted", ctypes.c_int),
                ("sweeps", ctypes.c_int), ("draft_s", ctypes.c_double), ("target_read_s", ctypes.c_double),
                ("target_compute_s", ctypes.c_double)]


def _sig(name, res, *args):
    f = getattr(_lib, name)
    f.restype, f.argtypes = res, list(args)
    return f


_vp, _cp, _int, _sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
_version = _sig("rl_version", _cp)
_last_error = _sig("rl_last_error", _cp)
_release = _sig("rl_release", None, _vp)
_session_open = _sig("rl_session_open", _vp, _cp, ctypes.POINTER(_SessionOpts))
_session_close = _sig("rl_session_close", None, _vp)
_session_model = _sig("rl_session_model", _vp, _vp)
_session_tokenizer = _sig("rl_session_tokenizer", _vp, _vp)
_session_template = _sig("rl_session_template", _vp, _vp)
_session_generate = _sig("rl_session_generate", _int, _vp, _cp, ctypes.POINTER(_GenParams),
                         ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_GenInfo))
_session_chat_json = _sig("rl_session_chat_json", _int, _vp, _cp, _cp, ctypes.POINTER(_GenParams),
                          ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_GenInfo))
_session_cancel = _sig("rl_session_cancel", None, _vp)
_session_reset = _sig("rl_session_reset", _int, _vp)
_gen_params_default = _sig("rl_gen_params_default", _GenParams)
_tokenize = _sig("rl_tokenize", _int, _vp, _cp, _sz, _int, ctypes.POINTER(_i32p), ctypes.POINTER(_int))
_detokenize = _sig("rl_detokenize", _int, _vp, _i32p, _int, _int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_sz))
_chat_template_apply = _sig("rl_chat_template_apply", _int, _vp, _cp, _int, _cp, ctypes.POINTER(ctypes.c_void_p))
_model_vocab = _sig("rl_model_vocab", _int, _vp)
_model_ctx = _sig("rl_model_ctx", _int, _vp)
_model_eval = _sig("rl_model_eval", _int, _vp, _i32p, _int, ctypes.POINTER(ctypes.c_float), _int)


def version():
    """The library's version string, e.g. "0.1.0"."""
    return _version().decode()


def _error(what):
    msg = (_last_error() or b"").decode("utf-8", "replace")
    return Error(msg or what)


def _take_text(ptr, length=None):
    """Copies a library-owned char* into str and frees it."""
    if not ptr.value:
        return ""
    data = ctypes.string_at(ptr.value, length) if length is not None else ctypes.string_at(ptr.value)
    _release(ptr)
    return data.decode("utf-8", "replace")


class Model:
    """A model with its tokenizer and chat template (an rl_session). Not for use from several
    threads at once, except that a stream() may be abandoned or cancel() called from anywhere."""

    def __init__(self, path, threads=0, ctx=0, max_batch=0, mem_budget="auto", backend=None, raw=False, kv_type=None,
                 gpu_mem=0, draft_model=None, draft_tokens=0, draft_backend=None, expert_cache="auto", moe_cpu_rows=0,
                 draft_fixed=False):
        """path: a model directory or a cached hub id org/name[@revision]. threads 0: all CPUs;
        ctx 0: min(max_position_embeddings, 4096); mem_budget: bytes of weights kept resident,
        "auto" (what the process may use) or 0 (stream everything); backend: "cpu", "cuda", ...
        (None: $RL_BACKEND, else cpu); raw: ignore the chat template; kv_type: KV cache storage
        "f32", "f16", "bf16", "q8_0" (None: auto); gpu_mem: device-memory budget in bytes of a GPU
        backend (layers kept on the device up to it; 0: stream every layer; "auto": free device
        memory less a margin). expert_cache (MoE): bytes of routed experts kept in the backend's
        memory, "auto" (what gpu_mem / mem_budget leave) or "off"; moe_cpu_rows (MoE on a GPU):
        uncached experts with at most this many rows run on the CPU (0: 8, -1: never). draft_model: speculative
        decoding with this resident draft model of the same vocabulary (token trees of up to
        draft_tokens nodes, 0 = 64, sized by a cost model unless draft_fixed; on draft_backend,
        None = the model's backend); output ids are those of plain decoding."""
        budget = _MEM_BUDGET_AUTO if mem_budget == "auto" else int(mem_budget)
        self._kv_type = kv_type.encode() if kv_type else None  # kept alive while the struct points at them
        self._backend = backend.encode() if backend else None
        self._draft = os.fsencode(draft_model) if draft_model else None
        self._draft_backend = draft_backend.encode() if draft_backend else None
        xc = 0 if expert_cache == "auto" else 1 if expert_cache == "off" else max(1, int(expert_cache))
        opts = _SessionOpts(_ModelOpts(int(threads), int(ctx), int(max_batch), 1, budget, self._kv_type, self._backend,
                                      _MEM_BUDGET_AUTO if gpu_mem == "auto" else int(gpu_mem), xc, int(moe_cpu_rows)),
                            1 if raw else 0, self._draft, int(draft_tokens), self._draft_backend, 1 if draft_fixed else 0)
        self._s = _session_open(os.fsencode(path), ctypes.byref(opts))
        if not self._s:
            raise _error("cannot open %s" % path)
        self.path = path
        self._dirty = False
        self.last_info = None
        self._lock = threading.Lock()

    def close(self):
        if getattr(self, "_s", None):
            _session_close(self._s)
            self._s = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _live(self):
        if not self._s:
            raise Error("the model is closed")
        return self._s

    @property
    def vocab_size(self):
        return _model_vocab(_session_model(self._live()))

    @property
    def context_length(self):
        return _model_ctx(_session_model(self._live()))

    @property
    def has_chat_template(self):
        return bool(_session_template(self._live()))

    # ---- tokenizer ----
    def tokenize(self, text, add_special_tokens=True):
        data = text.encode("utf-8")
        ids, n = _i32p(), _int()
        if _tokenize(_session_tokenizer(self._live()), data, len(data), 1 if add_special_tokens else 0,
                     ctypes.byref(ids), ctypes.byref(n)):
            raise _error("tokenize")
        out = ids[:n.value]
        _release(ids)
        return out

    def detokenize(self, ids, skip_special_tokens=True):
        ids = list(ids)
        arr = (ctypes.c_int32 * max(len(ids), 1))(*ids)
        text, length = ctypes.c_void_p(), _sz()
        if _detokenize(_session_tokenizer(self._live()), arr, len(ids), 1 if skip_special_tokens else 0,
                       ctypes.byref(text), ctypes.byref(length)):
            raise _error("detokenize")
        return _take_text(text, length.value)

    def apply_chat_template(self, messages, add_generation_prompt=True, **extra):
        t = _session_template(self._live())
        if not t:
            raise Error("%s has no chat template" % self.path)
        out = ctypes.c_void_p()
        if _chat_template_apply(t, json.dumps(messages).encode(), 1 if add_generation_prompt else 0,
                                json.dumps(extra).encode() if extra else None, ctypes.byref(out)):
            raise _error("chat template")
        return _take_text(out)

    # ---- generation ----
    def _params(self, max_tokens, temperature, top_k, top_p, min_p, repetition_penalty, seed, stop, ignore_eos, draft):
        p = _gen_params_default()
        p.max_tokens = int(max_tokens or 0)
        p.sampling = _Sampling(float(temperature), int(top_k), float(top_p), float(min_p), float(repetition_penalty), int(seed))
        p.ignore_eos = 1 if ignore_eos else 0
        p.draft = int(draft)
        if isinstance(stop, str):
            stop = [stop]
        keep = [s.encode("utf-8") for s in (stop or [])]
        arr = (ctypes.c_char_p * max(len(keep), 1))(*keep)
        p.stop, p.n_stop = (arr if keep else None), len(keep)
        return p, arr

    def _run(self, prompt, messages, extra, params, on_piece):
        s = self._live()
        p, keep = params
        cb = None
        if on_piece is not None:
            def cb_py(_user, piece, length):
                try:
                    return 1 if on_piece(ctypes.string_at(piece, length).decode("utf-8", "replace")) else 0
                except BaseException:  # never let an exception cross the C frames
                    return 1
            cb = _ON_TEXT(cb_py)
            p.on_text = cb
        thoughts = []  # the reasoning a model writes apart from its answer (<think>, gpt-oss's analysis)

        def rcb_py(_user, piece, length):
            thoughts.append(ctypes.string_at(piece, length))
            return 0
        rcb = _ON_TEXT(rcb_py)
        p.on_reasoning = rcb
        text, info = ctypes.c_void_p(), _GenInfo()
        with self._lock:
            if self._dirty:
                _session_reset(s)
                self._dirty = False
            if messages is not None:
                rc = _session_chat_json(s, json.dumps(messages).encode(), json.dumps(extra).encode() if extra else None,
                                        ctypes.byref(p), ctypes.byref(text), ctypes.byref(info))
            else:
                rc = _session_generate(s, prompt.encode("utf-8"), ctypes.byref(p), ctypes.byref(text), ctypes.byref(info))
        del keep, cb, rcb
        if rc:
            raise _error("generation")
        self.last_info = {"finish": ("length", "stop", "cancelled")[info.finish], "ctx_full": bool(info.ctx_full),
                          "prompt_tokens": info.n_prompt, "reused_tokens": info.n_reused,
                          "generated_tokens": info.n_gen, "prefill_s": info.prefill_s, "decode_s": info.decode_s,
                          "sweeps": info.sweeps, "drafted": info.drafted, "accepted": info.accepted,
                          "draft_s": info.draft_s, "target_read_s": info.target_read_s,
                          "target_compute_s": info.target_compute_s,
                          "reasoning": b"".join(thoughts).decode("utf-8", "replace")}
        return _take_text(text)

    def generate(self, prompt, max_tokens=0, temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.0,
                 seed=0, stop=None, ignore_eos=False, draft=0):
        """Raw text in (special tokens added, no chat template), the answer out. max_tokens 0:
        up to the context. Counts and timing of the call are in self.last_info."""
        params = self._params(max_tokens, temperature, top_k, top_p, min_p, repetition_penalty, seed, stop, ignore_eos, draft)
        return self._run(prompt, None, None, params, None)

    def chat(self, messages, max_tokens=0, temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.0,
             seed=0, stop=None, ignore_eos=False, draft=0, tools=None, stream=False, **template_vars):
        """messages (dicts with role and content) through the chat template; tools and any other
        keyword become template variables. stream=True returns an iterator of pieces."""
        extra = dict(template_vars)
        if tools is not None:
            extra["tools"] = tools
        params = self._params(max_tokens, temperature, top_k, top_p, min_p, repetition_penalty, seed, stop, ignore_eos, draft)
        if stream:
            return self._stream(None, list(messages), extra, params)
        return self._run(None, list(messages), extra, params, None)

    def stream(self, prompt, max_tokens=0, temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.0,
               seed=0, stop=None, ignore_eos=False, draft=0):
        """As generate, yielding the text piece by piece (whole UTF-8 characters) as it comes.
        Leaving the loop early stops the generation."""
        params = self._params(max_tokens, temperature, top_k, top_p, min_p, repetition_penalty, seed, stop, ignore_eos, draft)
        return self._stream(prompt, None, None, params)

    def _stream(self, prompt, messages, extra, params):
        q = queue.Queue()
        done = object()
        result = {}

        def work():
            try:
                result["text"] = self._run(prompt, messages, extra, params, lambda piece: q.put(piece) and 0)
            except BaseException as e:
                result["error"] = e
            q.put(done)

        t = threading.Thread(target=work, daemon=True)
        t.start()
        finished = False
        try:
            while True:
                item = q.get()
                if item is done:
                    finished = True
                    break
                yield item
        finally:
            if not finished:
                self.cancel()
            t.join()
        if "error" in result:
            raise result["error"]

    def cancel(self):
        """Stops the generation in progress (from any thread)."""
        if self._s:
            _session_cancel(self._s)

    def reset(self):
        """Empties the KV cache."""
        if _session_reset(self._live()):
            raise _error("reset")

    def eval(self, ids, all_rows=False, reset=True):
        """Runs token ids through the model (after emptying the KV cache unless reset=False) and
        returns the logits of the last token (a list of vocab floats, or a numpy array when
        numpy is installed), or with all_rows one row per token."""
        s = self._live()
        ids = list(ids)
        if not ids:
            raise Error("eval: no token ids")
        m = _session_model(s)
        vocab = _model_vocab(m)
        rows = len(ids) if all_rows else 1
        arr = (ctypes.c_int32 * len(ids))(*ids)
        out = (ctypes.c_float * (rows * vocab))()
        with self._lock:
            if reset:
                _session_reset(s)
            self._dirty = True
            if _model_eval(m, arr, len(ids), out, 1 if all_rows else 0):
                raise _error("eval")
        try:
            import numpy
            a = numpy.frombuffer(out, dtype=numpy.float32).copy()
            return a.reshape(rows, vocab) if all_rows else a
        except ImportError:
            flat = list(out)
            return [flat[i * vocab:(i + 1) * vocab] for i in range(rows)] if all_rows else flat
