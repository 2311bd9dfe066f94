"""The Translate widget under stress, driven like a user: a dask-backed layer, a volume too big
for memory, Cancel and closing the viewer mid-job (no layer, no thread left), and an engine
warning (a CT given to the MR-only demo) in the status line.

Every choice is a real click or key press (``user_actions``); the dask arrays are real dask
graphs whose block function records which blocks were computed, in which thread.
"""

import re
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from job_events import drain
from qtpy.QtCore import QThread, QThreadPool
from user_actions import TIMEOUT_MS, choose, click, dock, run_by_click, type_number

from napari_evai2i.plugin.jobs import translate_volume
from napari_evai2i.plugin.layers import PROVENANCE_KEY, RESULT_KEY

pytestmark = pytest.mark.gui

CHUNKS = (4, 64, 64)


def results(viewer, role):
    return [layer for layer in viewer.layers if (layer.metadata.get(RESULT_KEY) or {}).get("role") == role]


def head(shape=(24, 64, 64)):
    """An ellipsoid 'head' with some texture, int16 scanner units."""
    z, y, x = np.mgrid[tuple(slice(0, n) for n in shape)].astype(np.float32)
    c = [(n - 1) / 2 for n in shape]
    inside = sum(((g - m) / (0.45 * n)) ** 2 for g, m, n in zip((z, y, x), c, shape)) <= 1
    return np.where(inside, 800 + 150 * np.sin(x / 3) * np.cos(y / 5), 0).astype(np.int16)


#: Qt's name for the threads of a QThreadPool, where napari's thread workers run.
POOLED = "Thread (pooled)"


class BlockLog:
    """A dask block function that records (Qt thread name, chunk location, voxels) of every
    block computed; ``delay`` seconds per block stand for a slow disk."""

    def __init__(self, delay=0.0):
        self.calls = []
        self.delay = delay

    def __call__(self, block, block_info=None):
        self.calls.append((QThread.currentThread().objectName(), block_info[0]["chunk-location"], block.size))
        time.sleep(self.delay)
        return block.copy()

    def in_jobs(self):
        """Blocks computed in a thread worker (napari's own drawing reads the displayed slice elsewhere)."""
        return [call for call in self.calls if call[0] == POOLED]


def lazy(volume, log):
    import dask.array as da

    return da.from_array(volume, chunks=CHUNKS).map_blocks(log, dtype=volume.dtype, meta=np.empty((0, 0, 0),
                                                                                                  volume.dtype))


def statuses(widget):
    seen = []
    widget.status_said.connect(seen.append)
    return seen


def pool_idle():
    return QThreadPool.globalInstance().activeThreadCount() == 0


def live_threads():
    return {t.ident for t in threading.enumerate() if t.is_alive() and not isinstance(t, threading._DummyThread)}


def test_dask_layer_is_read_block_by_block_and_matches_numpy(make_napari_viewer, qtbot):
    volume = head()
    log = BlockLog()
    viewer = make_napari_viewer()
    viewer.add_image(lazy(volume, log), name="lazy head", contrast_limits=(0, 1000))
    widget = dock(viewer, qtbot, "Translate")
    choose(qtbot, widget.source, "lazy head")
    choose(qtbot, widget.prompt.known, "T2W")
    threads_before = live_threads()
    log.calls.clear()
    seen = statuses(widget)

    assert run_by_click(qtbot, widget) == "done"

    # The job read each of the 6 blocks exactly once, one block (4 x 64 x 64) at a time, in its own thread.
    job_calls = log.in_jobs()
    assert sorted(call[1] for call in job_calls) == [(i, 0, 0) for i in range(6)]
    assert max(call[2] for call in job_calls) == np.prod(CHUNKS)
    reading = next(text for text in seen if text.startswith("Reading 'lazy head'"))
    assert "a dask array" in reading and "block by block (6 blocks)" in reading
    assert "the intensity scale and the other planes need every voxel" in reading and "available" in reading
    assert any(text.startswith("Read 6 of 6 blocks of 'lazy head'") for text in seen)

    # Same result as translating the numpy volume with the same request.
    (translation,) = results(viewer, "translation")
    assert isinstance(translation.data, np.ndarray) and translation.data.dtype == np.float32
    _, expected = drain(translate_volume(replace(widget._run.request, source=volume)))
    np.testing.assert_array_equal(translation.data, expected.translation)
    assert translation.metadata[PROVENANCE_KEY]["planes"]["axes"] == expected.provenance["planes"]["axes"]

    # Dask ran in the job's thread (synchronous scheduler): no pool of its own is left behind.
    qtbot.waitUntil(pool_idle, timeout=10_000)
    assert live_threads() <= threads_before


