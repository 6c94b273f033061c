"""LLM backends behind one tiny interface: local llama.cpp (default, offline) or any OpenAI-compatible server.

    llm = get_llm(settings)
    text = llm.complete(messages, max_tokens=256, temperature=0.2, seed=0, stop=None, json_mode=False)
    for piece in llm.stream(messages, ...): ...

`llm.last_usage` holds the counts and timings of the latest call (benchmarks read it).
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models import registry
from shopmind.models.registry import register

_ROLES = {"system", "user", "assistant"}


def _validate_messages(messages: Any) -> list[dict[str, str]]:
    """Reject malformed chat messages before they reach a backend (clear error, not a 500)."""
    if not isinstance(messages, list) or not messages:
        raise BadInput("messages must be a non-empty list of {role, content}")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
            raise BadInput(f"message {i} must be {{role: system|user|assistant, content: str}}", detail={"index": i})
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _usage(prompt_tokens: int | None, completion_tokens: int | None, seconds: float, ttft: float | None) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "seconds": round(seconds, 4),
        "time_to_first_token_s": None if ttft is None else round(ttft, 4),
        "tokens_per_s": round(completion_tokens / seconds, 3) if completion_tokens and seconds > 0 else None,
    }


@register("llm", "llama-cpp")
class LlamaCppLLM:
    """The bundled GGUF (or any local GGUF path) on llama-cpp-python; loads once, calls serialised."""

    supports_min_chars = True  # complete/stream take `min_chars` (see MinValueChars)

    def __init__(self, settings: Any = None, model_path: str | Path | None = None, n_ctx: int = 2048,
                 n_threads: int | None = None, **_: Any) -> None:
        # llama.cpp's OpenMP workers spin while waiting; on a shared CPU that spinning starves them
        # (measured here under load: 38 s → 10 s for the same 40-token reply with PASSIVE).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import llama_cpp  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(
                "the local LLM needs llama-cpp-python: "
                "`CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install 'llama-cpp-python>=0.3,<0.4'` (builds from source, ~15 min on 2 cores), "
                "or set SHOPMIND_LLM=openai with SHOPMIND_LLM_BASE_URL"
            ) from exc
        self._path = self._resolve_path(settings, model_path)
        self.name = f"llama-cpp:{self._path.stem}"
        self._n_ctx = n_ctx
        self._threads = n_threads or int(getattr(settings, "llm_threads", 0) or 0) or min(2, os.cpu_count() or 1)
        self._seed = int(getattr(settings, "seed", 0) or 0)
        self._lock = threading.Lock()
        self._llama: Any = None
        self._loras: dict[str, Any] = {}  # adapter file → llama.cpp adapter handle, loaded once
        self._active_lora: tuple[str, float] | None = None
        self._quotes: Any = None  # ids of the vocabulary pieces holding a `"` (see _quote_tokens)
        self.last_usage: dict = {}

    def with_lora(self, name: str, path: str | Path, scale: float = 1.0, prompt_style: str | None = None,
                  repeat_penalty: float = 1.0, voice_length: int | None = None) -> "LoraView":
        """This model serving one GGUF LoRA adapter. Adapters load once and stay registered on the
        shared base; a call sets its adapter on the context (no model reload), see `_use_lora`."""
        path = Path(path)
        if not path.is_file():
            raise BackendUnavailable(f"LoRA adapter file not found: {path}")
        return LoraView(self, name, path, scale, prompt_style=prompt_style, repeat_penalty=repeat_penalty,
                        voice_length=voice_length)

    def _use_lora(self, llama: Any, lora: tuple[str, float] | None) -> None:
        """Make `lora` (adapter file, scale) or none the active adapter; called under the lock.
        A switch also drops llama-cpp-python's prompt cache: its KV entries belong to the old weights."""
        if lora == self._active_lora:
            return
        import ctypes

        import llama_cpp

        if lora is None:
            llama_cpp.llama_set_adapters_lora(llama._ctx.ctx, None, 0, None)
        else:
            path, scale = lora
            handle = self._loras.get(path)
            if handle is None:
                handle = llama_cpp.llama_adapter_lora_init(llama._model.model, path.encode("utf-8"))
                if not handle:
                    raise BackendUnavailable(f"llama.cpp cannot load LoRA adapter {path} for {self._path.name}")
                self._loras[path] = handle
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
            scales = (ctypes.c_float * 1)(scale)
            if llama_cpp.llama_set_adapters_lora(llama._ctx.ctx, adapters, 1, scales):
                raise BackendUnavailable(f"llama.cpp refused LoRA adapter {path}")
        llama.reset()
        self._active_lora = lora

    @staticmethod
    def _resolve_path(settings: Any, model_path: str | Path | None) -> Path:
        from shopmind.models.gguf_parts import BUNDLED, DEFAULT_MODEL, ensure_model

        wanted = str(model_path or getattr(settings, "llm_model", None) or DEFAULT_MODEL)
        if wanted in BUNDLED:
            if settings is None:
                raise BadInput("a bundled model name needs settings (for models_dir)")
            return ensure_model(settings.models_dir, wanted)
        path = Path(wanted).expanduser()
        if not path.is_file():
            raise BackendUnavailable(f"GGUF model not found: {path} (or use one of: {', '.join(sorted(BUNDLED))})")
        return path

    def _model(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            try:
                self._llama = Llama(model_path=str(self._path), n_ctx=self._n_ctx, n_threads=self._threads,
                                    seed=self._seed, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise BackendUnavailable(f"cannot load {self._path}: {exc}") from exc
        return self._llama

    def _kwargs(self, llama: Any, max_tokens: int, temperature: float, seed: int, stop: list[str] | None,
                json_mode: bool, repeat_penalty: float = 1.0, min_chars: int | None = None) -> dict:
        kw: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed, "stop": stop,
                              "repeat_penalty": repeat_penalty}
        if json_mode:
            kw["response_format"] = {"type": "json_object"}
        if min_chars:
            from llama_cpp import LogitsProcessorList

            kw["logits_processor"] = LogitsProcessorList([MinValueChars(llama, self._quote_tokens(llama), min_chars)])
        return kw

    def _quote_tokens(self, llama: Any) -> Any:
        """Ids of every vocabulary piece containing a double quote (the ones that can close a JSON
        string), computed once per model."""
        if self._quotes is None:
            import numpy as np

            self._quotes = np.array([i for i in range(llama.n_vocab()) if b'"' in llama.detokenize([i], special=True)],
                                    dtype=np.int64)
        return self._quotes

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 256, temperature: float = 0.2,
                 seed: int = 0, stop: list[str] | None = None, json_mode: bool = False,
                 lora: tuple[str, float] | None = None, repeat_penalty: float = 1.0,
                 min_chars: int | None = None) -> str:
        msgs = _validate_messages(messages)
        with self._lock:
            llama = self._model()
            self._use_lora(llama, lora)
            kwargs = self._kwargs(llama, max_tokens, temperature, seed, stop, json_mode, repeat_penalty, min_chars)
            t0 = time.perf_counter()
            out = llama.create_chat_completion(messages=msgs, **kwargs)
            dt = time.perf_counter() - t0
        usage = out.get("usage") or {}
        self.last_usage = _usage(usage.get("prompt_tokens"), usage.get("completion_tokens"), dt, None)
        return out["choices"][0]["message"].get("content") or ""

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int = 256, temperature: float = 0.2,
               seed: int = 0, stop: list[str] | None = None, json_mode: bool = False,
               lora: tuple[str, float] | None = None, repeat_penalty: float = 1.0,
               min_chars: int | None = None) -> Iterator[str]:
        msgs = _validate_messages(messages)
        with self._lock:
            llama = self._model()
            self._use_lora(llama, lora)
            kwargs = self._kwargs(llama, max_tokens, temperature, seed, stop, json_mode, repeat_penalty, min_chars)
            t0 = time.perf_counter()
            ttft, pieces = None, 0
            chunks = llama.create_chat_completion(messages=msgs, stream=True, **kwargs)
            for chunk in chunks:
                text = chunk["choices"][0].get("delta", {}).get("content")
                if text:
                    if ttft is None:
                        ttft = time.perf_counter() - t0
                    pieces += 1  # llama.cpp streams one token per chunk
                    yield text
            self.last_usage = _usage(None, pieces, time.perf_counter() - t0, ttft)


