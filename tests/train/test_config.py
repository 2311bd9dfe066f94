"""Training recipes: shipped recipes by name, one validator, learning rates resolved once."""

import os
import subprocess
from pathlib import Path

import pytest

from napari_evai2i.train.config import (OPTIMIZERS, TrainConfig, list_recipes, load_train_config, recipe_path,
                                        randomization_ranges, resolve_recipe)


def test_shipped_recipes_load_by_name_and_by_file():
    assert {"demo", "paper"} <= set(list_recipes())
    path = recipe_path("demo")
    assert path.name == "demo.yaml" and path.parent.name == "recipes"
    assert load_train_config("demo") == load_train_config(path)
    assert load_train_config("paper").model == "paper"


def test_a_name_that_is_neither_a_file_nor_a_recipe_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no shipped recipe of that name"):
        load_train_config("nosuchrecipe")
    with pytest.raises(ValueError, match="cannot read training config"):
        load_train_config(tmp_path / "missing.yaml")
    assert resolve_recipe(tmp_path / "x.yaml") == tmp_path / "x.yaml"


def test_bad_files_and_values_are_reported_with_their_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [1, 2\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_train_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="must be a mapping"):
        load_train_config(bad)
    with pytest.raises(ValueError, match="unknown training config keys: channels_last, eval_every"):
        load_train_config(None, ["eval_every=1", "channels_last=on"])      # options that did nothing
    with pytest.raises(ValueError, match="lr must be a number, not 'fast'"):
        load_train_config(None, ["lr=fast"])
    with pytest.raises(ValueError, match="gen_batch must be a whole number, not 'abc'"):
        load_train_config(None, ["gen_batch=abc"])              # was a TypeError from the < 1 check
    with pytest.raises(ValueError, match="gen_batch must be a whole number, not 2.5"):
        load_train_config(None, ["gen_batch=2.5"])
    assert load_train_config(None, ["gen_batch=2.0"]).gen_batch == 2


@pytest.mark.parametrize("key", ["log_every", "ckpt_every", "image_every", "eval_slices"])
def test_a_zero_period_is_refused_instead_of_dividing_by_zero_mid_training(key):
    with pytest.raises(ValueError, match=f"{key} must be at least 1, not 0"):
        load_train_config("demo", [f"{key}=0"])


def test_a_time_limit_must_be_positive():
    with pytest.raises(ValueError, match="max_minutes must be positive"):
        load_train_config("demo", ["max_minutes=-1"])
    assert load_train_config("demo", ["max_minutes=null"]).max_minutes is None


def test_yaml_1_1_quirks_are_converted():
    cfg = load_train_config(None, ["lr=8e-4", "clip_lr=5e-4", "betas=[0.9,0.99]", "amp=off", "grad_clip=null"])
    assert (cfg.lr, cfg.clip_lr, cfg.betas, cfg.amp, cfg.grad_clip) == (8e-4, 5e-4, (0.9, 0.99), "off", None)


def test_learning_rate_fallbacks_are_resolved_in_one_place():
    assert TrainConfig(lr=1e-3).learning_rates() == {"clip": 1e-3, "text": 1e-3, "gen": 1e-3, "disc": 1e-3}
    rates = TrainConfig(lr=1e-3, clip_lr=5e-4).learning_rates()
    assert rates == {"clip": 5e-4, "text": 5e-4, "gen": 1e-3, "disc": 1e-3}
    assert TrainConfig(lr=1e-3, clip_lr=5e-4, text_lr=2e-4).learning_rates()["text"] == 2e-4
    assert set(rates) == set(OPTIMIZERS)


def test_the_code_consistency_factor_is_a_recipe_key_with_the_official_default():
    assert TrainConfig().w_con_code == 10.0
    assert load_train_config(None, ["w_con_code=2"]).w_con_code == 2


def test_the_command_line_recipe_paths_of_the_source_tree_are_the_shipped_files():
    configs = Path(__file__).resolve().parents[2] / "src_training" / "configs"
    for name in ("demo", "paper"):
        assert (configs / f"{name}.yaml").resolve() == recipe_path(name).resolve()


