"""Datasets, protocols and image IO. Knows no method and no metric."""

from .datasets import DATASETS, Dataset, ImageSet, list_datasets, load_dataset
from .images import as_image_array, list_images, load_images, read_image
from .protocols import PROTOCOLS, Split, make_ood_split, make_split, protocol_classes
from .validation import check_images, to_float_nchw

__all__ = [
    "DATASETS", "Dataset", "ImageSet", "list_datasets", "load_dataset", "as_image_array", "list_images",
    "load_images", "read_image", "PROTOCOLS", "Split", "make_split", "make_ood_split", "protocol_classes", "check_images",
    "to_float_nchw",
]
