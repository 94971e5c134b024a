"""Tests of repalign.paths: every folder the project uses, its environment override and its fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from repalign import cache, paths


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("REPALIGN_ROOT", "REPALIGN_DATA", "REPALIGN_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def a_book(tmp_path, clean_env) -> Path:
    """A folder holding _toc.yml, the current directory one level below it."""
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "_toc.yml").write_text("root: intro\n")
    clean_env.chdir(root / "chapters")
    return root.resolve()


@pytest.fixture
def no_book(tmp_path, clean_env) -> Path:
    """Neither the current directory nor this package lies inside a book; HOME is a fresh folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean_env.chdir(elsewhere)
    clean_env.setattr(paths, "__file__", str(tmp_path / "site-packages" / "repalign" / "paths.py"))
    clean_env.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


# --- the book's root and its folders ------------------------------------------------------------

def test_root_is_found_above_the_current_directory(a_book):
    assert paths.book_root() == a_book
    assert paths.chapters_dir() == a_book / "chapters"
    assert paths.build_dir() == a_book / "_build"
    assert paths.runs_dir() == a_book / "_build" / "runs"
    assert paths.smoke_dir() == a_book / "_build" / "smoke"
    assert paths.html_dir() == a_book / "_build" / "html"
    assert paths.build_log() == a_book / "_build" / "jupyter-book.log"


def test_an_explicit_root_is_used_as_given(tmp_path):
    assert paths.chapters_dir(tmp_path) == tmp_path / "chapters"
    assert paths.runs_dir(tmp_path) == tmp_path / "_build" / "runs"
    smoke = paths.smoke_dir(tmp_path)                                  # the smoke build has its own _build
    assert paths.html_dir(smoke) == tmp_path / "_build" / "smoke" / "_build" / "html"


def test_repalign_root_wins_and_must_hold_the_marker(a_book, tmp_path, clean_env):
    other = tmp_path / "other"
    other.mkdir()
    (other / "_toc.yml").write_text("")
    clean_env.setenv("REPALIGN_ROOT", str(other))
    assert paths.book_root() == other.resolve()
    clean_env.setenv("REPALIGN_ROOT", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match=r"REPALIGN_ROOT=.*empty holds no _toc\.yml"):
        paths.book_root()


def test_the_package_location_is_the_second_guess(a_book, no_book, tmp_path, clean_env):
    with pytest.raises(FileNotFoundError, match="run from inside the book's repository or set REPALIGN_ROOT"):
        paths.book_root()
    clean_env.setattr(paths, "__file__", str(a_book / "lib" / "repalign" / "paths.py"))
    assert paths.book_root() == a_book


# --- the per-user cache and the result cache ----------------------------------------------------

def test_user_cache_follows_xdg_else_home(no_book, clean_env):
    assert paths.user_cache_dir() == no_book / "home" / ".cache" / "repalign"
    clean_env.setenv("XDG_CACHE_HOME", "")                            # empty: as if unset
    assert paths.user_cache_dir() == no_book / "home" / ".cache" / "repalign"
    clean_env.setenv("XDG_CACHE_HOME", str(no_book / "xdg"))
    assert paths.user_cache_dir() == no_book / "xdg" / "repalign"


def test_result_cache_in_a_book_is_its_build_folder(a_book):
    assert paths.result_cache_dir() == a_book / "_build" / "cache"
    assert cache.default_folder() == a_book / "_build" / "cache"
    assert cache.ResultCache().folder == a_book / "_build" / "cache"


def test_result_cache_outside_a_book_is_the_user_cache(no_book, clean_env):
    assert paths.result_cache_dir() == no_book / "home" / ".cache" / "repalign" / "results"
    clean_env.setenv("XDG_CACHE_HOME", str(no_book / "xdg"))
    assert cache.default_folder() == no_book / "xdg" / "repalign" / "results"


def test_repalign_cache_overrides_the_book(a_book, tmp_path, clean_env):
    clean_env.setenv("HOME", str(tmp_path / "home"))
    clean_env.setenv("REPALIGN_CACHE", "~/results")
    assert paths.result_cache_dir() == tmp_path / "home" / "results"     # ~ expanded
    assert cache.ResultCache().folder == tmp_path / "home" / "results"
    assert cache.ResultCache(tmp_path / "given").folder == tmp_path / "given"   # an explicit folder wins
    clean_env.setenv("REPALIGN_CACHE", "")                              # empty: as if unset
    assert paths.result_cache_dir() == a_book / "_build" / "cache"


# --- real data --------------------------------------------------------------------------------

def test_data_root_is_repalign_data_or_none(no_book, clean_env):
    assert paths.data_root() is None
    clean_env.setenv("REPALIGN_DATA", "")
    assert paths.data_root() is None
    clean_env.setenv("REPALIGN_DATA", "~/sets")
    assert paths.data_root() == no_book / "home" / "sets"


def test_no_book_data_folder_outside_a_book(no_book):
    assert paths.book_data_dir() is None
    assert paths.mnist_dirs() == []                                     # nowhere to look


def test_mnist_folders_in_search_order(a_book, tmp_path, clean_env):
    assert paths.book_data_dir() == a_book / "data"
    assert paths.mnist_dirs() == [a_book / "data" / "mnist"]
    clean_env.setenv("REPALIGN_DATA", str(tmp_path / "sets"))
    assert paths.mnist_dirs() == [tmp_path / "sets" / "mnist", a_book / "data" / "mnist"]


def test_fashion_mnist_folders_in_search_order(no_book, clean_env):
    debian, download = paths.DEBIAN_FASHION_MNIST_DIR, no_book / "home" / ".cache" / "repalign" / "fashion-mnist"
    assert debian == Path("/usr/share/datasets/fashion-mnist")
    assert paths.fashion_mnist_download_dir() == download
    assert paths.fashion_mnist_dirs() == [debian, download]
    clean_env.setenv("REPALIGN_DATA", str(no_book / "sets"))
    clean_env.setattr(paths, "DEBIAN_FASHION_MNIST_DIR", no_book / "debian")
    assert paths.fashion_mnist_dirs() == [no_book / "sets" / "fashion-mnist", no_book / "debian", download]
