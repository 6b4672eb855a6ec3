"""`python -m serving.bundle`: put the registered model into BentoML's model store.

`bentoml build` (bentofile.yaml) then packs it into the bento, so the bento and the image
`bentoml containerize` makes from it serve that exact version without reaching MLflow.
"""

from __future__ import annotations

import argparse
import sys

from models.registry import BENTO_MODEL_NAME
from serving.config import ServingConfig
from serving.model_source import ModelLoadError, save_bento_model


def main(argv: list[str] | None = None) -> int:
    config = ServingConfig.from_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=config.model_uri, help="MLflow model URI.")
    parser.add_argument("--tracking-uri", default=config.tracking_uri, help="MLflow store.")
    args = parser.parse_args(argv)
    try:
        tag = save_bento_model(args.model, args.tracking_uri, BENTO_MODEL_NAME)
    except ModelLoadError as exc:
        print(f"Cannot bundle: {exc}", file=sys.stderr)
        return 1
    print(f"Saved {args.model} as BentoML model {tag}; now run `bentoml build`.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
