"""Network modules only (imports no other part of anomalens)."""

from .cae import BaselineCAE, EncoderOnly, InceptionCAE, InceptionLayer
from .wrn import WideResNet

__all__ = ["BaselineCAE", "EncoderOnly", "InceptionCAE", "InceptionLayer", "WideResNet"]
