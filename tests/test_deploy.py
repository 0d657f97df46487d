"""deploy/: the container definitions and the KubeRay RayJob manifests, checked without docker or a cluster.

- Every YAML file parses; each RayJob validates against a vendored subset of KubeRay's RayJob CRD
  (``tests/data/kuberay_rayjob.schema.json``), whose KubeRay-defined objects reject unknown fields: the API server
  would silently drop a misspelt one.
- The entrypoints are ``farm qc`` / ``farm master`` command lines that farm's own parser accepts, and every option
  they use is one ``farm <cmd> --help`` shows.
- Ray's token authentication is on in every Ray container, the autoscaler and the submitter, with the token (and
  the object-storage keys) taken from Secrets, never written in the manifest.
- The GPU worker group autoscales from zero and asks for one ``nvidia.com/gpu`` that Ray is told about.
- The images named in the manifests are the ones the Dockerfiles build, at the Ray and Python versions the
  manifests declare; the Dockerfiles parse (a small parser below) and install the project as a non-root user.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERAY = DEPLOY / "kuberay"
SCHEMA = json.loads((Path(__file__).parent / "data" / "kuberay_rayjob.schema.json").read_text())
JOBS = {"qc": KUBERAY / "rayjob-qc.yaml", "master": KUBERAY / "rayjob-master.yaml"}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _job(name: str) -> dict:
    (doc,) = _docs(JOBS[name])
    return doc


def _cluster(job: dict) -> dict:
    return job["spec"]["rayClusterSpec"]


def _group(job: dict, name: str) -> dict:
    (group,) = [g for g in _cluster(job)["workerGroupSpecs"] if g["groupName"] == name]
    return group


def _ray_containers(job: dict) -> dict[str, dict]:
    """The Ray container of the head and of each worker group (KubeRay's convention: the first container)."""
    cluster = _cluster(job)
    out = {"head": cluster["headGroupSpec"]["template"]["spec"]["containers"][0]}
    for g in cluster["workerGroupSpecs"]:
        out[g["groupName"]] = g["template"]["spec"]["containers"][0]
    return out


def _env(entries: list[dict] | None) -> dict[str, dict]:
    return {e["name"]: e for e in entries or []}


def _secret_examples() -> dict[str, dict[str, str]]:
    return {d["metadata"]["name"]: d["stringData"] for d in _docs(KUBERAY / "secret-example.yaml")}


# --- the manifests -----------------------------------------------------------------------------------------------


def test_every_yaml_parses_and_names_its_kind():
    files = sorted(KUBERAY.glob("*.yaml"))
    assert {p.name for p in files} >= {"rayjob-qc.yaml", "rayjob-master.yaml", "secret-example.yaml"}
    for path in files:
        docs = _docs(path)
        assert docs, f"{path.name} is empty"
        for doc in docs:
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), f"{path.name}: {sorted(doc)}"


@pytest.mark.parametrize("name", sorted(JOBS))
def test_rayjob_validates_against_the_crd_subset(name):
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_job(name))]
    assert not errors, "\n".join(errors)


