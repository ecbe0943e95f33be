#!/usr/bin/env python3
"""Schema-B configs for the golden legacy checkpoints (spec §0: the flat scalar config of ZAYA1-8B-legacy).

For every golden config in tests/data/golden/<name>/ that has legacy/ (written by make_golden.py, which also calls
the same writer when it regenerates everything) this writes <name>/legacy_b/config.json: the schema-B
translation of legacy/config.json (zaya_legacy.legacy_a_to_b).  The schema-B checkpoint is that config with the
unchanged legacy/model.safetensors (schema B uses the tensor names of schema A, spec §6.1), so no weights are
written; tests/test_schema_b.cpp assembles the directory.  No other file is touched.

Checks, per config:
  * legacy_b -> schema A (zaya_legacy.legacy_b_to_a) gives back legacy/config.json exactly;
  * the upstream model built from the schema-B config + legacy weights (official mapping, spec §6.3) gives
    bit-identical logits to native/ reloaded with the installed transformers, and matches the committed
    golden logits (written with transformers 5.23) to float rounding;
  * the independent float64 spec forward (zaya_legacy.legacy_forward) of the schema-B checkpoint reproduces the
    golden logits / logits_passthrough and both expert-choice tensors.

    python3 tools/reference/make_schema_b_golden.py [--root tests/data/golden]
"""
import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_golden as mg  # noqa: E402  (patches the upstream MoE forward with the skip-mode switch)
import safetensors  # noqa: E402
import safetensors.torch  # noqa: E402
import zaya_legacy  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "tests" / "data" / "golden"))
    a = ap.parse_args()
    for d in sorted(Path(a.root).iterdir()):
        if not (d / "legacy" / "config.json").exists():
            continue
        lcfg = json.loads((d / "legacy" / "config.json").read_text())
        bc = mg.write_legacy_b(d, lcfg)
        with safetensors.safe_open(str(d / "golden.safetensors"), "pt") as sf:
            g = {k: sf.get_tensor(k) for k in sf.keys()}
        ids = g["ids"].long()
        with torch.no_grad():
            ref, _, _ = mg.forward(mg.load_native(d / "native"), ids, "upstream")
            mg.same_logits(mg.load_legacy(d / "legacy", d / "legacy_b" / "config.json"), ref, ids,
                           f"{d.name}: schema-B config + legacy weights vs native")
            diff_golden = float((ref - g["logits"]).abs().max())
            assert diff_golden < 1e-4, f"{d.name}: native logits moved by {diff_golden} from the golden file"
            lsd = safetensors.torch.load_file(str(d / "legacy" / "model.safetensors"))
            worst = 0.0
            for mode, lkey, ckey in (("zero", "logits", "expert_choice"),
                                     ("passthrough", "logits_passthrough", "expert_choice_passthrough")):
                lg, ch = zaya_legacy.legacy_forward(zaya_legacy.legacy_b_to_a(bc), lsd, ids, skip_mode=mode)
                assert torch.equal(ch.int(), g[ckey]), f"{d.name}: independent forward ({mode}): routing differs"
                diff = float((lg - g[lkey].double()).abs().max())
                assert diff < 1e-3, f"{d.name}: independent forward ({mode}): max abs logit diff {diff}"
                worst = max(worst, diff)
        print(f"[{d.name}] legacy_b/config.json: {bc['num_hidden_layers']} layers, {bc['num_attention_heads']} "
              f"latent query heads x {bc['head_dim']}; upstream logits bit-identical to native/ (max |diff| to "
              f"the golden file {diff_golden:.2g}); fp64 spec forward max |dlogits| {worst:.2g}")


if __name__ == "__main__":
    main()
