"""Network modules only (imports no other part of anomalens)."""

from .cae import BaselineCAE, EncoderOnly, InceptionCAE, InceptionLayer, SVDDCAE
from .dcgan import DCGAN, DCGANAutoencoder, DCGANDecoder, DCGANEncoder, GANomalyNet
from .efficientnet import EfficientNetLite0
from .inspection import KDCAE, NICAE, SupervisedCNN
from .realnvp import RealNVP
from .resnet import ResNet50
from .vgg import VGG19
from .wrn import WideResNet

__all__ = [
    "BaselineCAE", "EncoderOnly", "InceptionCAE", "InceptionLayer", "SVDDCAE", "WideResNet",
    "DCGANAutoencoder", "DCGANDecoder", "DCGANEncoder", "GANomalyNet", "RealNVP",
    "DCGAN", "KDCAE", "NICAE", "SupervisedCNN", "VGG19", "EfficientNetLite0", "ResNet50",
]