def test_the_schema_catches_what_the_api_server_would_silently_drop():
    """The vendored schema is not vacuous: a misspelt field, a numeric rayStartParam and a bad mode all fail."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    job = _job("qc")
    job["spec"]["shutdownAfterJobFinish"] = True  # missing 's': KubeRay would never delete the cluster
    _group(job, "gpu")["rayStartParams"]["num-gpus"] = 1
    job["spec"]["submissionMode"] = "K8sJob"
    messages = " | ".join(e.message for e in validator.iter_errors(job))
    assert "shutdownAfterJobFinish" in messages
    assert "1 is not of type 'string'" in messages
    assert "'K8sJob' is not one of" in messages


@pytest.mark.parametrize("name", sorted(JOBS))
def test_job_lifecycle(name):
    spec = _job(name)["spec"]
    assert spec["submissionMode"] == "K8sJobMode"
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] > 0  # time to read logs before the cluster goes
    assert isinstance(spec["backoffLimit"], int) and 0 <= spec["backoffLimit"] <= 5


def _farm_command(name: str):
    import typer.main

    from farm.cli import app

    return typer.main.get_command(app).commands[name]


@pytest.mark.parametrize("name", sorted(JOBS))
def test_entrypoint_is_a_farm_command_line_farm_accepts(name):
    argv = shlex.split(_job(name)["spec"]["entrypoint"])
    assert argv[:2] == ["farm", name]
    command = _farm_command(name)
    # farm's own parser (typer/click): an unknown option, a missing value or a bad type raises here.
    ctx = command.make_context(name, argv[2:])
    params = ctx.params
    assert params["address"] == "auto"  # the driver runs on the head and joins the cluster it is on
    assert str(argv[argv.index("--out") + 1]).startswith("s3://bucket/runs/")
    assert all(i.startswith("s3://") for i in params["inputs"])
    if name == "master":
        from farm.deliver.model import FORMATS

        assert params["formats"] == "streaming,cd"
        assert set(params["formats"].split(",")) <= set(FORMATS)


@pytest.mark.parametrize("name", sorted(JOBS))
def test_entrypoint_options_are_in_farm_help(name):
    """The options a platform team reads in the manifest are the ones `farm <cmd> --help` documents."""
    used = [a.split("=")[0] for a in shlex.split(_job(name)["spec"]["entrypoint"]) if a.startswith("--")]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    shown = subprocess.run([sys.executable, "-m", "farm.cli", name, "--help"], capture_output=True, text=True,
                           env=env, cwd=ROOT, timeout=120, check=True).stdout
    offered = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", shown))
    assert used and set(used) <= offered, f"not in `farm {name} --help`: {sorted(set(used) - offered)}"


@pytest.mark.parametrize("name", sorted(JOBS))
def test_groups_cpu_head_cpu_workers_and_an_autoscaling_gpu_group(name):
    job = _job(name)
    cluster = _cluster(job)
    assert cluster["enableInTreeAutoscaling"] is True
    assert {g["groupName"] for g in cluster["workerGroupSpecs"]} == {"cpu", "gpu"}
    containers = _ray_containers(job)
    for group in ("head", "cpu"):
        limits = containers[group]["resources"]["limits"]
        assert "nvidia.com/gpu" not in limits, group
    assert cluster["headGroupSpec"]["rayStartParams"].get("num-gpus", "0") == "0"
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"  # the driver alone on the head

    gpu = _group(job, "gpu")
    assert gpu["minReplicas"] == 0 and gpu["maxReplicas"] >= 1
    assert gpu["minReplicas"] <= gpu["replicas"] <= gpu["maxReplicas"]
    gpu_limit = containers["gpu"]["resources"]["limits"]["nvidia.com/gpu"]
    # Ray must advertise exactly the GPUs the pod was given, or tasks would wait for GPUs that are not there.
    assert int(gpu["rayStartParams"]["num-gpus"]) == int(gpu_limit) == 1
    assert any(t.get("key") == "nvidia.com/gpu" for t in gpu["template"]["spec"].get("tolerations", []))
    cpu = _group(job, "cpu")
    assert 0 < cpu["minReplicas"] <= cpu["replicas"] <= cpu["maxReplicas"]


_UNITS = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def _quantity(value) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()
    return float(number) * _UNITS[unit]


@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_container_has_requests_and_limits(name):
    job = _job(name)
    containers = dict(_ray_containers(job))
    containers["submitter"] = job["spec"]["submitterPodTemplate"]["spec"]["containers"][0]
    containers["autoscaler"] = _cluster(job)["autoscalerOptions"]
    for where, c in containers.items():
        requests, limits = c["resources"]["requests"], c["resources"]["limits"]
        for resource in ("cpu", "memory"):
            assert _quantity(requests[resource]) <= _quantity(limits[resource]), f"{where} {resource}"


def _auth_env_holders(job: dict) -> dict[str, list[dict]]:
    holders = {k: c.get("env", []) for k, c in _ray_containers(job).items()}
    holders["autoscaler"] = _cluster(job)["autoscalerOptions"].get("env", [])
    holders["submitter"] = job["spec"]["submitterPodTemplate"]["spec"]["containers"][0].get("env", [])
    return holders


@pytest.mark.parametrize("name", sorted(JOBS))
def test_token_authentication_everywhere_from_a_secret(name):
    """RAY_AUTH_MODE=token on every process that speaks to GCS or the dashboard, the token from one Secret."""
    secrets = _secret_examples()
    for where, entries in _auth_env_holders(_job(name)).items():
        env = _env(entries)
        assert env.get("RAY_AUTH_MODE", {}).get("value") == "token", where
        ref = env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert "value" not in env["RAY_AUTH_TOKEN"], where
        assert ref["key"] in secrets[ref["name"]], f"{where}: {ref} not in secret-example.yaml"
        assert not ref.get("optional", False), f"{where}: the token must not be optional"


_SENSITIVE = re.compile(r"TOKEN|SECRET|PASSWORD|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}/{i}")


@pytest.mark.parametrize("name", sorted(JOBS))
def test_secrets_are_referenced_never_inlined(name):
    job = _job(name)
    secrets = _secret_examples()
    refs = []
    for path, node in _walk(job):
        in_env = "name" in node and path.rsplit("/", 2)[-2] == "env"
        if in_env and _SENSITIVE.search(node["name"]):
            assert "value" not in node, f"{path}: {node['name']} is written in the manifest"
            assert "secretKeyRef" in node["valueFrom"], path
        if "secretKeyRef" in node:
            refs.append(node["secretKeyRef"])
    assert refs
    for ref in refs:  # every Secret and key a manifest names is one secret-example.yaml documents
        assert ref["key"] in secrets.get(ref["name"], {}), ref
    # The object store is reachable from the driver (head) and from every worker.
    for where, c in _ray_containers(job).items():
        env = _env(c.get("env"))
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "farm-object-store", (where, key)
    assert "stringData" not in json.dumps(job) and "kind: Secret" not in JOBS[name].read_text()


def test_secret_example_holds_placeholders_only():
    for name, data in _secret_examples().items():
        for key, value in data.items():
            assert value.startswith("<REPLACE"), f"{name}.{key} looks like a real value"


# --- the Dockerfiles -----------------------------------------------------------------------------------------------

# Every instruction Dockerfile reference (BuildKit, dockerfile:1) knows; MAINTAINER is deprecated but valid.
DOCKERFILE_KEYWORDS = {"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
                       "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


class DockerfileError(ValueError):
    pass


def parse_dockerfile(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions as BuildKit does, for the parts these files use.

    Parser directives (``# syntax=...``) and comments are dropped, ``\\`` joins lines (comment and empty lines
    inside a continued instruction are skipped, as Docker does), keywords are case-insensitive. Raises
    :class:`DockerfileError` for an unknown keyword, a dangling continuation, or a JSON-form argument that is not
    a JSON array of strings.
    """
    out: list[Instruction] = []
    buf: list[str] = []
    start = 0
    for n, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if buf and (not stripped or stripped.startswith("#")):
            continue
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if not buf:
            start = n
        if stripped.endswith("\\"):
            buf.append(stripped[:-1].rstrip())
            continue
        buf.append(stripped)
        joined = " ".join(p for p in buf if p)
        buf = []
        keyword, _, args = joined.partition(" ")
        keyword = keyword.upper()
        if keyword not in DOCKERFILE_KEYWORDS:
            raise DockerfileError(f"line {start}: unknown instruction {keyword!r}")
        if not args.strip():
            raise DockerfileError(f"line {start}: {keyword} has no arguments")
        args = args.strip()
        if keyword in {"ENTRYPOINT", "CMD", "SHELL"} and args.startswith("["):
            try:
                form = json.loads(args)
            except json.JSONDecodeError as exc:
                raise DockerfileError(f"line {start}: {keyword} JSON form does not parse: {exc}") from None
            if not (isinstance(form, list) and form and all(isinstance(a, str) for a in form)):
                raise DockerfileError(f"line {start}: {keyword} JSON form must be a non-empty array of strings")
        out.append(Instruction(keyword, args, start))
    if buf:
        raise DockerfileError("the file ends inside a continued line")
    if not out or out[0].keyword not in {"FROM", "ARG"}:
        raise DockerfileError("a Dockerfile starts with FROM (or ARG before FROM)")
    return out