class MinValueChars:
    """llama.cpp logits processor: the answer's first JSON string value may not close before
    `n` characters (quote tokens are masked until then), like `min_new_tokens` in transformers but
    counted in characters of the value. Greedy-ish decoding ends copy early because the one closing
    token often outscores each of the many ways to go on; a request for about N characters sets a
    floor instead of hoping the model counts."""

    _OPEN = re.compile(r'"\s*:\s*"')

    def __init__(self, llama: Any, quote_tokens: Any, n: int) -> None:
        self.llama, self.quotes, self.n = llama, quote_tokens, int(n)
        self.prompt_len: int | None = None
        self.satisfied = False

    def value_so_far(self, generated: list[int]) -> str | None:
        text = self.llama.detokenize(generated).decode("utf-8", "ignore")
        m = self._OPEN.search(text)
        return text[m.end():] if m else None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.satisfied:
            return scores
        if self.prompt_len is None:  # first call: nothing generated yet
            self.prompt_len = len(input_ids)
        value = self.value_so_far([int(t) for t in input_ids[self.prompt_len:]])
        if value is None:  # still writing `{"key": "`: leave the structure alone
            return scores
        if len(value) >= self.n:
            self.satisfied = True
            return scores
        scores[self.quotes] = -float("inf")
        return scores


