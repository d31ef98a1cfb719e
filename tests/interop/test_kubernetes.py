"""Kubernetes manifests -> kubernetes-validate (strict) and kustomize (`kubectl kustomize`).

Every rendered manifest is validated against the OpenAPI schemas of Kubernetes 1.29 (the oldest
version with native sidecars, which the patches use) and of the newest version the pinned
kubernetes-validate knows, in strict mode: an unknown field or an unknown kind is an error (the
CLI only warns on unknown kinds, so the Python API is used). Pod patches are partial by design,
so "required property" errors alone are tolerated on the raw patch; the patch is then applied as
its header says (kustomize `patches` on a Deployment) and the merged output validated in full.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

from conftest import fixture_ids, require_tool

VERSIONS = ["1.29.0", kv.latest_version()]


def k8s_errors(doc: dict, version: str, partial: bool = False) -> list[str]:
    """Every strict-schema error of `doc` (kubernetes-validate's schemas and lookup rules)."""
    if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
        return [f"not a Kubernetes object: {str(doc)[:80]}"]
    try:
        kubernetes_validate.validate(doc, version, strict=True)
        return []
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"unknown kind: {exc}"]
    except kubernetes_validate.ValidationError:
        pass
    # List every error, not only the best match, with the schema kubernetes-validate chose
    # (same lookup as kubernetes_validate.utils.validate).
    chosen = [v for v in kv.all_versions() if kv.major_minor(v) <= kv.major_minor(version)][-1]
    schema_dir = f"v{chosen}-local-strict"
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", doc["apiVersion"])
    schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{doc['kind'].lower()}-{api}.json", version)
    defs = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    validator = jsonschema.validators.Draft202012Validator(schema, registry=registry)
    out = []
    for err in validator.iter_errors(doc):
        if partial and err.validator == "required":
            continue
        where = "/".join(str(p) for p in err.absolute_path)
        out.append(f"{doc['kind']} {doc.get('metadata', {}).get('name')}: at `{where}`: {err.message}")
    return out


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid(tree, version):
    problems = []
    for path in tree.kube_files():
        if path.name == "kustomization.yaml":
            continue  # not an API object; checked by running kustomize below
        partial = path.name.startswith("patch-")
        for doc in documents(path):
            problems += [f"{tree.rel(path)}: {e}" for e in k8s_errors(doc, version, partial)]
    assert not problems, "\n".join(problems)


def kustomize(directory: Path) -> list[dict]:
    kubectl = require_tool("kubectl", "It provides `kubectl kustomize` (Debian: the kubectl package).")
    r = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"kubectl kustomize {directory} failed:\n{r.stderr}"
    return [d for d in yaml.safe_load_all(r.stdout) if d]


@pytest.mark.parametrize("version", VERSIONS)
def test_kustomize_output_is_valid(tree, version):
    problems = []
    for directory in tree.kustomize_dirs():
        out = kustomize(directory)
        assert out, f"{tree.rel(directory)}: kustomize produced nothing"
        namespace = yaml.safe_load((directory / "kustomization.yaml").read_text()).get("namespace")
        for doc in out:
            assert doc["metadata"].get("namespace") == namespace, f"{doc['kind']} {doc['metadata']['name']} outside {namespace}"
            problems += [f"{tree.rel(directory)}: {e}" for e in k8s_errors(doc, version)]
    assert not problems, "\n".join(problems)


BASE_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "your-app"},
    "spec": {
        "selector": {"matchLabels": {"app": "your-app"}},
        "template": {
            "metadata": {"labels": {"app": "your-app"}},
            "spec": {"containers": [{"name": "app", "image": "registry.example/your-app:1.0"}]},
        },
    },
}


def patched(patch: Path, folder: Path, work: Path, base: dict) -> list[dict]:
    """Applies a rendered pod patch the way its header says (kustomize `patches` with a target),
    on top of `base` and the rendered namespace `folder` (the patch's own folder, or its parent
    for the CronJob twins under cronjob/)."""
    work.mkdir(parents=True)
    shutil.copytree(folder, work / "crossfed")
    (work / "workload.yaml").write_text(yaml.safe_dump(base))
    shutil.copy(patch, work / patch.name)
    ns = yaml.safe_load((folder / "kustomization.yaml").read_text())["namespace"]
    target = {"kind": base["kind"], "name": base["metadata"]["name"]}
    (work / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": ns,
                "resources": ["crossfed", "workload.yaml"],
                "patches": [{"path": patch.name, "target": target}],
            }
        )
    )
    return kustomize(work)


def patched_deployment(patch: Path, work: Path) -> list[dict]:
    return patched(patch, patch.parent, work, BASE_DEPLOYMENT)