def test_the_parser_rejects_what_docker_rejects():
    good = "# syntax=docker/dockerfile:1\nFROM a:1 AS b\nRUN x \\\n  # a comment\n  && y\nENTRYPOINT [\"farm\"]\n"
    parsed = parse_dockerfile(good)
    assert [(i.keyword, i.args) for i in parsed] == [("FROM", "a:1 AS b"), ("RUN", "x && y"),
                                                    ("ENTRYPOINT", '["farm"]')]
    for bad, why in [("FROM a:1\nRUNN x\n", "unknown instruction"), ("FROM a:1\nRUN x \\\n", "ends inside"),
                     ("FROM a:1\nENTRYPOINT [\"farm\",]\n", "does not parse"),
                     ("FROM a:1\nENTRYPOINT [1]\n", "array of strings"), ("RUN x\n", "starts with FROM")]:
        with pytest.raises(DockerfileError, match=why):
            parse_dockerfile(bad)


DOCKERFILES = {"cpu": DEPLOY / "Dockerfile", "cuda": DEPLOY / "Dockerfile.cuda"}


def _parsed(kind: str) -> list[Instruction]:
    return parse_dockerfile(DOCKERFILES[kind].read_text())


def _arg_default(instructions: list[Instruction], name: str) -> str:
    (value,) = [i.args.split("=", 1)[1] for i in instructions if i.keyword == "ARG" and i.args.startswith(name + "=")]
    return value


