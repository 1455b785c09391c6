"""boardnet.nnue.features: NNUE feature blocks (one module per block) and ``get_feature_set(name)``."""

from boardnet.nnue.features.block import BLOCKS, FeatureBlock, FeatureSet, get_block, get_feature_set

__all__ = ["BLOCKS", "FeatureBlock", "FeatureSet", "get_block", "get_feature_set"]
