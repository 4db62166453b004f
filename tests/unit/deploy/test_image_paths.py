"""Every path a container of the project's image writes exists in the image and belongs
to its runtime user, read from the Dockerfile and docker-compose.yml.

This is the check that would have caught the trainer's PermissionError: a named volume
mounted where the image has nothing starts as a root-owned empty directory, while a
volume mounted on a directory the image created and chowned starts as a copy of it,
owner included (what the apache/kafka image does for its data directory).
"""

from __future__ import annotations

import ast
import posixpath
import shlex

from tests.support.deploy_files import ROOT, Dockerfile, app_services, compose, dockerfile

# Options of our commands (and JupyterLab's) whose value is a directory the process writes.
WRITE_OPTIONS = ("--out", "--tensorboard-dir", "--ServerApp.root_dir")
TRAINER_DEFAULT_OUT = "artifacts"  # trainer/cli.py: --out default, relative to the working dir


def _option_values(command: list[str]) -> list[str]:
    found = []
    for i, word in enumerate(command):
        for opt in WRITE_OPTIONS:
            if word == opt and i + 1 < len(command):
                found.append(command[i + 1])
            elif word.startswith(opt + "="):
                found.append(word.split("=", 1)[1])
    return found


def written_paths(name: str, svc: dict, df: Dockerfile) -> list[tuple[str, str]]:
    """(path, why) for everything this service's container writes."""
    workdir = svc.get("working_dir", df.workdir)
    user = svc.get("user", df.user)
    command = svc.get("command") or []
    command = shlex.split(command) if isinstance(command, str) else list(command)
    paths = [(df.home.get(user, f"~{user}"), "the runtime user's home (TensorFlow, matplotlib, Jupyter caches)")]
    for volume in svc.get("volumes", []):
        parts = volume.split(":") if isinstance(volume, str) else [volume["source"], volume["target"]]
        if len(parts) >= 2 and "ro" not in parts[2:]:
            paths.append((parts[1], f"volume {parts[0]}"))
    for value in _option_values(command):
        paths.append((value, "a command-line output directory"))
    if command[:1] == ["train"] and "--out" not in command:
        paths.append((TRAINER_DEFAULT_OUT, "the trainer's default --out"))
    return [(posixpath.normpath(posixpath.join(workdir, p)), why) for p, why in paths]


def unwritable(spec: dict, df: Dockerfile) -> list[str]:
    problems = []
    for name, svc in app_services(spec).items():
        user = svc.get("user", df.user)
        owned = {d for d, owner in df.owned.items() if owner == user}
        if user in df.home:
            owned.add(df.home[user])
        for path, why in written_paths(name, svc, df):
            if not any(path == d or path.startswith(d.rstrip("/") + "/") for d in owned):
                problems.append(f"{name}: {path} ({why}) is not created for user {user} in the Dockerfile")
    return problems


def test_the_image_runs_as_a_user_of_its_own():
    df = dockerfile()
    assert df.user not in ("root", "0", "")
    assert df.user in df.home, "the runtime user needs a home directory (useradd --create-home)"


def test_every_written_path_belongs_to_the_runtime_user():
    assert unwritable(compose(), dockerfile()) == []


def test_the_check_finds_a_volume_the_image_does_not_prepare():
    # The review's finding: /artifacts mounted as a named volume, absent from the image.
    df = dockerfile()
    df.owned.pop("/artifacts", None)
    problems = unwritable(compose(), df)
    assert any(p.startswith("trainer: /artifacts (volume artifacts)") for p in problems), problems


def test_the_check_reads_command_line_output_directories():
    spec = compose()
    spec["services"]["trainer"]["volumes"] = []
    spec["services"]["trainer"]["command"] = ["train", "--out=/data/models"]
    assert any("/data/models (a command-line output directory)" in p for p in unwritable(spec, dockerfile()))
    spec["services"]["trainer"]["command"] = ["train"]
    assert any("/app/artifacts (the trainer's default --out)" in p for p in unwritable(spec, dockerfile()))


def test_dependencies_come_before_the_code_in_the_image():
    """A code edit must not reinstall TensorFlow: the locked dependencies are installed
    from a layer that copies nothing but the lock."""
    df = dockerfile()
    first_code = next(i for i, c in enumerate(df.copies) if c[0] in ("fraudstream", "producers", "."))
    lock_copy = next(i for i, c in enumerate(df.copies) if c[0] == "requirements/image.lock")
    assert lock_copy < first_code
    installs = [r for r in df.runs if "pip install" in r]
    assert "-r requirements/image.lock" in installs[0]
    assert "--no-deps" in installs[1], "the project itself is installed without resolving anything again"


def test_the_image_copies_what_pip_install_needs():
    """setup.py maps the service folders into the fraudstream namespace: without it (or
    one of the folders) the image's `fraudstream` would lack its sub-commands."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    package_dirs = next(ast.literal_eval(node.value) for node in tree.body
                        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PACKAGE_DIRS")
    copied = {src for c in dockerfile().copies for src in c[:-1]}
    for needed in ("pyproject.toml", "setup.py", *package_dirs.values()):
        assert needed in copied, f"the Dockerfile does not copy {needed}"