def _final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last_from = max(k for k, i in enumerate(instructions) if i.keyword == "FROM")
    return instructions[last_from:]


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:  # later lines win, `!` re-includes, as in Docker
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        pattern = pattern.removeprefix("**/")
        parts = Path(path).parts
        hit = any(fnmatch.fnmatch("/".join(parts[:k]), pattern) or fnmatch.fnmatch(parts[k - 1], pattern)
                  for k in range(1, len(parts) + 1))
        if hit:
            ignored = not negate
    return ignored


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_dockerfile_installs_the_project_as_a_non_root_user(kind):
    instructions = _parsed(kind)
    final = _final_stage(instructions)
    stages = {i.args.split()[-1] for i in instructions if i.keyword == "FROM" and " AS " in i.args.upper()}

    for i in instructions:
        if i.keyword == "FROM":
            image = i.args.split()[0]
            assert image not in stages, f"line {i.line}: {image} is a stage, not a pinned base"
            assert re.search(r":[\w.-]+$|@sha256:[0-9a-f]{64}$", image) and not image.endswith(":latest"), \
                f"line {i.line}: base image {image} is not pinned by tag or digest"
        if i.keyword == "COPY":
            words = i.args.split()
            source = next((w for w in words if w.startswith("--from=")), None)
            if source:
                assert source.split("=", 1)[1] in stages, f"line {i.line}: unknown stage {source}"
                continue
            for src in [w for w in words if not w.startswith("--")][:-1]:
                assert (ROOT / src).exists(), f"line {i.line}: COPY {src}: no such path in the repository"
                assert not _ignored(src, _dockerignore()), f"line {i.line}: {src} is excluded by .dockerignore"

    (entrypoint,) = [i for i in final if i.keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint.args) == ["farm"]  # exec form: signals reach farm, not a shell
    user = [i for i in final if i.keyword == "USER"][-1]
    assert user.args.split(":")[0] not in {"root", "0"}
    assert user.line > max(i.line for i in final if i.keyword == "RUN"), "a RUN after USER would run as that user"

    runs = " ; ".join(i.args for i in final if i.keyword == "RUN")
    assert re.search(r"pip install --no-deps \.(\s|$)", runs), "the project is installed from its source tree"
    assert not re.search(r"pip install[^;&]*\s(-e|--editable)\s", runs), "no editable install in an image"
    # Cache-friendly order: dependencies from pyproject.toml alone, the source copied afterwards.
    copies = [i for i in final if i.keyword == "COPY" and not i.args.startswith("--from")]
    dep_install = next(i for i in final if i.keyword == "RUN" and "requirements.txt" in i.args)
    assert copies[0].args.split()[0] == "pyproject.toml" and copies[0].line < dep_install.line
    assert all(c.line > dep_install.line for c in copies[1:])
    # Every ${VAR} a RUN uses is declared before it in the stage.
    declared: set[str] = set()
    for i in final:
        if i.keyword in {"ARG", "ENV"}:
            declared |= set(re.findall(r"(?:^|\s)([A-Z_][A-Z0-9_]*)=", i.args))
        if i.keyword == "RUN":
            for var in re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", i.args):
                assert var in declared, f"line {i.line}: ${{{var}}} used before ARG/ENV"


