"""The recipe the Train widget offers ships in the wheel: build one, install it in a fresh
virtual environment, and load the recipe from there (not from this source tree)."""

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import json, sys
from pathlib import Path
import napari_evai2i
from napari_evai2i.plugin.training_run import default_config_path, recipe_steps
from napari_evai2i.train.config import list_recipes, load_train_config
recipe = default_config_path()
print(json.dumps({"package": napari_evai2i.__file__, "recipe": str(recipe), "recipes": list_recipes(),
                  "steps": recipe_steps(recipe), "lr": load_train_config("demo").lr,
                  "torch": "torch" in sys.modules}))
"""


def test_the_train_widgets_recipe_loads_from_an_installed_wheel(tmp_path):
    source = tmp_path / "src"                  # build from a copy: nothing is written into the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "napari_evai2i", source / "napari_evai2i",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", str(source),
                            "-w", str(wheels)], capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = wheels.glob("napari_evai2i-*.whl")

    venv = tmp_path / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # --system-site-packages reaches the base interpreter only; torch, yaml etc. live in this
    # environment, so the fresh one sees them through a path file (added after its own site).
    (site / "_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]

    run = tmp_path / "elsewhere"               # not the checkout: the repository is not on sys.path
    run.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    checked = subprocess.run([str(python), "-I", "-c", CHECK], capture_output=True, text=True, timeout=120,
                             cwd=run, env=env)
    assert checked.returncode == 0, checked.stderr[-2000:]
    result = json.loads(checked.stdout.strip().splitlines()[-1])
    assert Path(result["package"]).is_relative_to(site)
    assert Path(result["recipe"]).is_relative_to(site) and Path(result["recipe"]).name == "demo.yaml"
    assert {"demo", "paper"} <= set(result["recipes"])
    from napari_evai2i.plugin.training_run import recipe_steps
    from napari_evai2i.train.config import load_train_config, recipe_path

    assert result["steps"] == recipe_steps(recipe_path("demo"))          # the same file as in this tree
    assert result["lr"] == load_train_config("demo").lr and result["torch"] is False
