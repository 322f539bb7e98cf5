"""Generates text through the rabbitllm Python module, streaming it to stdout.
    RABBITLLM_LIB=build/librabbitllm.so PYTHONPATH=python python3 examples/generate.py models/stories260K "Once upon a time"
"""
import sys

import rabbitllm

model_dir = sys.argv[1] if len(sys.argv) > 1 else "models/stories260K"
prompt = sys.argv[2] if len(sys.argv) > 2 else "Once upon a time"
m = rabbitllm.Model(model_dir)
if m.has_chat_template:
    pieces = m.chat([{"role": "user", "content": prompt}], max_tokens=64, stream=True)
else:
    pieces = m.stream(prompt, max_tokens=64)
for piece in pieces:
    print(piece, end="", flush=True)
print("\n[%(prompt_tokens)d prompt tokens, %(generated_tokens)d generated]" % m.last_info, file=sys.stderr)
