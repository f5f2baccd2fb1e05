"""Model: the stacked-LSTM encoder-decoder and its inference views."""
