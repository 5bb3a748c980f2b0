import csv
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def relu(x):
    """Rectified linear unit: max(0, x), elementwise."""
    return np.maximum(0, x)


def add_padding(features_batch, pad_size, pad_value=0):
    """Pad the two spatial dimensions of a (batch, height, width, channels) array.

    The batch and channel dimensions are left untouched.
    """
    return np.pad(
        features_batch,
        pad_width=((0, 0), (pad_size, pad_size), (pad_size, pad_size), (0, 0)),
        mode="constant",
        constant_values=(pad_value, pad_value),
    )


class Conv2DLayer:
    """A 2-D convolution layer (channels last), written with plain loops."""

    def __init__(
        self, input_channels, num_filters, kernel_size, stride, padding, activation="relu"
    ):
        """
        input_channels: number of channels of the input feature maps
        num_filters: number of filters, i.e. channels of the output feature maps
        kernel_size: height and width of each (square) filter
        stride: step of the filter over the input, in pixels
        padding: zero padding added on every side of the input, in pixels
        activation: "relu", or None for a linear layer
        """
        # One (kernel_size, kernel_size, input_channels) filter per output channel.
        self.kernel_matrices = np.random.randn(
            kernel_size, kernel_size, input_channels, num_filters
        )
        self.biases = np.random.randn(1, 1, 1, num_filters)
        self.stride = stride
        self.padding = padding
        self.activation = activation

    def convolution_step(self, image_portion, kernel_matrix, bias):
        """Convolve one filter with one window of the input.

        image_portion: (kernel_size, kernel_size, input_channels) window of the input
        kernel_matrix: (kernel_size, kernel_size, input_channels) filter
        bias: scalar bias of that filter
        Returns a single number.
        """
        return np.sum(np.multiply(image_portion, kernel_matrix)) + bias

    def forward(self, features_batch):
        """Forward pass over a whole batch, vectorised with numpy (no Python loops).

        features_batch: (batch_size, height, width, input_channels) input
        Returns (batch_size, new_height, new_width, num_filters).
        """
        batch_size, h_old, w_old, num_features_old = features_batch.shape
        filter_size, _, _, num_of_filters_new = self.kernel_matrices.shape

        # Output size of a strided, padded convolution.
        h_new = (h_old + 2 * self.padding - filter_size) // self.stride + 1
        w_new = (w_old + 2 * self.padding - filter_size) // self.stride + 1

        padded_batch = add_padding(features_batch, self.padding)

        # Every filter-sized window of every image, as a view (no copy):
        # (batch, rows, cols, channels, filter_size, filter_size).
        windows = sliding_window_view(padded_batch, (filter_size, filter_size), axis=(1, 2))
        # Keep the windows the stride lands on: (batch, h_new, w_new, channels, k, k).
        windows = windows[:, :: self.stride, :: self.stride][:, :h_new, :w_new]

        # One multiply-and-sum per window and filter: contract the window's channel and
        # spatial axes with the kernel's (kernel axes are (k, k, channels, filters)).
        output = np.tensordot(windows, self.kernel_matrices, axes=([3, 4, 5], [2, 0, 1]))
        output = output + self.biases.reshape(num_of_filters_new)

        if self.activation == "relu":
            return relu(output)
        return output


if __name__ == "__main__":
    np.random.seed(0)

    batch_features = np.random.randn(32, 64, 64, 3)

    cnn = Conv2DLayer(3, 8, 3, 2, 2, "relu")

    start_time = time.time()
    pre_output = cnn.forward(batch_features)
    end_time = time.time()
    interval_time = end_time - start_time
    print(f"Output shape: {pre_output.shape}")
    print(f"Time taken for execution: {interval_time} s")

    # The run time is the number to beat; keep it in submission.csv.
    with open("submission.csv", "w", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow([interval_time])
