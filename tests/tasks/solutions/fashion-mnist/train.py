"""Fashion-MNIST: train a classifier of 28x28 grey clothing images, write test-set probabilities."""

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

# One thread: the convolutions scale poorly to 2 threads when other jobs share the 2 cores.
torch.set_num_threads(1)
torch.manual_seed(0)
np.random.seed(0)

NUM_CLASSES = 10
EPOCHS = 3
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
PIXEL_MEAN, PIXEL_STD = 0.286, 0.353  # over the training images


class Net(nn.Module):
    """A small CNN: two 5x5 convolution + batch-norm + max-pool stages, then two dense layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 5)
        self.bn2 = nn.BatchNorm2d(32)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, NUM_CLASSES)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))  # 28x28 -> 24x24 -> 12x12
        x = self.pool(F.relu(self.bn2(self.conv2(x))))  # 12x12 -> 8x8 -> 4x4
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def to_tensor(images):
    """uint8 (N, 28, 28) images as standardised float (N, 1, 28, 28) tensors."""
    pixels = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return (pixels - PIXEL_MEAN) / PIXEL_STD


def predict_proba(model, images, batch_size=1000):
    model.eval()
    with torch.no_grad():
        chunks = [
            F.softmax(model(images[i : i + batch_size]), dim=1)
            for i in range(0, len(images), batch_size)
        ]
    return torch.cat(chunks).numpy()


if __name__ == "__main__":
    train = np.load("data/train.npz")
    test = np.load("data/test.npz")
    images, labels = to_tensor(train["images"]), torch.from_numpy(train["labels"].astype(np.int64))

    # Hold out the last 2,000 training images to measure accuracy on.
    x_train, y_train = images[:-2000], labels[:-2000]
    x_valid, y_valid = images[-2000:], labels[-2000:]

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x_train))
        for start in range(0, len(x_train), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
        valid_accuracy = (predict_proba(model, x_valid).argmax(axis=1) == y_valid.numpy()).mean()
        print(
            f"epoch {epoch + 1}: loss {loss.item():.3f}, validation accuracy {valid_accuracy:.4f}"
        )

    # One row per test image: its id, then the probability of each of the 10 classes.
    probabilities = predict_proba(model, to_tensor(test["images"]))
    submission = pd.DataFrame(probabilities, columns=[str(c) for c in range(NUM_CLASSES)])
    submission.insert(0, "id", test["ids"])
    submission.to_csv("submission.csv", index=False)
