"""SGD, Adam and AdamW for the training loop, without torch.optim.Optimizer's constructor.

Building any torch.optim.Optimizer imports torch._dynamo, the compiler: 1.4 s of a
run's start-up on 2 cores (of 3.6 s), for a run that compiles nothing. These keep
their state themselves and step through torch's own functional updates
(`torch.optim.sgd.sgd`, `torch.optim.adam.adam`), so the arithmetic, and the choice
of the for-each kernels, is the library's. They subclass Optimizer only so that
torch's learning-rate schedulers (which check the type, read `param_groups` and
`defaults` and wrap `step`) drive them as they drive torch's own.
"""

from __future__ import annotations

import torch
from torch.optim.adam import adam
from torch.optim.sgd import sgd


class FunctionalOptimizer(torch.optim.Optimizer):
    """One parameter group; `step` hands the parameters that have a gradient to `update`."""

    def __init__(self, params, **defaults):
        # Not Optimizer.__init__ (see the module's docstring): only what the schedulers read.
        self.defaults = defaults
        self.param_groups = [{"params": [p for p in params if p.requires_grad], **defaults}]
        self.state: dict = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self, closure=None) -> None:
        group = self.param_groups[0]
        params = [p for p in group["params"] if p.grad is not None]
        if params:
            self.update(group, params, [p.grad for p in params])

    def update(self, group: dict, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        raise NotImplementedError


class SGD(FunctionalOptimizer):
    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def update(self, group, params, grads):
        # Read from the group on every step: a one-cycle schedule moves the momentum too.
        buffers = [self.state.get(p) for p in params]
        sgd(params, grads, buffers, weight_decay=group["weight_decay"], momentum=group["momentum"],
            lr=group["lr"], dampening=0.0, nesterov=group["nesterov"], maximize=False)
        if group["momentum"] != 0:
            self.state.update(zip(params, buffers))  # the buffers sgd created on the first step


class Adam(FunctionalOptimizer):
    """Adam, or AdamW with `decoupled=True` (the weight decay applied to the weights, not the gradient)."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, decoupled: bool = False,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr=lr, weight_decay=weight_decay, betas=betas, eps=eps)
        self.decoupled = decoupled

    def update(self, group, params, grads):
        states = []
        for p in params:
            if p not in self.state:  # as torch.optim.Adam starts a parameter's state
                self.state[p] = {"step": torch.tensor(0.0), "exp_avg": torch.zeros_like(p),
                                 "exp_avg_sq": torch.zeros_like(p)}
            states.append(self.state[p])
        beta1, beta2 = group["betas"]
        adam(params, grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], [],
             [s["step"] for s in states], decoupled_weight_decay=self.decoupled, amsgrad=False,
             beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
             maximize=False)