def test_cuda_image_installs_the_gpu_extra():
    runs = " ".join(i.args for i in _parsed("cuda") if i.keyword == "RUN")
    assert "['optional-dependencies']['gpu']" in runs
    assert PROJECT["optional-dependencies"]["gpu"], "pyproject.toml has a gpu extra"
    assert _parsed("cuda")[-1].keyword in {"CMD", "ENTRYPOINT"}
    assert any(i.keyword == "FROM" and i.args.startswith("nvidia/cuda:") and "runtime" in i.args
               for i in _parsed("cuda"))


def test_images_in_the_manifests_are_the_ones_the_dockerfiles_build():
    """Same Ray everywhere, same CPython down to the patch (Ray refuses a node or driver that differs), and the
    image names the deploy guide builds and pushes."""
    cpu, cuda = _parsed("cpu"), _parsed("cuda")
    ray_version = _arg_default(cpu, "RAY_VERSION")
    assert _arg_default(cuda, "RAY_VERSION") == ray_version
    (cpu_base,) = [i.args for i in cpu if i.keyword == "FROM"]
    python_patch = re.fullmatch(r"python:(3\.11\.\d+)-slim-bookworm", cpu_base).group(1)
    assert _arg_default(cuda, "PYTHON_VERSION") == python_patch
    guide = (DEPLOY / "README.md").read_text()
    for name in JOBS:
        job = _job(name)
        assert _cluster(job)["rayVersion"] == ray_version
        images = {k: c["image"] for k, c in _ray_containers(job).items()}
        images["submitter"] = job["spec"]["submitterPodTemplate"]["spec"]["containers"][0]["image"]
        repo, tag = images["head"].rsplit(":", 1)
        assert tag == PROJECT["version"]
        assert images["cpu"] == images["submitter"] == images["head"]
        assert images["gpu"] == f"{repo}:{tag}-cuda12"
        assert f"-f deploy/Dockerfile -t {images['head']}" in guide
        assert f"-f deploy/Dockerfile.cuda -t {images['gpu']}" in guide


def test_dockerignore_keeps_the_context_small_but_complete():
    patterns = _dockerignore()
    for needed in ("pyproject.toml", "README.md", "farm/cli.py", "kernels", "cluster/runtime.py",
                   "farm/profiles/distributor-ingest.toml"):
        assert not _ignored(needed, patterns), needed
    for dropped in (".git", "tests/test_deploy.py", ".venv", "farm/__pycache__/cli.cpython-311.pyc", "farm-demo"):
        assert _ignored(dropped, patterns), dropped


def test_deploy_guide_covers_build_submit_watch_resume():
    guide = (DEPLOY / "README.md").read_text()
    for needed in ("docker build", "docker push", "kubectl create secret", "kubectl apply -f deploy/kuberay/rayjob-qc.yaml",
                   "kubectl apply -f deploy/kuberay/rayjob-master.yaml", "kubectl get rayjob", "kubectl logs",
                   "port-forward", "--redo", "--gpu", "RAY_AUTH_TOKEN"):
        assert needed in guide, needed