def _items_with(tmp_path, key: str, value: float, flag: str, count: int = 6) -> int:
    """How many of the first ``count`` training items of a recipe with ``key=value`` have ``flag``."""
    from napari_evai2i.train.trainer import Trainer

    quick = [f"out={tmp_path}", "simulator=randomized", "crop_size=32", "device=cpu", "clip_steps=0",
             "init_steps=1", "finetune_steps=0"]
    dataset = Trainer(load_train_config(None, [*quick, f"{key}={value}"]))._dataset("init")
    return sum(bool(dataset[i][flag]) for i in range(count))


def test_brain_crops_are_a_recipe_key_that_reaches_the_training_data(tmp_path):
    assert load_train_config("demo").brain_crop == 0.0           # the shipped v2 recipe trains no crops
    with pytest.raises(ValueError, match="brain_crop is a probability"):
        load_train_config(None, ["brain_crop=1.5"])
    assert _items_with(tmp_path, "brain_crop", 0.0, "brain_crop") == 0
    assert _items_with(tmp_path, "brain_crop", 1.0, "brain_crop") >= 3


def test_the_lesion_share_is_a_recipe_key_that_reaches_the_training_data(tmp_path):
    assert load_train_config("demo").lesion_probability is None       # the generator's own share
    with pytest.raises(ValueError, match="lesion_probability is a probability"):
        load_train_config(None, ["lesion_probability=2"])
    for key in ("lesion_probability=0.5", "w_lesion_value=1"):      # the template simulator has no lesions
        with pytest.raises(ValueError, match="needs data: simulator with simulator: randomized"):
            load_train_config(None, [key, "simulator=template"])
    assert _items_with(tmp_path, "lesion_probability", 0.0, "has_lesions") == 0
    assert _items_with(tmp_path, "lesion_probability", 1.0, "has_lesions") == 6


def test_the_v3_record_is_the_demo_recipe_with_its_three_levers():
    record = Path(__file__).resolve().parents[2] / "docs" / "results" / "demo_v3_train_config.yaml"
    v3, demo = load_train_config(record).to_dict(), load_train_config("demo").to_dict()
    changed = {k for k in demo if v3[k] != demo[k]} - {"name", "out"}
    assert changed == {"brain_crop", "w_lesion", "init_steps"}          # docs/training.md says so


def test_a_recipe_with_a_base_lists_only_what_it_changes(tmp_path):
    variant = tmp_path / "variant.yaml"
    variant.write_text("base: demo\nname: variant\ngen_batch: 24\n")
    cfg, demo = load_train_config(variant).to_dict(), load_train_config("demo").to_dict()
    assert {k for k in demo if cfg[k] != demo[k]} == {"name", "gen_batch"} and cfg["gen_batch"] == 24
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.yaml"                    # a file base is found beside the recipe
    child.write_text("base: ../variant.yaml\nlr: 3.0e-4\n")
    assert load_train_config(child, ["gen_batch=4"]).to_dict() == {**cfg, "lr": 3.0e-4, "gen_batch": 4}
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ValueError, match="cycle"):
        load_train_config(loop)


def test_the_gpu_recipes_change_only_the_scale_of_the_demo_recipe():
    """docs/training.md: demo_gpu is demo with the GPU's batch, steps and workers; its small
    variant changes the architecture alone."""
    gpu, demo = load_train_config("demo_gpu").to_dict(), load_train_config("demo").to_dict()
    scale = {"device", "amp", "num_workers", "clip_steps", "init_steps", "finetune_steps", "gen_batch",
             "curriculum_steps", "log_every", "ckpt_every", "image_every", "max_minutes", "warmup_steps",
             "init_from"}
    assert {k for k in demo if gpu[k] != demo[k]} - {"name", "out"} <= scale
    small = load_train_config(Path(__file__).resolve().parents[2] / "src_training" / "configs"
                              / "demo_gpu_small.yaml").to_dict()
    assert {k for k in gpu if small[k] != gpu[k]} == {"name", "out", "model"}


def test_the_gpu_recipe_is_what_trained_the_shipped_demo():
    """demo_gpu.yaml differs from the run's own record (docs/results) only where the run had to:
    its output folder, v2's weights then being the shipped folder, and half the workers."""
    record = Path(__file__).resolve().parents[2] / "docs" / "results" / "demo_v4_train_config.yaml"
    ran, recipe = load_train_config(record).to_dict(), load_train_config("demo_gpu").to_dict()
    assert {k for k in recipe if ran[k] != recipe[k]} == {"out", "init_from", "num_workers"}
    assert ran["init_from"] == "napari_evai2i/weights/demo" and recipe["init_from"] == "runs/demo_v2"


