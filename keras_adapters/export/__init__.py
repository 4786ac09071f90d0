"""Export for TF Serving: classifiers and causal LMs as self-contained TensorFlow SavedModels.

TensorFlow-only: the SavedModel graph tokenises raw strings with the model's
KerasHub preprocessor (TensorFlow Text ops) and needs the TensorFlow backend.
"""

from keras_adapters.export.add_to_adapter_bank import add_to_adapter_bank
from keras_adapters.export.export_adapter_bank import export_adapter_bank
from keras_adapters.export.export_causal_lm import export_causal_lm
from keras_adapters.export.export_text_classifier import export_text_classifier
from keras_adapters.export.verified_outputs import VerifiedOutputs
from keras_adapters.export.verify_saved_model import call_saved_model, verify_saved_model