def wiring_problems(out: list[dict]) -> list[str]:
    """References inside the patched pod that the API server would not catch."""
    problems = []
    deployment = next(d for d in out if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    names = {(d["kind"], d["metadata"]["name"]) for d in out}
    if ("ServiceAccount", pod.get("serviceAccountName")) not in names:
        problems.append(f"serviceAccountName {pod.get('serviceAccountName')} is not rendered")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod.get("initContainers", []) + pod["containers"]:
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                problems.append(f"container {c['name']} mounts undeclared volume {m['name']}")
    for v in volumes.values():
        if "configMap" in v and ("ConfigMap", v["configMap"]["name"]) not in names:
            problems.append(f"volume {v['name']} uses ConfigMap {v['configMap']['name']}, which is not rendered")
    return problems


@pytest.mark.parametrize("version", VERSIONS)
def test_patched_workloads_are_valid(tree, tmp_path, version):
    problems = []
    for i, patch in enumerate(tree.patches()):
        out = patched_deployment(patch, tmp_path / f"overlay-{i}")
        problems += [f"{tree.rel(patch)} applied: {e}" for doc in out for e in k8s_errors(doc, version)]
        problems += [f"{tree.rel(patch)} applied: {e}" for e in wiring_problems(out)]
    assert not problems, "\n".join(problems)


BASE_CRONJOB = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "your-job"},
    "spec": {
        "schedule": "0 * * * *",
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "containers": [{"name": "app", "image": "registry.example/your-job:1.0"}],
                    }
                }
            }
        },
    },
}


def patched_cronjob(patch: Path, work: Path) -> list[dict]:
    """A CronJob twin (kubernetes/<c>/<ns>/cronjob/patch-<f>.yaml) applied to a sample CronJob."""
    return patched(patch, patch.parent.parent, work, BASE_CRONJOB)


