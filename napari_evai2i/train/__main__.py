"""Headless training: ``python -m napari_evai2i.train --config CONFIG.yaml [key=value ...]``.

Single process or ``torchrun --nproc_per_node N -m napari_evai2i.train ...``; never
imports napari or Qt. Outputs in ``--out`` (default: the config's ``out``):
``model/`` (inference checkpoint), ``checkpoints/last/`` (resumable state),
``metrics.jsonl``, ``tensorboard/``, ``samples/latest.png``, ``train_config.yaml``.
"""

from __future__ import annotations

import argparse
import signal
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m napari_evai2i.train",
                                     description="Train EVA-I2I (DCLIP, then the generator).")
    parser.add_argument("--config", help="training recipe: a shipped one by name (demo, paper) or a YAML file")
    parser.add_argument("--stage", default="all", choices=("clip", "init", "finetune", "all"))
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last")
    parser.add_argument("--out", help="output folder (overrides the config's out)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="override any recipe key, e.g. init_steps=200 lr=3e-4")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .config import load_train_config
    from .trainer import Trainer

    try:
        overrides = list(args.overrides) + ([f"out={args.out}"] if args.out else [])
        cfg = load_train_config(args.config, overrides)
        trainer = Trainer(cfg)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # SIGTERM (a Stop button, a cluster pre-emption) ends cleanly with a checkpoint.
    signal.signal(signal.SIGTERM, lambda *_: trainer.stop())
    try:
        model_dir = trainer.run(args.stage, resume=args.resume)
    except KeyboardInterrupt:
        trainer.save_checkpoint()
        print("interrupted; state saved for --resume", file=sys.stderr)
        return 130
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        trainer.close()
    if trainer.is_main:
        print(model_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