def test_dask_layer_too_big_for_memory_is_refused_before_reading(make_napari_viewer, qtbot):
    import dask.array as da

    log = BlockLog()
    huge = da.zeros((100_000, 512, 512), chunks=(1, 512, 512), dtype=np.float32).map_blocks(
        log, dtype=np.float32, meta=np.empty((0, 0, 0), np.float32))        # 98 GiB declared
    viewer = make_napari_viewer()
    viewer.add_image(huge, name="huge", contrast_limits=(0, 1))
    widget = dock(viewer, qtbot, "Translate")
    choose(qtbot, widget.source, "huge")
    choose(qtbot, widget.prompt.known, "T2W")
    log.calls.clear()
    layers_before = len(viewer.layers)

    click(qtbot, widget.run_button)

    status = widget.status.value
    assert widget.worker is None and status.startswith("Cannot run: translating 'huge' (100000x512x512) needs about")
    assert "97.7 GiB to read the dask array whole" in status and "GiB is available" in status
    assert "Choose one plane and no uncertainty passes" in status
    assert not log.in_jobs(), "nothing may be read before the refusal"
    assert len(viewer.layers) == layers_before


def test_cancel_while_reading_a_dask_layer_reads_no_more_and_leaves_nothing(make_napari_viewer, qtbot):
    volume = head((48, 64, 64))
    log = BlockLog(delay=0.1)
    viewer = make_napari_viewer()
    viewer.add_image(lazy(volume, log), name="lazy head", contrast_limits=(0, 1000))
    widget = dock(viewer, qtbot, "Translate")
    choose(qtbot, widget.source, "lazy head")
    log.calls.clear()
    widget.status_said.connect(
        lambda text: click(qtbot, widget.run_button) if text.startswith("Read 2 of 12 blocks") else None)

    assert run_by_click(qtbot, widget) == "cancelled"

    assert 2 <= len(log.in_jobs()) < 12
    assert not results(viewer, "translation") and not results(viewer, "preview")
    assert widget.status.value.startswith("Cancelled after 0 of ")
    qtbot.waitUntil(pool_idle, timeout=10_000)


def test_cancel_during_the_volume_pass_leaves_no_layer_and_no_thread(slab_viewer, translate_widget, qtbot):
    viewer, widget = slab_viewer, translate_widget
    threads_before = live_threads()
    type_number(qtbot, widget.batch_size, 1)
    widget.progressed.connect(lambda done, total: click(qtbot, widget.run_button) if done == 2 else None)

    assert run_by_click(qtbot, widget) == "cancelled"

    assert not results(viewer, "translation") and not results(viewer, "difference")
    done, total = map(int, re.match(r"Cancelled after (\d+) of (\d+) slices", widget.status.value).groups())
    assert 2 <= done < total
    qtbot.waitUntil(pool_idle, timeout=10_000)
    assert live_threads() <= threads_before
    assert widget.run_button.text == "Run" and widget.run_button.enabled