def test_the_cpu_crops_experiment_is_demo_continued_with_crops_and_its_record_matches():
    """src_training/configs/demo_cpu_crops.yaml (model history, "Tried after v4"): demo's data and
    losses from v4's weights with brain crops; docs/results holds the run's own record of it."""
    root = Path(__file__).resolve().parents[2]
    crops = load_train_config(root / "src_training" / "configs" / "demo_cpu_crops.yaml").to_dict()
    demo = load_train_config("demo").to_dict()
    assert {k for k in demo if crops[k] != demo[k]} == {
        "name", "out", "seed", "device", "init_from", "brain_crop", "clip_steps", "init_steps", "finetune_steps",
        "curriculum_steps", "lr", "warmup_steps", "max_minutes"}
    assert crops["init_from"] == "napari_evai2i/weights/demo" and crops["brain_crop"] == 0.15
    ran = load_train_config(root / "docs" / "results" / "demo_cpu_crops_train_config.yaml").to_dict()
    assert ran == crops


def test_the_lesion_class_experiments_match_their_records_and_change_only_the_lesion_keys():
    """src_training/configs/demo_*_lesion_*.yaml (model history, "Tried after v4"): the CPU runs'
    own records in docs/results are their recipes, and the prepared GPU recipe is demo_gpu from
    v4 with the 5-class model and the lesion keys, nothing else."""
    root = Path(__file__).resolve().parents[2]
    configs, results = root / "src_training" / "configs", root / "docs" / "results"
    for run in ("demo_cpu_lesion_class", "demo_cpu_lesion_weighted", "demo_cpu_lesion_value",
                "demo_cpu_lesion_value_one_sided", "demo_cpu_lesion_value_short"):
        recipe = load_train_config(configs / f"{run}.yaml").to_dict()
        assert load_train_config(results / f"{run}_train_config.yaml").to_dict() == recipe
        assert recipe["model"] == "src_training/configs/tiny_lesion_class.json"
    gpu = load_train_config(configs / "demo_gpu_lesion_class.yaml").to_dict()
    demo_gpu = load_train_config("demo_gpu").to_dict()
    assert {k for k in demo_gpu if gpu[k] != demo_gpu[k]} == {
        "name", "out", "seed", "model", "init_from", "lesion_probability", "w_lesion", "w_lesion_tissue",
        "w_lesion_value"}
    assert gpu["init_from"] == "napari_evai2i/weights/demo"


def test_the_shape_experiments_match_their_record_and_change_only_the_shape_share():
    """demo_cpu_shapes.yaml (model history, "Tried after v4"): the CPU crops run's schedule from
    v4 with shape items in place of crops, its record in docs/results; the prepared GPU recipe is
    demo_gpu from v4 with the same share, nothing else."""
    root = Path(__file__).resolve().parents[2]
    configs, results = root / "src_training" / "configs", root / "docs" / "results"
    cpu = load_train_config(configs / "demo_cpu_shapes.yaml").to_dict()
    assert load_train_config(results / "demo_cpu_shapes_train_config.yaml").to_dict() == cpu
    crops = load_train_config(configs / "demo_cpu_crops.yaml").to_dict()
    assert {k for k in crops if cpu[k] != crops[k]} == {"name", "out", "seed", "brain_crop", "shapes", "init_steps"}
    assert cpu["shapes"] == 0.2 and cpu["brain_crop"] == 0.0
    keep = load_train_config(configs / "demo_cpu_shapes_keep.yaml").to_dict()
    assert load_train_config(results / "demo_cpu_shapes_keep_train_config.yaml").to_dict() == keep
    assert {k for k in cpu if keep[k] != cpu[k]} == {"name", "out", "w_keep"} and keep["w_keep"] == 10.0
    half = load_train_config(configs / "demo_cpu_shapes_half.yaml").to_dict()
    assert load_train_config(results / "demo_cpu_shapes_half_train_config.yaml").to_dict() == half
    assert {k for k in keep if half[k] != keep[k]} == {"name", "out", "shapes", "init_steps"} and half["shapes"] == 0.5
    gpu = load_train_config(configs / "demo_gpu_shapes.yaml").to_dict()
    demo_gpu = load_train_config("demo_gpu").to_dict()
    assert {k for k in demo_gpu if gpu[k] != demo_gpu[k]} == {"name", "out", "seed", "init_from", "shapes"}
    assert gpu["shapes"] == cpu["shapes"] and gpu["init_from"] == "napari_evai2i/weights/demo"


