"""The shipped demo checkpoint: it loads offline and really translates T1w into T2w."""


from napari_evai2i.data.physics import PRESETS
from napari_evai2i.engine import load_model
from napari_evai2i.engine.translator import demo_checkpoint_path
from napari_evai2i.train.evaluate import (_normalized, _prompt, brain_metrics, histogram_matched,
                                          source_and_reference)


def test_demo_checkpoint_ships_in_the_package_within_budget():
    folder = demo_checkpoint_path()
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert (folder / "model.safetensors").is_file() and size <= 25e6
    translator = load_model("demo", "cpu")
    assert translator.trained and "UNTRAINED" not in translator.label


def test_demo_beats_identity_and_histogram_matching_on_a_fresh_subject():
    t1, t2 = source_and_reference(PRESETS["T1W"], PRESETS["T2W"], seed=4321, resolution_mm=2)
    translator = load_model("demo", "cpu")
    out = translator.translate(t1.image, _prompt(PRESETS["T2W"]), source_prompt=_prompt(PRESETS["T1W"]))
    target, source, mask = _normalized(t2.image), _normalized(t1.image), t1.mask
    model = brain_metrics(_normalized(out), target, mask)
    identity = brain_metrics(source, target, mask)
    matched = brain_metrics(histogram_matched(source, target, mask), target, mask)
    for baseline in (identity, matched):
        assert model["psnr"] > baseline["psnr"] + 2.0, (model, baseline)
        assert model["ssim"] > baseline["ssim"] + 0.1, (model, baseline)


def test_t2_prompts_training_sees_are_inside_the_sampled_range_and_outside_the_held_out_band():
    from napari_evai2i.train.evaluate import t2_prompt_seen_in_training

    assert [t2_prompt_seen_in_training(te) for te in (30, 39, 40, 45, 50, 60, 70, 75, 140, 150)] == [
        False, False, True, True, False, False, False, True, True, False]


def test_te_response_sets_the_translation_beside_the_truth_at_every_echo_time():
    from napari_evai2i.train.evaluate import TE_RESPONSE, TE_SWEEP, t2_prompt_seen_in_training, te_response, te_sweep

    report = te_response(load_model("demo", "cpu"), seed=1001, resolution_mm=2)
    points = report["points"]
    assert list(points) == [f"TE {te:g}" for te in TE_RESPONSE]
    truth = [p["truth"] for p in points.values()]
    assert all(b > a for a, b in zip(truth, truth[1:]))                     # physics: CSF brightens with TE
    assert [p["seen_in_training"] for p in points.values()] == [t2_prompt_seen_in_training(te) for te in TE_RESPONSE]
    seen = [p["translation"] for p in points.values() if p["seen_in_training"]]
    assert report["rises_over_seen_points"] == all(b > a for a, b in zip(seen, seen[1:]))
    assert all(p["translation"] > 0 for p in points.values())
    sweep = te_sweep(report)                                                 # the 4-point sweep, read off it
    ratios = [points[f"TE {te:g}"]["translation"] for te in TE_SWEEP]
    assert sweep == {**{f"TE {te:g}": r for te, r in zip(TE_SWEEP, ratios)},
                     "monotonic": all(b > a for a, b in zip(ratios, ratios[1:]))}
    # v8 (and v9) read the numbers by one smooth path: TE 60 ms (held out of training) lies between the TEs
    # training shows on either side (v7, whose text tower read TE as a step, drew it above TE 75 ms)
    assert points["TE 45"]["translation"] < points["TE 60"]["translation"] < points["TE 75"]["translation"]
    assert sweep["monotonic"]