class LoraView:
    """A LlamaCppLLM seen through one LoRA adapter (a brand voice): same interface, shared base
    weights, so any number of voices cost one model load plus a few MB each."""

    supports_min_chars = True

    def __init__(self, base: LlamaCppLLM, name: str, path: Path, scale: float = 1.0,
                 prompt_style: str | None = None, repeat_penalty: float = 1.0, voice_length: int | None = None) -> None:
        self.base, self.adapter, self._lora = base, name, (str(path), float(scale))
        self.name = f"{base.name}+lora:{name}"
        self.prompt_style = prompt_style  # the prompt the adapter was trained on; the writer serves the same
        self.repeat_penalty = float(repeat_penalty)  # per-voice decoding default; a caller's value wins
        self.voice_length = voice_length  # a length-hinted voice's typical length (tune.voice.voice_length)

    @property
    def last_usage(self) -> dict:
        return self.base.last_usage

    def complete(self, messages: list[dict[str, str]], **opts: Any) -> str:
        return self.base.complete(messages, lora=self._lora, **({"repeat_penalty": self.repeat_penalty} | opts))

    def stream(self, messages: list[dict[str, str]], **opts: Any) -> Iterator[str]:
        return self.base.stream(messages, lora=self._lora, **({"repeat_penalty": self.repeat_penalty} | opts))