def test_the_shape_share_is_a_recipe_key_that_reaches_the_training_data(tmp_path):
    assert load_train_config("demo").shapes == 0.0
    with pytest.raises(ValueError, match="shapes is a probability"):
        load_train_config(None, ["shapes=1.5"])
    assert _items_with(tmp_path, "shapes", 0.0, "shapes") == 0
    assert _items_with(tmp_path, "shapes", 1.0, "shapes") == 6


def test_the_random_contrast_share_is_a_recipe_key_that_reaches_the_training_data(tmp_path):
    assert load_train_config("demo").random_contrast is None            # the generator's own share, 0.5
    with pytest.raises(ValueError, match="random_contrast is a probability"):
        load_train_config(None, ["random_contrast=-0.1"])
    with pytest.raises(ValueError, match="random_contrast needs data: simulator"):
        load_train_config(None, ["random_contrast=0", "simulator=template"])
    assert _items_with(tmp_path, "random_contrast", 0.0, "random_contrast", count=20) == 0
    assert _items_with(tmp_path, "random_contrast", 1.0, "random_contrast", count=20) >= 3


def test_the_physical_sources_experiment_matches_its_record_and_changes_only_the_random_contrast_share():
    """demo_cpu_physical_sources.yaml (model history, "Tried after v4"): the shape run's schedule with
    no shape items and no random-contrast sources; its record in docs/results is its recipe."""
    root = Path(__file__).resolve().parents[2]
    configs, results = root / "src_training" / "configs", root / "docs" / "results"
    physical = load_train_config(configs / "demo_cpu_physical_sources.yaml").to_dict()
    assert load_train_config(results / "demo_cpu_physical_sources_train_config.yaml").to_dict() == physical
    shapes = load_train_config(configs / "demo_cpu_shapes.yaml").to_dict()
    assert {k for k in shapes if physical[k] != shapes[k]} == {
        "name", "out", "seed", "shapes", "random_contrast", "max_minutes"}
    assert physical["random_contrast"] == 0.0 and physical["shapes"] == 0.0


def test_any_other_range_of_the_generator_is_a_recipe_key_that_reaches_the_training_data(tmp_path):
    """``randomization`` sets the generator's other ranges by name (the ablation arms' one change each)."""
    assert load_train_config("demo").randomization == {}
    assert _items_with(tmp_path, "randomization", "{whole_head: 1}", "whole_head") == 6
    assert _items_with(tmp_path, "randomization", "{whole_head: 0}", "whole_head") == 0
    assert _items_with(tmp_path, "randomization", "{unknown_source: 1}", "src_known") == 0
    assert _items_with(tmp_path, "randomization", "{unknown_source: 0}", "src_known") == 6
    for bad, message in (("{whole_hed: 0}", "unknown randomization keys: whole_hed"),
                         ("{unknown_source: 1.5}", "unknown_source is a probability"),
                         ("{random_contrast: 0}", "set them with their own recipe keys"),
                         ("[0.5]", "randomization must be a mapping")):
        with pytest.raises(ValueError, match=message):
            load_train_config("demo", [f"randomization={bad}"])
    with pytest.raises(ValueError, match="randomization needs data: simulator"):
        load_train_config(None, ["randomization={whole_head: 0}", "simulator=template"])


