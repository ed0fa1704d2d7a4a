"""PyTorch interface: analog layers, ``convert`` and chip-instance operations."""

from .attention import AnalogMultiheadAttention
from .convert import CONVERTERS, ConversionReport, UnsupportedLayerError, convert
from .embedding import AnalogEmbedding
from .input_ranges import calibrate_input_ranges, set_input_range
from .layers import AnalogConv1d, AnalogConv2d, AnalogLayer, AnalogLinear, make_tile
from .lifecycle import (
    analog_tiles,
    drift,
    holding_state,
    new_read_window,
    program,
    set_noise_precision,
    set_noise_sampler,
)
from .recurrent import AnalogGRU, AnalogLSTM, AnalogRNN, AnalogRNNBase
from .registry import MatrixAdapter, register_layer, unregister_layer

__all__ = [
    "CONVERTERS",
    "AnalogConv1d",
    "AnalogConv2d",
    "AnalogEmbedding",
    "AnalogGRU",
    "AnalogLSTM",
    "AnalogLayer",
    "AnalogMultiheadAttention",
    "AnalogLinear",
    "AnalogRNN",
    "AnalogRNNBase",
    "ConversionReport",
    "MatrixAdapter",
    "UnsupportedLayerError",
    "analog_tiles",
    "calibrate_input_ranges",
    "convert",
    "drift",
    "holding_state",
    "make_tile",
    "new_read_window",
    "program",
    "register_layer",
    "set_input_range",
    "set_noise_precision",
    "set_noise_sampler",
    "unregister_layer",
]
