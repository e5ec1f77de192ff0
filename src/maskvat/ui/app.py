"""The workstation's page (gradio Blocks): every callback is a thin wrapper over
``maskvat.ui.actions``, turning its one-line MaskvatErrors into messages on the page.

Local and offline: gradio's analytics are off (set before gradio is imported), the theme uses
the system's fonts (no font service is asked), nothing is shared or tunnelled, and ``serve``
binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import traceback
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: it reads this at import

import gradio as gr  # noqa: E402

from maskvat.errors import MaskvatError  # noqa: E402
from maskvat.media.formats import VIDEO_SUFFIXES  # noqa: E402
from maskvat.ui.actions import (  # noqa: E402
    MAX_CANDIDATES,
    SOUND_FORMATS,
    Settings,
    Workstation,
    check_video,
    take_seed,
)

THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "Consolas", "monospace"])
CSS = """
#status { min-height: 1.5em; }
footer { display: none !important; }
"""
MODEL_EVENTS = "model"  # the events that run the model share one queue slot: one at a time


def shown(fn):
    """``fn`` with its errors shown on the page as one line: a MaskvatError's message as it is;
    anything else (a bug) as its type and message, the traceback printed in the terminal only."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except MaskvatError as exc:
            raise gr.Error(plain_names(str(exc)), print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - a bug: one line on the page, the details in the terminal
            traceback.print_exc()
            line = str(exc).splitlines()[0] if str(exc) else ""
            raise gr.Error(f"unexpected error: {type(exc).__name__}: {line} (the terminal running maskvat ui "
                           "has the details)", print_exception=False) from None

    return wrapped


_UPLOADED = re.compile(r"(?:[^\s:]*/)?gradio/[0-9a-f]{16,}/")


def plain_names(message: str) -> str:
    """``message`` with the folders gradio keeps uploads in (TMP/gradio/HASH/) left out: the
    user knows the file by its name."""
    return _UPLOADED.sub("", message)


def refused_on_the_status_line(n_other: int):
    """For the take events (outputs: the state, the status line, then ``n_other`` more): a
    MaskvatError (a user's mistake) becomes a warning and the status line, leaving the rest of
    the page as it was (an error event would mark every output of the event "Error")."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapped(work, *args, **kwargs):
            try:
                return fn(work, *args, **kwargs)
            except MaskvatError as exc:
                message = plain_names(str(exc))
                gr.Warning(message)
                return (work, f"**Not done:** {message}", *[gr.update() for _ in range(n_other)])

        return shown(wrapped)

    return deco


def build(station: Workstation) -> gr.Blocks:
    """The page, for the models and output folder of ``station``."""

    def work_of(work):
        return work if work is not None else station.new_work()

    def slots(work, pictures: bool = False):
        """Updates for the candidate slots: each column, player and picture."""
        cands = work.candidates if work is not None else []
        cols, audios, pics = [], [], []
        for i in range(MAX_CANDIDATES):
            c = cands[i] if i < len(cands) else None
            cols.append(gr.update(visible=c is not None))
            audios.append(gr.update(value=str(c.sound) if c else None, label=c.label if c else None))
            pics.append(gr.update(value=str(c.picture) if c and c.picture else None))
        return cols, audios, pics

    def choice(work):
        cands = work.candidates if work is not None else []
        return gr.update(choices=[(f"Candidate {c.number}", c.number) for c in cands],
                         value=cands[0].number if cands else None)

    @shown
    def on_upload(files, work):
        paths = [str(f) for f in files or []]
        names = [(Path(p).name, p) for p in paths]
        return gr.update(choices=names, value=paths[0] if paths else None)

    @shown
    def on_clip(video, work):
        work = work_of(work)
        if not video:
            return work, "", *_flat(slots(None)), choice(None)
        try:
            duration = work.open(video)
        except MaskvatError as exc:
            gr.Warning(plain_names(str(exc)))
            return work, f"**{Path(video).name}**: {plain_names(str(exc))}", *_flat(slots(None)), choice(None)
        line = f"**{Path(video).name}**: {duration:.2f} s. Press Generate."
        return work, line, *_flat(slots(work)), choice(work)

    take_event = refused_on_the_status_line(3 * MAX_CANDIDATES + 3)  # the slots, the choice, the saved files

    @take_event
    def on_generate(work, video, model, n, steps, guidance, diversity, beams, seed,
                    progress=gr.Progress(track_tqdm=True)):
        work = work_of(work)
        settings = Settings.from_page(steps, guidance, diversity, beams, seed, n)
        work.open(video)
        progress(0.0, desc="loading the model")
        station.pipeline(model, settings.beams)
        progress(0.05, desc="sampling")
        cands = station.generate(work, video, settings, model, progress=True)
        line = (f"**{work.video.name}**: take {work.takes}, {len(cands)} candidate{'s' if len(cands) > 1 else ''} "
                f"(seed {settings.seed}, {settings.steps} steps). Choose one; regenerate a range or save it.")
        return work, line, *_flat(slots(work)), choice(work), None, None

    @take_event
    def on_regenerate(work, chosen, ranges, model, n, steps, guidance, diversity, beams, seed,
                      progress=gr.Progress(track_tqdm=True)):
        work = work_of(work)
        settings = Settings.from_page(steps, guidance, diversity, beams, seed, n)
        progress(0.0, desc="loading the model")
        station.pipeline(model, settings.beams)
        progress(0.05, desc="sampling the range")
        cands = station.regenerate(work, chosen, ranges, settings, model, progress=True)
        spans = ", ".join(f"{a:g}-{b:g} s" for a, b in cands[0].ranges)
        line = (f"**{work.video.name}**: take {work.takes}, {len(cands)} variation{'s' if len(cands) > 1 else ''} of "
                f"{spans} in {cands[0].parent} (seed {take_seed(settings.seed, work.takes)}); the rest of that "
                "candidate is kept.")
        return work, line, *_flat(slots(work)), choice(work), None, None

    @shown
    def on_pictures(work):
        if work is None:
            return [gr.update() for _ in range(MAX_CANDIDATES)]
        for c in work.candidates:
            station.draw(work, c)
        return slots(work)[2]

    @shown
    def on_export(work, chosen, audio_format):
        if work is None:
            raise MaskvatError("generate candidates first")
        sound, muxed = station.export(work, chosen, audio_format)
        return [str(sound), str(muxed)], str(muxed)

    @shown
    def on_queue(files, model, steps, guidance, diversity, beams, seed, audio_format,
                 progress=gr.Progress(track_tqdm=True)):
        settings = Settings.from_page(steps, guidance, diversity, beams, seed, 1)
        rows = station.generate_all([str(f) for f in files or []], settings, model, audio_format,
                                    on_each=lambda i, n, name: progress(i / n, desc=f"{name} ({i + 1} of {n})"))
        table = [[clip, sound.name if sound else "", muxed.name if muxed else "", plain_names(problem)]
                 for clip, sound, muxed, problem in rows]
        paths = [str(p) for _, sound, muxed, _ in rows for p in (sound, muxed) if p]
        return table, paths or None

    with gr.Blocks(title="maskvat workstation", theme=THEME, css=CSS, analytics_enabled=False) as page:
        work = gr.State(None)
        lab = "" if station.model not in ("lab", "shipped") else (
            " The shipped *lab* model was trained on synthetic lab scenes only (balls, drums, bars, fans, taps): "
            "it makes lab-like sounds.")
        gr.Markdown(f"## maskvat workstation\nUpload videos, generate candidates, keep the one you like and "
                    f"regenerate only the seconds that need it.{lab}")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                files = gr.File(label="Videos", file_count="multiple", file_types=sorted(VIDEO_SUFFIXES),
                                elem_id="videos")
                clip = gr.Dropdown(label="Clip", choices=[], elem_id="clip", interactive=True)
                with gr.Accordion("Settings (the paper's defaults)", open=True):
                    model = gr.Textbox(value=station.model, label="Model: 'lab', 'hits' or a model folder", elem_id="model")
                    n = gr.Number(value=2, precision=0, minimum=1, maximum=MAX_CANDIDATES, label="Candidates",
                                  elem_id="candidates")
                    steps = gr.Number(value=32, precision=0, minimum=1, maximum=256, label="Steps N",
                                      elem_id="steps")
                    guidance = gr.Number(value=3.0, minimum=0, label="Guidance γ", elem_id="guidance")
                    diversity = gr.Number(value=8.0, minimum=0, label="Diversity δ", elem_id="diversity")
                    beams = gr.Number(value=1, precision=0, minimum=1, maximum=64,
                                      label="Beams (SCAV keeps the best of each candidate's)", elem_id="beams")
                    seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="seed")
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=3):
                status = gr.Markdown(elem_id="status")
                cols, audios, pics = [], [], []
                with gr.Row(equal_height=False):
                    for i in range(MAX_CANDIDATES):
                        with gr.Column(visible=False, min_width=240, elem_id=f"candidate{i + 1}") as col:
                            audios.append(gr.Audio(type="filepath", interactive=False, elem_id=f"audio{i + 1}",
                                                   show_download_button=False))
                            pics.append(gr.Image(type="filepath", interactive=False, show_label=False,
                                                 elem_id=f"picture{i + 1}", show_download_button=False))
                        cols.append(col)
                chosen = gr.Radio(choices=[], label="Chosen candidate", elem_id="chosen")
                with gr.Row(equal_height=True):
                    ranges = gr.Textbox(label="Range to regenerate (seconds on the clip, START-END; several: 1-2, 3-3.5)",
                                        placeholder="1.0-2.0", elem_id="range", scale=3)
                    regenerate = gr.Button("Regenerate range", elem_id="regenerate", scale=1)
                with gr.Row(equal_height=True):
                    audio_format = gr.Radio(list(SOUND_FORMATS), value="wav", label="Sound file", elem_id="format",
                                            scale=1)
                    save = gr.Button("Save chosen (sound + video)", elem_id="save", scale=1)
                downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")
                muxed = gr.Video(label="The clip with the chosen sound", interactive=False, elem_id="muxed")
        with gr.Accordion("Queue: one candidate for every uploaded clip, saved", open=False, elem_id="queue-panel"):
            run_all = gr.Button("Generate every clip", elem_id="queue")
            table = gr.Dataframe(headers=["clip", "sound", "video", "problem"], interactive=False, wrap=True,
                                 column_widths=["18%", "18%", "22%", "42%"], elem_id="table")
            queue_files = gr.File(label="Queue downloads", file_count="multiple", interactive=False,
                                  elem_id="queue-downloads")

        shown_slots = [*cols, *audios, *pics]
        files.change(on_upload, [files, work], [clip])
        clip.change(on_clip, [clip, work], [work, status, *shown_slots, chosen])
        settings = [model, n, steps, guidance, diversity, beams, seed]
        take_outputs = [work, status, *shown_slots, chosen, downloads, muxed]  # a new take clears the saved files
        generate.click(on_generate, [work, clip, *settings], take_outputs,
                       concurrency_id=MODEL_EVENTS, concurrency_limit=1).then(on_pictures, [work], pics)
        regenerate.click(on_regenerate, [work, chosen, ranges, *settings], take_outputs,
                         concurrency_id=MODEL_EVENTS, concurrency_limit=1).then(on_pictures, [work], pics)
        save.click(on_export, [work, chosen, audio_format], [downloads, muxed])
        run_all.click(on_queue, [files, model, steps, guidance, diversity, beams, seed, audio_format],
                      [table, queue_files], concurrency_id=MODEL_EVENTS, concurrency_limit=1)
    return page


def _flat(parts):
    return [x for part in parts for x in part]


def warm_up() -> None:
    """Import the pictures' onset detector and compile its JIT code once (about 15 s of CPU), in the
    background while the page waits for its first clip, so the first pictures do not wait for it."""
    try:
        import numpy as np

        from maskvat.evaluation.alignment import onset_track

        onset_track((np.random.default_rng(0).standard_normal(22050) * 0.1).astype(np.float32), 44100)
    except Exception:  # noqa: BLE001 - only a head start: drawing does the same work when asked
        pass


def keep_page_local() -> None:
    """Drop the one thing gradio's page fetches from another host: the iframe-resizer script it
    loads from a CDN (for pages embedded in iframes on hosted sites; of no use here). Gradio 5's
    page template is served from this dictionary instead of its file, without that tag."""
    import re

    import jinja2
    from gradio import routes

    env = routes.templates.env
    name = "frontend/index.html"
    source = env.loader.get_source(env, name)[0]
    cleaned = re.sub(r"<script\s+src=\"https?://[^\"]+\"[^>]*>\s*</script>", "", source)
    if cleaned != source:
        env.loader = jinja2.ChoiceLoader([jinja2.DictLoader({name: cleaned}), env.loader])
        if env.cache is not None:
            env.cache.clear()


def serve(station: Workstation, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True):
    """Start the page at http://HOST:PORT/ (never shared or tunnelled); returns the gradio app
    (``block=False``: at once, the server running in a thread; ``page.close()`` stops it)."""
    page = build(station)
    keep_page_local()
    threading.Thread(target=warm_up, daemon=True, name="maskvat-ui-warm-up").start()
    page.queue(default_concurrency_limit=1)
    page.launch(server_name=host, server_port=port, share=False, inbrowser=False, show_api=False, quiet=True,
                allowed_paths=[str(station.out_dir)], prevent_thread_lock=not block, show_error=False,
                favicon_path=None)
    return page


__all__ = ["build", "check_video", "serve", "shown"]
