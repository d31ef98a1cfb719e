"""Shared setup of the interop suite: the crossfed binary, the fixtures, their rendered trees.

Run by `cargo test --locked` through tests/interop.rs, which builds the binary, bootstraps the
pinned tools into target/ and passes their locations in environment variables. Running pytest
by hand works too, given the same variables (see README.md in this folder).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support import rendered as rendered_mod
from support import spec as spec_mod

# Every server the suite talks to is on 127.0.0.1: never through a proxy from the caller's env.
for _var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VALID = sorted((REPO / "fixtures" / "valid").glob("*.yaml"))


def required_env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: it must point at {what}. Run the suite with `cargo test --locked`.", pytrace=False)
    return value


def require_tool(name: str, hint: str) -> str:
    """A missing tool is a failure with a clear message, never a skip."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH; the interop suite needs it. {hint}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def crossfed_bin() -> str:
    path = required_env("CROSSFED_BIN", "the crossfed binary (cargo sets CARGO_BIN_EXE_crossfed)")
    assert Path(path).is_file(), f"CROSSFED_BIN={path} does not exist"
    return path


_RENDERED: dict[str, rendered_mod.Rendered] = {}


@pytest.fixture(scope="session")
def render_tree(crossfed_bin, tmp_path_factory):
    """render_tree(stem) -> Rendered: each valid fixture rendered once per session."""

    def get(stem: str) -> rendered_mod.Rendered:
        if stem not in _RENDERED:
            path = REPO / "fixtures" / "valid" / f"{stem}.yaml"
            out = tmp_path_factory.mktemp(f"rendered-{stem}")
            rendered_mod.render(crossfed_bin, path, out, REPO)
            _RENDERED[stem] = rendered_mod.Rendered(stem, out, spec_mod.load(path))
        return _RENDERED[stem]

    return get


def fixture_ids() -> list[str]:
    assert VALID, f"no fixtures found in {REPO / 'fixtures' / 'valid'}"
    return [p.stem for p in VALID]


@pytest.fixture(params=fixture_ids())
def tree(request, render_tree) -> rendered_mod.Rendered:
    return render_tree(request.param)