def test_closing_the_viewer_mid_job_stops_it_and_waits_for_its_thread(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(head((16, 64, 64)), name="head")
    widget = dock(viewer, qtbot, "Translate")
    choose(qtbot, widget.source, "head")
    type_number(qtbot, widget.batch_size, 1)
    threads_before = live_threads()
    done = []
    widget.progressed.connect(lambda d, total: done.append(d))
    click(qtbot, widget.run_button)
    worker = widget.worker
    qtbot.waitUntil(lambda: len(done) >= 2, timeout=TIMEOUT_MS)
    layers = viewer.layers

    viewer.close()

    # close() returned only after the job's thread ended: nothing runs on into the closed viewer.
    assert not worker.is_running and worker.abort_requested
    qtbot.wait(300)                  # let every queued worker signal arrive: none may touch the closed viewer
    assert not [layer for layer in layers if (layer.metadata.get(RESULT_KEY) or {}).get("role") == "translation"]
    qtbot.waitUntil(pool_idle, timeout=10_000)
    assert live_threads() <= threads_before


def test_engine_warning_shows_in_the_status_and_on_stderr(make_napari_viewer, qtbot, capfd):
    """A real CT file (pydicom's CT_small.dcm) given to the demo, trained on MR only."""
    from pydicom.data import get_testdata_file

    viewer = make_napari_viewer()
    viewer.open(get_testdata_file("CT_small.dcm"), plugin="napari-evai2i")
    widget = dock(viewer, qtbot, "Translate")
    (layer,) = viewer.layers
    choose(qtbot, widget.source, layer.name)
    choose(qtbot, widget.prompt.known, "T2W")
    warning = "a CT series given to model demo, which was trained on MR only"
    capfd.readouterr()

    for _ in range(2):               # every job shows it, not only the first of the session
        assert run_by_click(qtbot, widget) == "done"
        first, *rest = widget.status.value.split("\nWarning: ")
        assert first.startswith("Done: made ") and any(warning in line for line in rest)
        assert warning in capfd.readouterr().err


@pytest.mark.parametrize("button", ["render_button", "export_button"])
def test_closing_the_viewer_mid_prompt_explorer_job_leaves_no_layer_file_or_thread(make_napari_viewer, qtbot,
                                                                                  tmp_path, button):
    """A volume render, or a sweep whose GIF goes to tmp_path, stopped by closing the viewer."""
    from qtpy.QtWidgets import QLineEdit
    from user_actions import clear_and_type

    viewer = make_napari_viewer()
    viewer.add_image(head((32, 96, 96)), name="head")
    widget = dock(viewer, qtbot, "Prompt explorer")
    type_number(qtbot, widget.steps, 12)
    clear_and_type(qtbot, widget.gif_path.native.findChild(QLineEdit), str(tmp_path / "sweep.gif"))
    threads_before = live_threads()
    click(qtbot, getattr(widget, button))
    worker = widget._volume_worker if button == "render_button" else widget._sweep_worker
    qtbot.waitUntil(lambda: worker.is_running, timeout=TIMEOUT_MS)
    layers = viewer.layers

    viewer.close()

    assert not worker.is_running and worker.abort_requested
    qtbot.wait(300)
    assert not [layer for layer in layers if RESULT_KEY in layer.metadata], "nothing added to the closed viewer"
    assert not list(tmp_path.iterdir()), "no GIF, whole or partial, and no temporary file"
    qtbot.waitUntil(pool_idle, timeout=10_000)
    assert live_threads() <= threads_before


def test_prompt_explorer_reads_a_dask_layer_in_its_job_and_refuses_one_too_big(make_napari_viewer, qtbot):
    import dask.array as da

    volume = head((16, 64, 64))
    log = BlockLog()
    viewer = make_napari_viewer()
    viewer.add_image(lazy(volume, log), name="lazy head", contrast_limits=(0, 1000))
    widget = dock(viewer, qtbot, "Prompt explorer")
    choose(qtbot, widget.source, "lazy head")
    log.calls.clear()
    click(qtbot, widget.render_button)
    assert widget._volume_worker is not None, widget.status.value
    qtbot.waitUntil(lambda: widget._volume_worker is None, timeout=TIMEOUT_MS)     # finished: Render again
    assert widget.render_button.text == "Render volume at t"
    assert {call[1] for call in log.in_jobs()} == {(i, 0, 0) for i in range(4)}, "the job reads every block"
    outside = {call[1] for call in log.calls if call[0] != POOLED}
    assert len(outside) <= 1, f"the GUI thread reads at most the block on screen, read {sorted(outside)}"
    (rendered,) = [layer for layer in viewer.layers if RESULT_KEY in layer.metadata]
    assert rendered.data.shape == volume.shape and np.isfinite(rendered.data).all()

    huge = da.zeros((100_000, 512, 512), chunks=(1, 512, 512), dtype=np.float32).map_blocks(
        log, dtype=np.float32, meta=np.empty((0, 0, 0), np.float32))
    viewer.add_image(huge, name="huge", contrast_limits=(0, 1))
    choose(qtbot, widget.source, "huge")
    log.calls.clear()
    click(qtbot, widget.render_button)
    assert widget.status.value.startswith("Cannot render: translating 'huge' (100000x512x512) needs about")
    assert not log.in_jobs()
