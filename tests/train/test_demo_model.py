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