@pytest.mark.parametrize("version", VERSIONS)
def test_patched_cronjobs_are_valid(tree, tmp_path, version):
    """Every pod patch has a CronJob twin; applied to a CronJob it yields the same pod as the Deployment patch."""
    problems = []
    for i, patch in enumerate(tree.patches()):
        twin = patch.parent / "cronjob" / patch.name
        assert twin.is_file(), f"{tree.rel(patch)} has no CronJob twin at {tree.rel(twin)}"
        out = patched_cronjob(twin, tmp_path / f"cron-{i}")
        problems += [f"{tree.rel(twin)} applied: {e}" for doc in out for e in k8s_errors(doc, version)]
        cron_pod = next(d for d in out if d["kind"] == "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        deployment = next(d for d in patched_deployment(patch, tmp_path / f"deploy-{i}") if d["kind"] == "Deployment")
        deploy_pod = deployment["spec"]["template"]["spec"]
        cron_pod = {k: v for k, v in cron_pod.items() if k != "restartPolicy"}
        cron_pod["containers"] = [{k: v for k, v in c.items() if k != "image"} for c in cron_pod["containers"]]
        deploy_pod["containers"] = [{k: v for k, v in c.items() if k != "image"} for c in deploy_pod["containers"]]
        if cron_pod != deploy_pod:
            problems.append(f"{tree.rel(twin)}: the CronJob pod differs from the Deployment pod")
    assert not problems, "\n".join(problems)


# --- mutations -------------------------------------------------------------------------------------


def _a_patch(render_tree) -> tuple[Path, dict]:
    for stem in fixture_ids():
        for patch in render_tree(stem).patches():
            return patch, documents(patch)[0]
    pytest.fail("no rendered pod patch")


def test_mutation_misspelt_field_in_patch_fails(render_tree, tmp_path):
    patch, doc = _a_patch(render_tree)
    assert not k8s_errors(doc, VERSIONS[0], partial=True)
    broken = copy.deepcopy(doc)
    pod = broken["spec"]["template"]["spec"]
    pod["serviceAcountName"] = pod.pop("serviceAccountName")
    assert any("serviceAcountName" in e for e in k8s_errors(broken, VERSIONS[0], partial=True))
    broken_file = tmp_path / "src" / patch.parent.name / patch.name
    shutil.copytree(patch.parent, broken_file.parent)
    broken_file.write_text(yaml.safe_dump(broken))
    out = patched_deployment(broken_file, tmp_path / "overlay")
    assert any("serviceAcountName" in e for d in out for e in k8s_errors(d, VERSIONS[0]))


def test_mutation_misspelt_kind_fails(render_tree):
    for stem in fixture_ids():
        for path, doc in render_tree(stem).kube_documents():
            if doc.get("kind") == "ServiceAccount":
                assert not k8s_errors(doc, VERSIONS[0])
                broken = dict(doc, kind="ServiceAcount")
                assert any("unknown kind" in e for e in k8s_errors(broken, VERSIONS[0])), path
                return
    pytest.fail("no rendered ServiceAccount")


def test_mutation_misspelt_configmap_key_fails(render_tree):
    for stem in fixture_ids():
        for _path, doc in render_tree(stem).kube_documents():
            if doc.get("kind") == "ConfigMap":
                broken = copy.deepcopy(doc)
                broken["dta"] = broken.pop("data")
                assert any("dta" in e for e in k8s_errors(broken, VERSIONS[0]))
                return
    pytest.fail("no rendered ConfigMap")


def test_mutation_dangling_volume_mount_fails(render_tree, tmp_path):
    patch, doc = _a_patch(render_tree)
    broken = copy.deepcopy(doc)
    broken["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["name"] = "no-such-volume"
    broken_file = tmp_path / "src" / patch.parent.name / patch.name
    shutil.copytree(patch.parent, broken_file.parent)
    broken_file.write_text(yaml.safe_dump(broken))
    out = patched_deployment(broken_file, tmp_path / "overlay")
    assert any("undeclared volume" in p for p in wiring_problems(out))


# --- Components ------------------------------------------------------------------------------------

IMAGE = "registry.example/app:1.0"


def workload(kind: str, name: str, containers: list[str]) -> dict:
    """A minimal workload of `kind` whose pod runs `containers` and one container crossfed must not touch."""
    pod = {"containers": [{"name": c, "image": IMAGE} for c in [*containers, "untouched"]]}
    labels = {"app": name}
    template = {"metadata": {"labels": labels}, "spec": pod}
    if kind in ("Job", "CronJob"):
        pod["restartPolicy"] = "Never"
        job = {"template": {"spec": pod}}
        spec = job if kind == "Job" else {"schedule": "0 * * * *", "jobTemplate": {"spec": job}}
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    spec = {"selector": {"matchLabels": labels}, "template": template}
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def pod_of(doc: dict) -> dict:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


@pytest.mark.parametrize("version", VERSIONS)
def test_components_patch_exactly_the_named_workloads(render_tree, tmp_path, version):
    """Each Component, listed under `components:` by an application kustomization in another
    directory (kustomize's load restrictor on), patches each workload the spec names, of every
    kind, in its named containers only, and the result is valid Kubernetes."""
    tree = render_tree("gke-many-pods-one-role")
    components = tree.components()
    kinds = set()
    problems = []
    federations = {f["name"]: f for f in tree.spec.raw["federations"]}
    for i, component in enumerate(components):
        f = federations[component.name]
        source = f["from"]
        named = source.get("containers", ["app"])
        app = tmp_path / f"app-{i}"
        app.mkdir()
        docs = [workload(w["kind"], w["name"], named) for w in source["workloads"]]
        kinds |= {w["kind"] for w in source["workloads"]}
        (app / "workloads.yaml").write_text(yaml.safe_dump_all(docs))
        namespace_folder = component.parent.parent
        (app / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "namespace": source["namespace"],
                    "resources": ["workloads.yaml", os.path.relpath(namespace_folder, app)],
                    "components": [os.path.relpath(component, app)],
                }
            )
        )
        out = kustomize(app)
        for doc in out:
            problems += [f"{tree.rel(component)}: {e}" for e in k8s_errors(doc, version)]
        for w in source["workloads"]:
            doc = next(d for d in out if d["kind"] == w["kind"] and d["metadata"]["name"] == w["name"])
            pod = pod_of(doc)
            where = f"{tree.rel(component)} on {w['kind']} {w['name']}"
            if pod.get("serviceAccountName") != source["serviceAccount"]:
                problems.append(f"{where}: serviceAccountName {pod.get('serviceAccountName')}")
            containers = {c["name"]: c for c in pod["containers"]}
            if set(containers) != {*named, "untouched"}:
                problems.append(f"{where}: containers {sorted(containers)}, expected {sorted([*named, 'untouched'])}")
            for c in named:
                if not containers.get(c, {}).get("env"):
                    problems.append(f"{where}: container {c} got no environment")
            if "env" in containers["untouched"] or "volumeMounts" in containers["untouched"]:
                problems.append(f"{where}: a container the spec does not name was changed")
            problems += [f"{where}: {e}" for e in wiring_problems([{**doc, "kind": "Deployment", "spec": {"template": {"spec": pod}}}, *out])]
    assert kinds == {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}, kinds
    assert not problems, "\n".join(problems)
