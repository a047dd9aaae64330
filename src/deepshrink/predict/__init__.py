"""Inference: a trained model, its outputs for a batch of signals, and its decision on whole recordings.

Public API (imported lazily, so ``import deepshrink`` stays light)::

    from deepshrink.predict import load, predict_proba, predict_recording

    model = load("runs/demo")                                  # eval mode, from config.json + model.safetensors
    proba = predict_proba(model, x)                            # (N, K); the run's normalisation applied
    result = predict_recording(model, "motor.wav", hop=512)    # windows, probabilities, the decision

Modules: :mod:`.batch` (normalisation, logits, probabilities), :mod:`.loading` (``load``),
:mod:`.recording` (long signals cut into the model's window). Evaluating a run on its own test
data lives in :mod:`deepshrink.train.evaluation`: it rebuilds the run's data split.
"""

from __future__ import annotations

from deepshrink._lazy import lazy_exports

_EXPORTS = {
    "load": "deepshrink.predict.loading",
    "normalize_batch": "deepshrink.predict.batch",
    "predict_logits": "deepshrink.predict.batch",
    "predict_proba": "deepshrink.predict.batch",
    "predict_recording": "deepshrink.predict.recording",
    "read_recording": "deepshrink.predict.recording",
    "RecordingPrediction": "deepshrink.predict.recording",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
