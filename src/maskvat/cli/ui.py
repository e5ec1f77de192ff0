"""``maskvat ui``: the workstation, a local web page (``maskvat.ui``; needs the ``ui`` extra).

Listens on 127.0.0.1 (this machine only) unless ``--host`` says otherwise; never shared or
tunnelled; works offline. The model is loaded before the page opens, so a bad ``--model`` is a
one-line error.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ui", help="the workstation: a local web page to generate, compare, edit and save sound for videos",
        description="The workstation: a local web page (gradio; pip install 'maskvat[ui]') to upload videos, "
        "generate candidates side by side, choose one, regenerate a time range of it, and save the sound and the "
        "video with it. Listens on 127.0.0.1 only unless --host is given.")
    p.add_argument("--model", default="lab", help="'lab' (shipped default), 'hits' (shipped demonstration weights for stick hits and scratches, trained on The Greatest Hits) or a model folder")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens the page to "
                        "the network)")
    p.add_argument("--device", default="cpu", help="where the model runs: cpu (default), cuda, cuda:1, mps")
    p.add_argument("--out", default=None, help="folder for the outputs (default: a new temporary folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from maskvat.errors import MaskvatError
    from maskvat.ui import require_gradio

    if not 1 <= args.port <= 65535:
        raise MaskvatError(f"--port must be between 1 and 65535, not {args.port}")
    require_gradio()
    from maskvat.ui.actions import Workstation

    station = Workstation(args.model, args.device, args.out)
    try:
        return _serve(station, args)
    finally:  # Ctrl-C, a bad model, a taken port: no empty temporary folder is left behind
        station.close()


def _serve(station, args: argparse.Namespace) -> int:
    from maskvat.errors import MaskvatError

    print(f"maskvat: loading the {args.model} model ...", file=sys.stderr, flush=True)
    station.pipeline()
    from maskvat.ui.app import serve

    try:
        page = serve(station, args.host, args.port, block=False)
    except OSError:  # the port is taken, or the address is not this machine's
        raise MaskvatError(f"cannot listen on {args.host}:{args.port}: the port is taken or the address is not "
                           "this machine's (pass another --port or --host)") from None
    local = args.host in ("127.0.0.1", "localhost", "::1")
    where = "this machine only" if local else f"open to the network on {args.host}"
    print(f"maskvat: the workstation is at http://{'localhost' if local else args.host}:{args.port}/ ({where}; "
          f"outputs in {station.out_dir}; Ctrl-C stops it)", file=sys.stderr, flush=True)
    page.block_thread()  # until Ctrl-C; then the server closes
    return 0
