"""The feed-forward layer stack (the review's Figure 1), shared by every system that builds one.

A feed-forward net computes, layer after layer, a weighted sum of the previous layer's
outputs followed by a non-linearity (Figure 1c):

    z_l = W_l y_{l-1} + b_l        y_l = f(z_l),   f in {ReLU, tanh, logistic}

and the last layer's outputs are class scores, trained with the cross-entropy loss
-log softmax(z_L)[target]. systems/mlp.py is this net as a system of its own; core/boltzmann.py
unrolls a deep belief net into it (logistic units initialised with the RBMs' weights) for
fine-tuning by backpropagation.

`init` picks He et al. 2015 (W ~ N(0, 2/fan_in), for ReLU), Glorot & Bengio 2010 (W ~ U(-a, a),
a = sqrt(6/(fan_in + fan_out)), for tanh and logistic), or torch's default
(U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
"""

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid}


class MLP(nn.Module):
    """Input (B, ...) pixels or features -> (B, num_classes) class scores.

    The layers are `net`, an nn.Sequential: Linear, activation[, Dropout] per hidden layer, then
    the output Linear (state_dict keys net.0.weight, net.0.bias, ...; run folders depend on them).
    `input_dropout` drops input pixels in training (Hinton et al. 2012 drop 20% of them); it sits
    outside `net`, so it has no state and leaves those keys as they are.
    """

    def __init__(self, in_features, num_classes, hidden=(128,), activation="relu", dropout=0.0, init="default",
                 input_dropout=0.0):
        super().__init__()
        self.drop_input = nn.Dropout(input_dropout) if input_dropout > 0 else nn.Identity()
        layers, width = [], in_features
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]  # y_l = f(W_l y_{l-1} + b_l)
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))  # z_L = W_L y_{L-1} + b_L: class scores
        self.net = nn.Sequential(*layers)
        if init != "default":
            for m in self.net:
                if isinstance(m, nn.Linear):
                    if init == "he":
                        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")  # N(0, 2 / fan_in)
                    else:
                        nn.init.xavier_uniform_(m.weight)  # U(-a, a), a = sqrt(6 / (fan_in + fan_out))
                    nn.init.zeros_(m.bias)

    @staticmethod
    def _inputs(x):
        if x.dtype == torch.uint8:  # pixels 0..255 -> [0, 1]
            x = x.float() / 255
        return x.flatten(1)  # (B, C, H, W) -> (B, C*H*W); float64 inputs stay float64

    def forward(self, x, y=None):
        z = self.net(self.drop_input(self._inputs(x)))  # (B, num_classes)
        loss = F.cross_entropy(z, y) if y is not None else None  # E = -log softmax(z)[y], batch mean
        return z, loss

    def linears(self):
        """The nn.Linear layers, bottom first (the last one is the output layer)."""
        return [m for m in self.net if isinstance(m, nn.Linear)]

    @torch.no_grad()
    def hidden_outputs(self, x):
        """[y_1, ..., y_{L-1}]: each hidden layer's outputs (B, width), after its non-linearity."""
        y, outs = self._inputs(x), []
        for m in self.net:
            y = m(y)
            if isinstance(m, tuple(ACTIVATIONS.values())):
                outs.append(y)
        return outs
