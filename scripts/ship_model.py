"""Ship a pipeline folder (what `maskvat fit` or `Pipeline.save_pretrained` writes) as a named
model of the package: `maskvat generate --model NAME`, `maskvat.load("NAME")`.

    python scripts/ship_model.py MODEL NAME --note "what these weights are" [--summary "one line"] \
        [--assets DIR] [--budget-mb 60] [--replace]

Copies every component MODEL/model_index.json names (generator, codec, scav, encoders) into
ASSETS/NAME/ (default: the package's src/maskvat/assets), floating weights as fp16 (the codec
re-saved half, as the shipped lab codec is), with each component's config.json; writes
ASSETS/NAME/model_index.json (relative paths, the note) and adds NAME to ASSETS/index.json.
Refuses to overwrite an existing NAME unless --replace, and refuses when all shipped weights
together would exceed --budget-mb. Prints the size of what it wrote and the total.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPONENT_DIRS = {"generator": "model", "codec": "codec", "scav": "scav", "semantic": "semantic",
                  "sync": "sync_judge", "audio": "audio"}
INDEX_KEYS = {"sync": "sync_judge"}  # assets/index.json's name for a role's folder


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def half_safetensors(src: Path, dst: Path) -> None:
    """Copy a safetensors file with its floating tensors as fp16 (metadata kept)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), "pt") as f:
        meta = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    save_file(state, str(dst), metadata=meta)


def copy_component(role: str, src: Path, dst: Path) -> None:
    if role == "codec":
        from maskvat.codec.tokenizer import AudioTokenizer

        tok = AudioTokenizer.from_pretrained(src)
        tok.model.half()
        tok.save_pretrained(dst)
        return
    dst.mkdir(parents=True)
    for path in src.iterdir():
        if path.suffix == ".safetensors":
            half_safetensors(path, dst / path.name)
        elif path.is_file() and path.suffix in (".json", ".txt", ".md"):
            shutil.copy2(path, dst / path.name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("name")
    ap.add_argument("--note", required=True, help="what these weights are (stored in model_index.json)")
    ap.add_argument("--summary", default=None,
                    help="one line `maskvat generate --model NAME` prints as it loads them (Pipeline.summary)")
    ap.add_argument("--assets", default=str(ROOT / "src" / "maskvat" / "assets"))
    ap.add_argument("--budget-mb", type=float, default=60.0)
    ap.add_argument("--replace", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from maskvat.weights import pipeline_index

    model, assets = Path(args.model), Path(args.assets)
    index = pipeline_index(model)
    if index is None:
        raise SystemExit(f"{model}: no model_index.json (not a pipeline folder)")
    if args.name in ("lab", "shipped"):
        raise SystemExit(f"{args.name!r} is the default model's name")
    out = assets / args.name
    if out.exists():
        if not args.replace:
            raise SystemExit(f"{out} exists (pass --replace)")
        shutil.rmtree(out)
    shipped = json.loads((assets / "index.json").read_text())
    shipped.pop(args.name, None)
    own = {"_class_name": "maskvat.Pipeline", "_note": args.note}
    if args.summary:
        own["_summary"] = args.summary
    entry = {"pipeline": args.name}
    out.mkdir(parents=True)
    copied: dict[Path, str] = {}  # one folder serving two roles (a fit's semantic pair is also its audio encoder)
    try:
        for role, where in index.items():
            if role.startswith("_") or not isinstance(where, Path):
                continue
            sub = copied.get(where.resolve()) or COMPONENT_DIRS.get(role, role)
            if where.resolve() not in copied:
                copy_component(role, where, out / sub)
                copied[where.resolve()] = sub
            own[role] = sub
            entry[INDEX_KEYS.get(role, role)] = f"{args.name}/{sub}"
        (out / "model_index.json").write_text(json.dumps(own, indent=1) + "\n")
        total = folder_mb(assets)
        if total > args.budget_mb:
            raise SystemExit(f"all shipped weights would take {total:.1f} MB, over the {args.budget_mb:g} MB budget")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    shipped[args.name] = entry
    (assets / "index.json").write_text(json.dumps(shipped, indent=1) + "\n")
    print(f"{out}: {folder_mb(out):.1f} MB ({', '.join(sorted(k for k in own if not k.startswith('_')))}); "
          f"all shipped weights {folder_mb(assets):.1f} MB")


if __name__ == "__main__":
    main()
