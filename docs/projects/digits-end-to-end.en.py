# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Project template: from data to a model card
#
# Every phase ends with a project, and every project in your portfolio can follow this template:
# **question → data split → baseline → model and training → one evaluation on the test set → error
# analysis → model card**. Here we walk through it on scikit-learn's 8×8 handwritten digits (1,797 images,
# available offline); it runs in seconds.
#
# This page is a Jupyter notebook. Its source is a jupytext `.py` in the repository's `docs/projects/`;
# `make refresh` runs it in a real Jupyter kernel and writes the outputs (numbers and figures) into the
# `.ipynb` beside it, which is what the site shows. The test suite runs every cell again and checks that it
# prints what the page shows: exactly, or within the tolerance that cell declares. To experiment locally,
# open the `.ipynb`.

# %%
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from lessons import seed_everything
from lessons.datasets.images import load_digits, make_loaders, stratified_split
from lessons.metrics import accuracy, confusion_matrix
from lessons.models.mlp import MLP
from lessons.plot import plot_confusion_matrix, plot_history
from lessons.train import fit, predict

_ = seed_everything(0)  # returns a torch.Generator; `_ =` keeps it off the page

# %% [markdown]
# ## 1. Splitting the data
#
# First lock away 20% of the data as the **test set**, untouched until the very end; then split 20% of
# the rest off as the **validation set** for choosing models and hyper-parameters. Both splits are
# stratified, so every digit keeps its share.

# %%
X_rest, X_test, y_rest, y_test = load_digits(flatten=True, test_size=0.2, seed=0)
X_train, X_val, y_train, y_val = stratified_split(X_rest, y_rest, test_size=0.2, seed=0)
print("train / val / test:", len(X_train), len(X_val), len(X_test))
assert (len(X_train), len(X_val), len(X_test)) == (1149, 288, 360)

# %% [markdown]
# ## 2. Baselines
#
# Without a baseline you cannot say what a model is good for. The plainest baseline always guesses the
# most common class; a stronger one is logistic regression. A neural network has to beat them clearly on
# the validation set to be worth its complexity.

# %%
majority = torch.bincount(y_train).argmax()
majority_acc = (y_val == majority).float().mean().item()
logreg = LogisticRegression(max_iter=2000).fit(X_train.numpy(), y_train.numpy())
logreg_acc = logreg.score(X_val.numpy(), y_val.numpy())
print(f"majority class: {majority_acc:.3f}   logistic regression: {logreg_acc:.3f}")
assert majority_acc < 0.15 < 0.9 < logreg_acc

# %% [markdown]
# ## 3. Model and training
#
# An MLP with two hidden layers, AdamW and a little dropout; `lessons.train.fit` records the training and
# validation loss and accuracy of every epoch, plotted below.
#
# The result depends on the random seed, and on the machine: PyTorch picks its kernels per CPU. Trained once
# with each of the seeds 0–9, the best validation accuracy lands between 0.972 and 0.979 (a spread of two
# of the 288 images), so the test only asks that a new run print a number within 0.01 of the one shown.

# %% tolerance="abs=0.01" alt="Training curves: training and validation loss (left) and accuracy (right) per epoch"
train_loader, val_loader = make_loaders(X_train, y_train, X_val, y_val, batch_size=64)
model = MLP(64, [128, 64], 10, dropout=0.1)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
history = fit(model, train_loader, optimizer, nn.CrossEntropyLoss(), epochs=30,
              val_loader=val_loader, metrics={"acc": accuracy})
fig = plot_history(history, metrics=("loss", "acc"))
print(f"best validation accuracy {max(history['val_acc']):.3f}")

# %% [markdown]
# ## 4. Evaluating on the test set (once)
#
# Only now, with the model chosen, do we touch the test set. Tune against test results again and again,
# and the test set becomes a second validation set: the number you report is no longer trustworthy.
#
# Record the result honestly: on this small data set the MLP's test accuracy lands within two points of
# logistic regression (the `assert` below checks it). With 8×8 images and nearly linearly separable
# classes, depth has little to add. Saying so in the model card is part of the project.
#
# Over the seeds 0–9 the MLP's test accuracy ranges from 0.961 to 0.972 (four of the 360 images), while logistic
# regression scores 0.964 every time; the test lets these numbers move by 0.015.

# %% tolerance="abs=0.015"
_, test_loader = make_loaders(X_train, y_train, X_test, y_test)
logits = predict(model, test_loader)
mlp_acc = accuracy(logits, y_test)
logreg_test_acc = logreg.score(X_test.numpy(), y_test.numpy())
print(f"test accuracy: MLP {mlp_acc:.3f}, logistic regression {logreg_test_acc:.3f}")
assert mlp_acc > 0.95 and abs(mlp_acc - logreg_test_acc) < 0.02

# %% [markdown]
# ## 5. Error analysis
#
# The confusion matrix shows which digits the model mixes up (rows: the true digit, columns: the
# prediction). Where the model goes wrong often says more about the next step than the overall accuracy:
# more data, augmentation, or a model that uses spatial structure (see [Phase 5: CNNs](../../phases/05-cnn/)).
# The cell also prints the recall of each digit: the share of its test images read correctly.
#
# Single mistakes move around: each digit has only 35–37 test images, and with another seed the most
# common mistake may change from "8 read as 1" to "4 read as 9". The pattern holds: over the seeds 0–9,
# 8 has the lowest recall seven times and shares the lowest twice (0.80–0.94), most often read as a 1;
# every other digit stays at 0.92 or above. No digit's recall moves by more than 0.08 from seed 0's, so the
# test allows 0.1.

# %% tolerance="abs=0.1" alt="Confusion matrix on the test set: rows are the true digits, columns the predicted ones"
cm = confusion_matrix(logits.argmax(1), y_test, num_classes=10)
recall = cm.diag() / cm.sum(1)  # rows of cm: the true digit
fig = plot_confusion_matrix(cm)
print("digit  " + " ".join(f"{digit:>4}" for digit in range(10)))
print("recall " + " ".join(f"{r:4.2f}" for r in recall.tolist()))
assert int(cm.sum()) == len(y_test) and int(cm.trace()) == round(mlp_acc * len(y_test))

# %% [markdown]
# ## 6. Model card
#
# Finish the project with a short model card in your portfolio's README:
#
# - **Task and data**: 8×8 grey-level handwritten digits, 10 classes; 1,149 / 288 / 360 images for
#   training / validation / test.
# - **Result**: the test accuracy printed in section 4, next to the logistic-regression baseline, with its
#   spread over seeds (0.961–0.972): a gap too small to call either model better.
# - **Known weaknesses**: the recall and confusion matrix of section 5; 8 is the digit most often misread.
# - **Limits**: tiny images and few writers; do not expect the same accuracy on real-world photos.
# - **Reproducing**: the random seed, the dependency versions and the command to run.
#
# More on presenting a portfolio in [Learning method and portfolio](../../plan/method/).
