"""The widgets' jobs drained directly: no napari, no Qt (what scripts and workers share)."""

import threading

import numpy as np
from job_events import drain

from napari_evai2i.plugin.jobs import (ModelReady, PromptMix, SlicePreview, JobRequest, sweep_slice,
                                       translate_volume)

T2 = "A T2-weighted magnetic resonance imaging of the brain."
T1 = "A T1-weighted magnetic resonance imaging of the brain."


def test_translate_volume_yields_model_preview_then_batches(brain_like_volume):
    request = JobRequest(source=brain_like_volume[:5], target=T2, model="tiny-random", device="cpu",
                                 batch_size=2, axis=0, preview_index=3, reference=brain_like_volume[:5])
    events, outcome = drain(translate_volume(request))
    assert isinstance(events[0], ModelReady) and "UNTRAINED" in events[0].label
    assert isinstance(events[1], SlicePreview) and events[1].index == 3 and events[1].data.shape == (1, 40, 36)
    assert [(e.start, e.stop) for e in events[2:]] == [(0, 2), (2, 4), (4, 5)]
    assert outcome.translation.shape == (5, 40, 36) and outcome.difference.shape == (5, 40, 36)
    np.testing.assert_allclose(events[1].data[0], outcome.translation[3], rtol=1e-4, atol=1e-3)
    assert outcome.provenance["prompt"] == T2 and outcome.comparison.psnr > 0
    # The preview slice is marked like the volume: the same derived (synthetic) tags.
    assert events[1].tags == outcome.tags and outcome.tags["SeriesDescription"].startswith("SYNTHETIC")


def test_concurrent_jobs_share_the_cached_model_safely(brain_like_volume):
    """A live preview and a volume render at once (the prompt explorer does this)."""
    results, errors = [], []

    def work(target):
        try:
            request = JobRequest(source=brain_like_volume[:6], target=target, model="tiny-random",
                                         device="cpu", batch_size=1, preview_index=0)
            results.append(drain(translate_volume(request))[1])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in (T2, PromptMix(T1, T2, 0.5))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and len(results) == 2


def test_sweep_runs_from_a_to_b(brain_like_volume):
    request = JobRequest(source=brain_like_volume[:3], target=PromptMix(T1, T2, 0.0), model="tiny-random",
                                 device="cpu", preview_index=1)
    events, (stack, provenance) = drain(sweep_slice(request, 3))
    assert [e.done for e in events] == [1, 2, 3] and stack.shape == (3, 40, 36)
    assert provenance["synthetic"] is True and provenance["sweep_steps"] == 3 and provenance["preview_slice"] == 1
