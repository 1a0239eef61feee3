"""Reference model implementations, one module per family (import the submodule you need,
e.g. ``from lessons.models.resnet import resnet18``)."""
