"""captioner: caption photos from the terminal with a CNN encoder and an attention LSTM decoder."""

__version__ = "0.1.0"