def test_the_fixed_levels_experiment_changes_only_the_sources_gamma_and_gain():
    """demo_cpu_fixed_levels.yaml (model history, "Tried after v4"): the physical-sources run's
    schedule from v4 with random-contrast sources back and no gamma or gain on the sources."""
    root = Path(__file__).resolve().parents[2]
    configs = root / "src_training" / "configs"
    fixed = load_train_config(configs / "demo_cpu_fixed_levels.yaml")
    physical = load_train_config(configs / "demo_cpu_physical_sources.yaml").to_dict()
    assert {k for k, v in fixed.to_dict().items() if physical[k] != v} == {
        "name", "out", "seed", "random_contrast", "randomization"}
    ranges = randomization_ranges(fixed)
    assert ranges.gamma_std == 0.0 and ranges.gain == (1.0, 1.0) and ranges.random_contrast == 0.5


def test_every_ablation_arm_is_a_recipe_that_loads():
    """src_training/launch/ablation_arms.sh: each arm's overrides, as the script itself lists them
    (``LIST_ARMS=1``), load on the demo recipe, so a misspelt range fails here and not 15 minutes
    into a run."""
    script = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "ablation_arms.sh"
    listing = subprocess.run(["bash", str(script)], env={**os.environ, "LIST_ARMS": "1"}, capture_output=True,
                             text=True, check=True).stdout
    arms = {name: overrides for name, *overrides in (line.split("\t") for line in listing.splitlines())}
    assert {"template", "randomized", "template_like", "clean_sources", "mild_geometry"} <= set(arms)
    for overrides in arms.values():
        cfg = load_train_config("demo", overrides)
        if cfg.simulator == "randomized":
            randomization_ranges(cfg)
    like = randomization_ranges(load_train_config("demo", arms["template_like"]))
    assert (like.whole_head, like.lesion_probability, like.random_contrast, like.unknown_source) == (0, 0, 0, 0)


def test_the_gpu_lease_arms_match_their_records_and_differ_only_in_the_canvas():
    """demo_gpu_v5*.yaml (model history, "Tried after v5"): the recipes are what ran on the H100, the
    two arms differ in the canvas and its batch alone, and the mixed-canvas CPU recipe keeps the
    last CPU stage's data."""
    root = Path(__file__).resolve().parents[2]
    configs, results = root / "src_training" / "configs", root / "docs" / "results" / "gpu_lease_2026-12-06"
    small, large = (load_train_config(configs / f"{name}.yaml").to_dict()
                    for name in ("demo_gpu_v5", "demo_gpu_v5_canvas192"))
    assert load_train_config(results / "demo_gpu_v5_train_config.yaml").to_dict() == small
    assert load_train_config(results / "demo_gpu_v5_canvas192_train_config.yaml").to_dict() == large
    assert {k for k in small if small[k] != large[k]} == {"name", "out", "crop_size", "gen_batch"}
    assert (large["crop_size"], large["gen_batch"]) == (192, 24)
    mixed = load_train_config(configs / "demo_cpu_v5_mixed_canvas.yaml")
    coarse = load_train_config(configs / "demo_cpu_plain_sources_coarse.yaml")
    assert mixed.randomization == coarse.randomization and mixed.crop_size == 128
    assert (mixed.large_canvas_size, mixed.large_canvas_every) == (192, 2)
    ran = load_train_config(root / "docs" / "results" / "mixed_canvas_2026-12-06"
                            / "demo_cpu_v5_mixed_canvas_train_config.yaml")
    assert ran.to_dict() == mixed.to_dict()
    prepared = load_train_config(configs / "demo_gpu_v5_mixed_canvas.yaml").to_dict()
    assert {k for k in small if small[k] != prepared[k]} == {"name", "out", "seed", "large_canvas_size"}
    crops = load_train_config(configs / "demo_cpu_v5_crop_levels.yaml")
    assert {k: v for k, v in crops.randomization.items() if k != "crop_levels_from_crop"} == coarse.randomization
    assert randomization_ranges(crops).crop_levels_from_crop and crops.brain_crop == 0.2


