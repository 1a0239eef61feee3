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
# # 项目模板：从数据到模型卡
#
# 每个阶段都以一个项目收尾，作品集里的项目也都可以按这个模板来写：**问题 → 数据划分 → 基线 →
# 模型与训练 → 在测试集上只评估一次 → 错误分析 → 模型卡**。这里用 scikit-learn 自带的 8×8
# 手写数字（1,797 张，离线可用）走完整个流程，几秒钟就能跑完。
#
# 本页是一个 Jupyter 笔记本（jupytext 的 `.py` 格式，保存在仓库的 `docs/projects/` 中），测试套件会
# 完整执行它。在本地可以用 `jupytext --to notebook` 把它转成 `.ipynb` 再打开。

# %%
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from lessons import save_figure, seed_everything
from lessons.datasets.images import load_digits, make_loaders, stratified_split
from lessons.metrics import accuracy, confusion_matrix
from lessons.models.mlp import MLP
from lessons.plot import plot_confusion_matrix, plot_history
from lessons.train import fit, predict

seed_everything(0)

# %% [markdown]
# ## 1. 数据划分
#
# 先把 20% 的数据作为**测试集**锁起来，直到最后才看；剩下的再分出 20% 作为**验证集**，用来挑选
# 模型和超参数。两次划分都按类别分层，保证每个数字的比例一致。

# %%
X_rest, X_test, y_rest, y_test = load_digits(flatten=True, test_size=0.2, seed=0)
X_train, X_val, y_train, y_val = stratified_split(X_rest, y_rest, test_size=0.2, seed=0)
print("train / val / test:", len(X_train), len(X_val), len(X_test))
assert (len(X_train), len(X_val), len(X_test)) == (1149, 288, 360)

# %% [markdown]
# ## 2. 基线
#
# 没有基线，就说不清模型到底好在哪里。最朴素的基线是"永远猜最多的那一类"，稍强一点的是逻辑回归。
# 神经网络要在验证集上明显超过它们，才值得它带来的复杂度。

# %%
majority = torch.bincount(y_train).argmax()
majority_acc = (y_val == majority).float().mean().item()
logreg = LogisticRegression(max_iter=2000).fit(X_train.numpy(), y_train.numpy())
logreg_acc = logreg.score(X_val.numpy(), y_val.numpy())
print(f"majority class: {majority_acc:.3f}   logistic regression: {logreg_acc:.3f}")
assert majority_acc < 0.15 < 0.9 < logreg_acc

# %% [markdown]
# ## 3. 模型与训练
#
# 一个两层隐藏层的 MLP，使用 AdamW 和少量 Dropout；`lessons.train.fit` 记录每个 epoch 的训练/验证
# 损失和准确率。
#
# ![训练曲线](../../figures/projects/digits-history.svg)

# %%
train_loader, val_loader = make_loaders(X_train, y_train, X_val, y_val, batch_size=64)
model = MLP(64, [128, 64], 10, dropout=0.1)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
history = fit(model, train_loader, optimizer, nn.CrossEntropyLoss(), epochs=30,
              val_loader=val_loader, metrics={"acc": accuracy})
save_figure(plot_history(history, metrics=("loss", "acc")), "projects/digits-history.svg")
print(f"best validation accuracy {max(history['val_acc']):.3f}")

# %% [markdown]
# ## 4. 在测试集上评估（只做一次）
#
# 选定模型后，才第一次碰测试集。如果根据测试集结果反复调参，测试集就变成了另一个验证集，报告的
# 数字也就不再可信。
#
# 结果值得如实记录：在这个小数据集上，MLP 的测试准确率和逻辑回归相差不到两个百分点（下面的
# `assert` 检查这一点）。图像只有 8×8、类别几乎线性可分，加深网络能带来的提升很有限。把这一点写进
# 模型卡，本身就是项目的一部分。

# %%
_, test_loader = make_loaders(X_train, y_train, X_test, y_test)
logits = predict(model, test_loader)
mlp_acc = accuracy(logits, y_test)
logreg_test_acc = logreg.score(X_test.numpy(), y_test.numpy())
print(f"test accuracy: MLP {mlp_acc:.3f}, logistic regression {logreg_test_acc:.3f}")
assert mlp_acc > 0.95 and abs(mlp_acc - logreg_test_acc) < 0.02

# %% [markdown]
# ## 5. 错误分析
#
# 混淆矩阵告诉我们模型把哪些数字混在一起。看最常见的错误，往往比看总准确率更能指出下一步该做什么：
# 补数据、做增强，还是换一个能利用空间结构的模型（见[阶段 5：CNN](../../phases/05-cnn/)）。
#
# ![混淆矩阵](../../figures/projects/digits-confusion.svg)

# %%
cm = confusion_matrix(logits.argmax(1), y_test, num_classes=10)
save_figure(plot_confusion_matrix(cm), "projects/digits-confusion.svg")
off_diagonal = cm - torch.diag(torch.diag(cm))
true_digit, predicted = divmod(int(off_diagonal.argmax()), 10)
print(f"most frequent mistake: {true_digit} read as {predicted} ({int(off_diagonal.max())} times)")
assert int(cm.sum()) == len(y_test) and int(cm.trace()) == round(mlp_acc * len(y_test))

# %% [markdown]
# ## 6. 模型卡
#
# 项目最后写一张简短的模型卡，放进作品集的 README：
#
# - **任务与数据**：8×8 灰度手写数字，10 类；1,149 / 288 / 360 张用于训练 / 验证 / 测试。
# - **结果**：测试准确率（上面打印的数字）与逻辑回归基线的对比。
# - **局限**：图像很小、书写者有限，换成真实场景的照片不能指望同样的准确率。
# - **复现**：随机种子、依赖版本和运行命令。
#
# 更多关于如何展示作品集的建议见[学习方法与作品集](../../plan/method/)。
