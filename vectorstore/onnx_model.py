"""The bundled sentence-transformers model run by onnxruntime: exported once, offline, from its own weights.

The export (and the int8 variant) is written into a cache folder keyed by the model folder's weights, so a
changed model gets a new export; writes go to a temporary file renamed into place, so an interrupted
export leaves nothing half-written. Pooling follows the model's own 1_Pooling config (mean of the token
vectors under the attention mask), then L2 normalisation, as the sentence-transformers pipeline does.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def _weights_key(model_dir: Path) -> str:
    weights = sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.bin"))
    if not weights:
        raise ValueError(f"{model_dir} holds no model weights (*.safetensors or *.bin) to export to ONNX")
    stamp = ";".join(f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights)
    return hashlib.sha256(f"{model_dir.resolve()};{stamp}".encode()).hexdigest()[:16]


def _export(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    partial = target.with_suffix(".partial")
    # The TorchScript exporter (dynamo=False) needs neither onnxscript nor network access. Its tracer warns
    # that shape checks become constants; the axes above stay dynamic and the tests compare the vectors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(model),
            (sample, sample, torch.zeros_like(sample)),
            str(partial),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
    os.replace(partial, target)


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_suffix(".partial")
    quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8, per_channel=True)
    os.replace(partial, target)


def exported_model(model_dir: Path, int8: bool, cache_dir: Path) -> Path:
    """The ONNX file of `model_dir` (exported into `cache_dir` on first use), or its dynamically quantised
    int8 variant."""
    folder = cache_dir / f"{model_dir.name}-{_weights_key(model_dir)}"
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model.onnx"
    if not fp32.is_file():
        _export(model_dir, fp32)
    if not int8:
        return fp32
    quantized = folder / "model_qint8.onnx"
    if not quantized.is_file():
        _quantize(fp32, quantized)
    return quantized


class OnnxSentenceModel:
    """Tokenizer + ONNX transformer + mean pooling + normalisation of one sentence-transformers folder."""

    def __init__(self, model_dir: Path, int8: bool, cache_dir: Path):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.path = exported_model(model_dir, int8, cache_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_tokens = int(config.get("max_seq_length") or 512)
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError(
                f"{model_dir} pools other than by mean tokens; the ONNX embed backends support mean pooling only: "
                "set TRIALFINDER_EMBED_BACKEND=torch"
            )
        self.dim = int(json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["hidden_size"])
        options = ort.SessionOptions()
        # Spinning worker threads are what made torch queries take a second on a busy machine; don't spin.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit vectors of `texts`, batched by length (longest first, as sentence-transformers does)."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            positions = order[start : start + batch_size]
            tokens = self.tokenizer(
                [texts[i] for i in positions],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="np",
            )
            mask = tokens["attention_mask"].astype(np.int64)
            feeds = {
                "input_ids": tokens["input_ids"].astype(np.int64),
                "attention_mask": mask,
                "token_type_ids": tokens.get("token_type_ids", np.zeros_like(mask)).astype(np.int64),
            }
            hidden = self.session.run(["last_hidden_state"], feeds)[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[positions] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out
