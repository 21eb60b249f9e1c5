"""Reference figures for `supportd bench llm`: llama.cpp (through llama-cpp-python) on the same
GGUF, thread count and workload. Prints one JSON object as its last line.

Workload (kept identical to src/llm/bench.rs): a fixed system prefix of PREFIX tokens is
processed and kept in the KV cache, then a new prompt of PROMPT tokens is processed and
GEN tokens are decoded greedily.
"""
import argparse
import json
import resource
import time

from llama_cpp import Llama

# Same text as src/llm/bench.rs::BENCH_TEXT.
TEXT = (
    "Здравствуйте! Я заказал куртку на Wildberries неделю назад, номер заказа 123456789, "
    "а статус до сих пор «в пути». Подскажите, пожалуйста, когда её доставят в пункт выдачи "
    "и можно ли будет вернуть её, если размер не подойдёт? Спасибо за помощь. "
)


def tokens(llm, n, salt):
    ids = []
    text = salt + " " + TEXT
    while len(ids) < n:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        text += TEXT
    return ids[:n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefix", type=int, default=400)
    ap.add_argument("--prompt", type=int, default=300)
    ap.add_argument("--gen", type=int, default=60)
    ap.add_argument("--build", default="unknown", help="which llama.cpp build this is (for the JSON)")
    ap.add_argument("--smoke", action="store_true", help="only check that a few tokens decode")
    a = ap.parse_args()

    if a.smoke:
        llm = Llama(model_path=a.model, n_threads=a.threads, n_ctx=128, verbose=False)
        llm.eval(llm.tokenize(b"Hello", add_bos=False))
        for _ in range(4):
            llm.eval([llm.sample(top_k=1, temp=0.0)])
        print("ok")
        return

    llm = Llama(model_path=a.model, n_threads=a.threads, n_threads_batch=a.threads,
                n_ctx=2048, n_batch=512, verbose=False, use_mmap=True)
    prefix = tokens(llm, a.prefix, "Система:")
    prompt = tokens(llm, a.prompt, "Покупатель:")

    # Warm-up so page faults of the mmapped weights are not billed to the first figure.
    llm.eval(prefix[:16])
    llm.reset()

    t0 = time.perf_counter()
    llm.eval(prefix)
    t1 = time.perf_counter()
    prompt_tps = a.prefix / (t1 - t0)

    t2 = time.perf_counter()
    llm.eval(prompt)
    tok = llm.sample(top_k=1, temp=0.0)
    t3 = time.perf_counter()
    ttft_ms = (t3 - t2) * 1000.0

    td = time.perf_counter()
    produced = 1
    while produced < a.gen:
        llm.eval([tok])
        tok = llm.sample(top_k=1, temp=0.0)
        produced += 1
    t4 = time.perf_counter()
    decode_tps = (a.gen - 1) / (t4 - td)
    e2e_ms = (t4 - t2) * 1000.0

    print(json.dumps({
        "engine": "llama.cpp (llama-cpp-python)",
        "build": a.build,
        "model": a.model,
        "threads": a.threads,
        "prompt_tokens_per_s": round(prompt_tps, 2),
        "decode_tokens_per_s": round(decode_tps, 2),
        "ttft_ms": round(ttft_ms, 1),
        "e2e_ms_60_tokens": round(e2e_ms, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }))


if __name__ == "__main__":
    main()