@register("llm", "openai")
class OpenAICompatLLM:
    """Any OpenAI-compatible /chat/completions endpoint (vLLM, Ollama, llama.cpp server, cloud APIs)."""

    RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})

    def __init__(self, settings: Any = None, base_url: str | None = None, api_key: str | None = None,
                 model: str | None = None, timeout: float = 120.0, max_retries: int = 3, backoff_s: float = 0.5,
                 **_: Any) -> None:
        base = base_url or getattr(settings, "llm_base_url", None)
        if not base:
            raise BackendUnavailable("the openai LLM backend needs a base URL (SHOPMIND_LLM_BASE_URL, e.g. http://localhost:8000/v1)")
        self._base = str(base).rstrip("/")
        self._key = api_key or getattr(settings, "llm_api_key", None) or os.environ.get("OPENAI_API_KEY")
        self._model = model or getattr(settings, "llm_model", None) or "default"
        self.name = f"openai:{self._model}"
        self._timeout = httpx.Timeout(timeout, connect=min(10.0, timeout))
        self._retries = max_retries
        self._backoff = backoff_s
        self._client = httpx.Client(timeout=self._timeout)
        self.last_usage: dict = {}

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _body(self, messages: list[dict[str, str]], max_tokens: int, temperature: float, seed: int,
              stop: list[str] | None, json_mode: bool, stream: bool) -> dict:
        body: dict[str, Any] = {"model": self._model, "messages": _validate_messages(messages),
                                "max_tokens": max_tokens, "temperature": temperature, "seed": seed, "stream": stream}
        if stop:
            body["stop"] = stop
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def _sleep(self, attempt: int, response: httpx.Response | None) -> None:
        wait = self._backoff * (2 ** attempt) * (1 + 0.1 * random.random())
        if response is not None:
            try:
                wait = max(wait, min(float(response.headers.get("retry-after", 0)), 30.0))
            except ValueError:
                pass
        time.sleep(wait)

    def _fail(self, response: httpx.Response) -> BackendUnavailable:
        try:
            detail = response.json()
            message = (detail.get("error") or {}).get("message") if isinstance(detail.get("error"), dict) else detail.get("error")
        except (ValueError, AttributeError):
            detail, message = {"body": response.text[:500]}, None
        return BackendUnavailable(f"LLM endpoint {self._base} answered HTTP {response.status_code}"
                                  + (f": {message}" if message else ""), detail={"status": response.status_code})

    def _send(self, body: dict) -> httpx.Response:
        """POST with retries on 429/5xx and network errors; the caller closes streamed responses."""
        url = f"{self._base}/chat/completions"
        last_exc: Exception | None = None
        for attempt in range(self._retries + 1):
            response = None
            try:
                request = self._client.build_request("POST", url, json=body, headers=self._headers())
                response = self._client.send(request, stream=bool(body.get("stream")))
            except (httpx.TransportError,) as exc:
                last_exc = exc
            else:
                if response.status_code < 400:
                    return response
                if body.get("stream"):
                    response.read()
                response.close()
                if response.status_code not in self.RETRY_STATUSES:
                    raise self._fail(response)
                last_exc = self._fail(response)
            if attempt < self._retries:
                self._sleep(attempt, response)
        if isinstance(last_exc, BackendUnavailable):
            raise BackendUnavailable(f"{last_exc.message} (after {self._retries + 1} tries)", detail=last_exc.detail)
        raise BackendUnavailable(f"cannot reach LLM endpoint {self._base}: {last_exc}") from last_exc

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 256, temperature: float = 0.2,
                 seed: int = 0, stop: list[str] | None = None, json_mode: bool = False) -> str:
        body = self._body(messages, max_tokens, temperature, seed, stop, json_mode, stream=False)
        t0 = time.perf_counter()
        response = self._send(body)
        try:
            data = response.json()
            text = data["choices"][0]["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise BackendUnavailable(f"LLM endpoint {self._base} sent an unexpected response shape: {exc!r}") from exc
        usage = data.get("usage") or {}
        self.last_usage = _usage(usage.get("prompt_tokens"), usage.get("completion_tokens"), time.perf_counter() - t0, None)
        return text

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int = 256, temperature: float = 0.2,
               seed: int = 0, stop: list[str] | None = None, json_mode: bool = False) -> Iterator[str]:
        body = self._body(messages, max_tokens, temperature, seed, stop, json_mode, stream=True)
        t0 = time.perf_counter()
        response = self._send(body)
        ttft, pieces = None, 0
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # SSE comments, event names, keep-alives
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                try:
                    chunk = json.loads(payload)
                    choices = chunk.get("choices") or []
                    text = (choices[0].get("delta") or {}).get("content") if choices else None
                except (ValueError, AttributeError) as exc:
                    raise BackendUnavailable(f"LLM endpoint {self._base} sent a malformed stream event: {payload[:200]}") from exc
                if text:
                    if ttft is None:
                        ttft = time.perf_counter() - t0
                    pieces += 1
                    yield text
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"LLM stream from {self._base} broke off: {exc}") from exc
        finally:
            response.close()
        self.last_usage = _usage(None, pieces, time.perf_counter() - t0, ttft)


def get_llm(settings: Any) -> Any:
    """The configured LLM backend (`settings.llm`: "llama-cpp" or "openai"), created once per configuration."""
    key = "|".join(str(x) for x in (settings.models_dir, settings.llm_model, settings.llm_base_url, settings.seed))
    return registry.get("llm", settings.llm, cache_key=key, settings=settings)
