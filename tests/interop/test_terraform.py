"""Terraform: every valid fixture rendered with `--outputs scripts,terraform`, its modules checked
by the real Terraform where it runs offline and against the provider's schema where it does not.

- AWS: `terraform init` installs hashicorp/aws from the machine's filesystem mirror, then
  `terraform validate` checks every account module of every fixture, and every root example
  (without its Google half), through one root that calls them all.
- Google: the hashicorp/google provider cannot be installed offline, so every resource type,
  argument and nested block of the GCP modules is checked against the provider's schema as the
  pinned cdktf bindings publish it (tests/interop/provider-schemas.txt): arguments that exist,
  required ones present, blocks where the schema has blocks.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, VALID, require_tool, required_env

# Terraform's meta-arguments, valid in every resource.
META = {"count", "depends_on", "for_each", "lifecycle", "provider", "provisioner", "connection"}


@pytest.fixture(scope="session")
def terraform_trees(crossfed_bin, tmp_path_factory) -> dict[str, Path]:
    """Each valid fixture rendered with Terraform on, by stem."""
    trees = {}
    for spec in VALID:
        out = tmp_path_factory.mktemp(f"terraform-{spec.stem}")
        r = subprocess.run(
            [crossfed_bin, "render", str(spec.relative_to(REPO)), "-o", str(out), "--outputs", "scripts,terraform", "-q"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, f"`crossfed render {spec.name} --outputs scripts,terraform` failed:\n{r.stderr}"
        trees[spec.stem] = out
    return trees


def _modules(trees: dict[str, Path], cloud: str) -> list[tuple[str, Path]]:
    found = [
        (f"{stem}/{module.parent.name}", module)
        for stem, tree in sorted(trees.items())
        for module in sorted((tree / "terraform" / cloud).glob("*/main.tf.json"))
    ]
    assert found, f"no {cloud} module in any fixture"
    return found


# ---- AWS: the real Terraform


def _aws_mirror() -> Path:
    """The directory of a filesystem mirror that holds hashicorp/aws (`CROSSFED_TERRAFORM_MIRROR`,
    or found on the machine)."""
    pattern = "registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*"
    explicit = os.environ.get("CROSSFED_TERRAFORM_MIRROR")
    roots = [Path(explicit)] if explicit else [
        Path("/opt/tf-plugins"),
        Path("/usr/share/terraform/plugins"),
        Path("/usr/local/share/terraform/plugins"),
        Path.home() / ".terraform.d" / "plugins",
        Path.home() / ".local" / "share" / "terraform" / "plugins",
        Path("/opt"),
    ]
    for root in roots:
        if any(root.glob(pattern)):
            return root
        if root == Path("/opt"):
            for hit in root.glob(f"*/{pattern}"):
                return hit.parents[5]
    pytest.fail(
        "terraform-provider-aws: no filesystem mirror of hashicorp/aws found in "
        + ", ".join(map(str, roots))
        + "; `terraform init` needs one offline. Set CROSSFED_TERRAFORM_MIRROR to the directory "
        "that holds registry.terraform.io/hashicorp/aws/VERSION/OS_ARCH/.",
        pytrace=False,
    )


def _without_google(example: dict) -> dict:
    """A root example with only its AWS half (the Google provider is not available offline)."""
    out = json.loads(json.dumps(example))
    out["terraform"]["required_providers"].pop("google", None)
    out.get("provider", {}).pop("google", None)
    out["module"] = {k: v for k, v in out.get("module", {}).items() if not k.startswith("gcp_")}
    return out


def test_every_aws_module_and_root_example_passes_terraform_validate(terraform_trees, tmp_path):
    terraform = require_tool("terraform", "It comes with the machine image (Terraform 1.11).")
    mirror = _aws_mirror()
    cache = Path(required_env("CROSSFED_TARGET_DIR", "the cargo target directory")) / "interop-terraform-plugins"
    cache.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "terraformrc"
    config.write_text(
        "provider_installation {\n"
        f"  filesystem_mirror {{\n    path    = {json.dumps(str(mirror))}\n"
        '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n'
        f"plugin_cache_dir = {json.dumps(str(cache))}\n"
    )
    root = tmp_path / "root"
    root.mkdir()
    calls = {}
    for name, module in _modules(terraform_trees, "aws"):
        calls[re.sub(r"[^A-Za-z0-9_-]", "_", f"module_{name}")] = {
            "source": os.path.relpath(module.parent, root),
        }
    for stem, tree in sorted(terraform_trees.items()):
        example = json.loads((tree / "terraform" / "main.tf.json").read_text())
        if not example.get("provider", {}).get("aws"):
            continue
        copy = tree / "terraform" / "aws-only-example"
        copy.mkdir()
        # Beside the modules, so the example's `./aws/ACCOUNT` sources resolve.
        (copy / "main.tf.json").write_text(json.dumps(_without_google(example)).replace('"./aws/', '"../aws/'))
        calls[re.sub(r"[^A-Za-z0-9_-]", "_", f"example_{stem}")] = {"source": os.path.relpath(copy, root)}
    (root / "main.tf.json").write_text(json.dumps({"module": calls}, indent=2))
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    init = subprocess.run(
        [terraform, "init", "-input=false", "-no-color", "-backend=false"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )
    assert init.returncode == 0, f"terraform init failed:\n{init.stdout}\n{init.stderr}"
    validate = subprocess.run(
        [terraform, "validate", "-json", "-no-color"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    result = json.loads(validate.stdout)
    problems = [
        f"{d['severity']}: {d['summary']}: {d.get('detail', '')} "
        f"({d.get('range', {}).get('filename', '?')}:{d.get('range', {}).get('start', {}).get('line', '?')})"
        for d in result.get("diagnostics", [])
    ]
    assert result["valid"] and not problems, "terraform validate:\n" + "\n".join(problems)
    assert len(calls) >= 10, calls


# ---- Google: the provider's schema from its cdktf bindings


def _camel(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


class GoogleSchema:
    """Arguments and blocks of the hashicorp/google resources, read from the cdktf bindings'
    sources: each resource's `<Resource>Config` class and each block's `<Resource><Block>` class
    take exactly the schema's arguments as keyword-only parameters, required ones without a
    default."""

    def __init__(self) -> None:
        folder = Path(required_env("CROSSFED_PROVIDER_SCHEMAS", "the downloaded provider schemas"))
        wheels = sorted(folder.glob("cdktf_cdktf_provider_google-*.whl"))
        assert wheels, f"cdktf-cdktf-provider-google is not in {folder}: see tests/interop/provider-schemas.txt"
        self.wheel = zipfile.ZipFile(wheels[0])
        self.classes: dict[str, dict[str, tuple[set[str], set[str]]]] = {}

    def version(self) -> str:
        text = self.wheel.read("cdktf_cdktf_provider_google/iam_workload_identity_pool/__init__.py").decode()
        return re.search(r"providers/hashicorp/google/([0-9.]+)/docs", text).group(1)

    def resource(self, kind: str) -> dict[str, tuple[set[str], set[str]]]:
        """The classes of resource type `kind`: name -> (arguments, required ones)."""
        if kind not in self.classes:
            path = f"cdktf_cdktf_provider_google/{kind.removeprefix('google_')}/__init__.py"
            assert kind.startswith("google_") and path in self.wheel.namelist(), f"no resource type `{kind}` in the google provider"
            classes = {}
            for node in ast.parse(self.wheel.read(path)).body:
                if not isinstance(node, ast.ClassDef):
                    continue
                init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
                if init is None:
                    continue
                names = {a.arg for a in init.args.kwonlyargs}
                required = {a.arg for a, d in zip(init.args.kwonlyargs, init.args.kw_defaults) if d is None}
                classes[node.name] = (names, required)
            self.classes[kind] = classes
        return self.classes[kind]

    def check(self, kind: str, body: dict, where: str) -> list[str]:
        classes = self.resource(kind)
        return self._check(classes, _camel(kind.removeprefix("google_")), "Config", body, where, top=True)

    def _check(self, classes, prefix: str, suffix: str, body: dict, where: str, top: bool) -> list[str]:
        name = prefix + suffix
        assert name in classes, f"{where}: no class {name} in the bindings"
        arguments, required = classes[name]
        problems = []
        for key, value in body.items():
            if key == "//":
                continue
            if key not in arguments:
                problems.append(f"{where}: `{key}` is not an argument of {name} (has: {', '.join(sorted(arguments))})")
            elif isinstance(value, dict) and (prefix + _camel(key)) in classes:
                problems += self._check(classes, prefix + _camel(key), "", value, f"{where}.{key}", top=False)
        missing = required - set(body) - (META if top else set())
        problems += [f"{where}: required `{m}` is missing" for m in sorted(missing)]
        return problems


def test_every_gcp_module_uses_only_the_google_providers_schema(terraform_trees):
    schema = GoogleSchema()
    version = schema.version()
    assert version.startswith("6."), version
    checked = set()
    problems = []
    for name, module in _modules(terraform_trees, "gcp"):
        document = json.loads(module.read_text())
        constraint = document["terraform"]["required_providers"]["google"]["version"]
        assert constraint == ">= 6.0, < 7.0", f"{name}: the schema checked is {version}, the module asks for {constraint}"
        for kind, instances in document["resource"].items():
            for address, body in instances.items():
                problems += schema.check(kind, body, f"{name}: {kind}.{address}")
                checked.add(kind)
    assert not problems, "\n".join(problems)
    # Every kind of resource crossfed writes was met by some fixture.
    assert checked >= {
        "google_iam_workload_identity_pool",
        "google_iam_workload_identity_pool_provider",
        "google_service_account_iam_member",
        "google_project_iam_member",
    }, checked


def test_the_schema_check_catches_a_wrong_argument():
    """The check above can fail: a misspelt argument, a missing required one, an unknown block
    member and an unknown resource type are all reported."""
    schema = GoogleSchema()
    body = {
        "project": "p",
        "workload_identity_pool_id": "x",
        "workload_identity_pool_provider_id": "y",
        "attribute_condtion": "true",
        "oidc": {"issuer": "https://example.com"},
    }
    problems = "\n".join(schema.check("google_iam_workload_identity_pool_provider", body, "probe"))
    assert "`attribute_condtion` is not an argument" in problems, problems
    assert "probe.oidc: `issuer` is not an argument" in problems, problems
    assert "probe.oidc: required `issuer_uri` is missing" in problems, problems
    missing = "\n".join(schema.check("google_project_iam_member", {"project": "p", "role": "r"}, "probe"))
    assert "required `member` is missing" in missing, missing
    with pytest.raises(AssertionError, match="no resource type"):
        schema.check("google_iam_workload_identity_pool_providers", {}, "probe")


def test_terraform_trust_policies_are_the_standalone_files(terraform_trees):
    """One source of truth: each role's `assume_role_policy` is its trust-policy.json, and each
    inline policy its JSON document, after JSON normalisation."""
    compared = 0
    for name, module in _modules(terraform_trees, "aws"):
        account_dir = module.parents[3] / "aws" / module.parent.name
        resources = json.loads(module.read_text())["resource"]
        for role in resources["aws_iam_role"].values():
            text = role["assume_role_policy"].replace("$${", "${").replace("%%{", "%{")
            standalone = account_dir / "roles" / role["name"] / "trust-policy.json"
            assert json.loads(text) == json.loads(standalone.read_text()), f"{name}: {role['name']}"
            compared += 1
    assert compared > 10