def test_the_v5_control_is_the_last_cpu_stage_continued_with_nothing_changed():
    """demo_cpu_v5_control.yaml: the control of the follow-ups after v5 keeps the last CPU stage's
    data and schedule, and differs from the crop-level run only in what that run changed."""
    configs = Path(__file__).resolve().parents[2] / "src_training" / "configs"
    control, coarse, crops = (load_train_config(configs / f"{name}.yaml").to_dict() for name in
                              ("demo_cpu_v5_control", "demo_cpu_plain_sources_coarse", "demo_cpu_v5_crop_levels"))
    assert {k for k in control if control[k] != coarse[k]} == {"name", "out", "seed", "init_from", "init_steps",
                                                              "max_minutes"}
    assert {k for k in control if control[k] != crops[k]} == {"name", "out", "seed", "init_from", "brain_crop",
                                                             "randomization"}
    assert control["init_from"] == "runs/demo_v5" and control["large_canvas_size"] == 0
    ran = load_train_config(configs.parents[1] / "docs" / "results" / "v5_control_2026-12-06"
                            / "demo_cpu_v5_control_train_config.yaml")
    assert ran.to_dict() == control                                 # the record is what ran


def test_the_mixed_canvas_rerun_differs_from_the_recorded_run_only_in_its_start():
    """demo_cpu_v5_mixed_canvas_mean.yaml reruns the recorded mixed-canvas recipe from v5 as shipped."""
    configs = Path(__file__).resolve().parents[2] / "src_training" / "configs"
    rerun, recorded = (load_train_config(configs / f"{name}.yaml").to_dict() for name in
                       ("demo_cpu_v5_mixed_canvas_mean", "demo_cpu_v5_mixed_canvas"))
    assert {k for k in rerun if rerun[k] != recorded[k]} == {"name", "out", "init_from"}
    assert rerun["init_from"] == "runs/demo_v5"


def test_the_adversarial_run_is_stage_6_in_the_finetune_stage_from_v6_and_its_record_matches():
    """demo_cpu_v6_adversarial.yaml: stage 6's data and losses from v6, with the generator steps moved
    to the finetune stage (the adversary on); the tissue-mixture pilots change one thing each."""
    configs = Path(__file__).resolve().parents[2] / "src_training" / "configs"
    stage6, run = (load_train_config(configs / f"{name}.yaml").to_dict() for name in
                   ("demo_cpu_v5_mixed_canvas_mean", "demo_cpu_v6_adversarial"))
    assert {k for k in run if run[k] != stage6[k]} == {"name", "out", "seed", "init_from", "init_steps",
                                                      "finetune_steps"}
    assert (run["init_from"], run["init_steps"], run["finetune_steps"]) == ("runs/demo_v6", 0, 1000)
    assert run["w_adv"] > 0
    ran = load_train_config(configs.parents[1] / "docs" / "results" / "v6_mixture_2026-12-06"
                            / "demo_cpu_v6_adversarial_train_config.yaml")
    assert ran.to_dict() == run                                     # the record is what ran
    control = load_train_config(configs / "pilots_v6_contrast" / "control.yaml").to_dict()
    for pilot, changed in (("tissue5", {"w_tissue"}), ("adversarial", {"init_steps", "finetune_steps"})):
        other = load_train_config(configs / "pilots_v6_mixture" / f"{pilot}.yaml").to_dict()
        assert {k for k in other if other[k] != control[k]} == {"name", "out"} | changed


def test_the_flair_ti_pilots_and_the_prompt_numbers_run_change_what_their_headers_say():
    """pilots_v6_flair_ti/: each pilot adds one change to the one before it (the first to the
    control pilot); demo_cpu_v6_prompt_numbers.yaml is the last pilot, longer, on its own data."""
    configs = Path(__file__).resolve().parents[2] / "src_training" / "configs"
    chain = [("pilots_v6_contrast/control", None), ("pilots_v6_flair_ti/ti_range", {"protocol_ranges"}),
             ("pilots_v6_flair_ti/prompt_contrast", {"w_prompt_contrast"}),
             ("pilots_v6_flair_ti/prompt_contrast_text_lr", {"text_lr"})]
    loaded = {name: load_train_config(configs / f"{name}.yaml").to_dict() for name, _ in chain}
    for (before, _), (name, changed) in zip(chain, chain[1:]):
        assert {k for k in loaded[name] if loaded[name][k] != loaded[before][k]} == {"name", "out"} | changed
    numbers = load_train_config(configs / "pilots_v6_flair_ti" / "prompt_numbers.yaml").to_dict()
    before = loaded["pilots_v6_flair_ti/prompt_contrast"]
    assert {k for k in numbers if numbers[k] != before[k]} == {"name", "out", "model"}
    from napari_evai2i.model import load_config

    assert load_config(configs.parents[1] / numbers["model"]).generator.prompt_numbers
    run = load_train_config(configs / "demo_cpu_v6_prompt_numbers.yaml").to_dict()
    assert {k for k in run if run[k] != numbers[k]} == {"name", "out", "seed", "init_steps", "warmup_steps",
                                                        "max_minutes"}
    assert (run["init_from"], run["init_steps"], run["protocol_ranges"]) == (
        "runs/demo_v6", 1200, {"FLAIR": {"ti_factor_of_csf_null": [0.88, 1.3]}})
    ran = load_train_config(configs.parents[1] / "docs" / "results" / "v6_flair_ti_2026-12-07"
                            / "demo_cpu_v6_prompt_numbers_train_config.yaml")
    assert ran.to_dict() == run                                     # the record is what ran


