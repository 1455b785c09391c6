"""boardnet.nnue.features: NNUE feature blocks (one module per block) and ``get_feature_set(name)``."""

from boardnet.nnue.features.block import (
    BLOCKS,
    MASK32,
    MAX_ACTIVE,
    FeatureBlock,
    FeatureSet,
    check_feature_name,
    get_block,
    get_feature_set,
    layer_stack_bucket,
    plain_name,
)

__all__ = ["BLOCKS", "MASK32", "MAX_ACTIVE", "FeatureBlock", "FeatureSet", "check_feature_name", "get_block",
           "get_feature_set", "layer_stack_bucket", "plain_name"]