def test_the_numbers_only_pilots_and_the_ti_only_run_change_what_their_headers_say():
    """After prompt_numbers.yaml: only the number map trains (numbers_only), then without the
    prompt-contrast term (numbers_only_plain), then a map of TI alone (ti_only); the run
    demo_cpu_v6_ti_only.yaml is the last, longer, on its own data."""
    import dataclasses

    from napari_evai2i.model import load_config

    configs = Path(__file__).resolve().parents[2] / "src_training" / "configs"
    chain = [("pilots_v6_flair_ti/prompt_numbers", None),
             ("pilots_v6_flair_ti/numbers_only", {"train_only", "tune_text", "lr"}),
             ("pilots_v6_flair_ti/numbers_only_plain", {"w_prompt_contrast"}),
             ("pilots_v6_flair_ti/ti_only", {"model"}),
             ("demo_cpu_v6_ti_only", {"seed", "init_steps", "warmup_steps", "max_minutes"})]
    loaded = {name: load_train_config(configs / f"{name}.yaml").to_dict() for name, _ in chain}
    for (before, _), (name, changed) in zip(chain, chain[1:]):
        assert {k for k in loaded[name] if loaded[name][k] != loaded[before][k]} == {"name", "out"} | changed
    run = loaded["demo_cpu_v6_ti_only"]
    assert (run["train_only"], run["tune_text"], run["w_prompt_contrast"], run["init_steps"]) == (
        ["prompt_numbers"], False, 0.0, 1200)
    numbers, ti = (load_config(configs.parents[1] / loaded[name]["model"]).generator
                   for name in ("pilots_v6_flair_ti/prompt_numbers", "demo_cpu_v6_ti_only"))
    assert ti.prompt_number_quantities == ("inversion_time",)
    assert dataclasses.replace(ti, prompt_number_quantities=numbers.prompt_number_quantities) == numbers
    ran = load_train_config(configs.parents[1] / "docs" / "results" / "v7_2026-12-07"
                            / "demo_cpu_v6_ti_only_train_config.yaml")
    assert ran.to_dict() == run                                     # the record is what ran (v7)


def test_the_v7_pilots_change_what_their_headers_say():
    import dataclasses

    from napari_evai2i.model import load_config

    configs = Path(__file__).resolve().parents[2] / "src_training" / "configs"
    ti, te = (load_train_config(configs / f"{name}.yaml").to_dict()
              for name in ("pilots_v6_flair_ti/ti_only", "pilots_v7_te/te_map"))
    assert {k for k in te if te[k] != ti[k]} == {"name", "out", "init_from", "model", "seed"}
    assert te["init_from"] == "runs/demo_v7/model_fp16" and te["train_only"] == ["prompt_numbers"]
    ti_model, te_model, apart = (load_config(configs / f"{name}.json").generator
                                 for name in ("tiny_prompt_ti", "tiny_prompt_ti_te", "tiny_prompt_apart"))
    assert te_model.prompt_number_quantities == ("inversion_time", "echo_time")
    assert dataclasses.replace(te_model, prompt_number_quantities=ti_model.prompt_number_quantities) == ti_model
    assert apart.prompt_numbers_apart and set(apart.prompt_number_quantities) == {
        "repetition_time", "echo_time", "inversion_time", "flip_angle"}
    assert dataclasses.replace(apart, prompt_numbers_apart=False,
                               prompt_number_quantities=ti_model.prompt_number_quantities) == ti_model
