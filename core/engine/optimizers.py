"""SGD, Adam and AdamW for the training loop, without torch.optim.Optimizer's constructor.

Building any torch.optim.Optimizer imports torch._dynamo, the compiler: 1.4 s of a
run's start-up on 2 cores (of 3.6 s), for a run that compiles nothing. These keep
their state themselves and step through torch's own functional updates
(`torch.optim.sgd.sgd`, `torch.optim.adam.adam`), so the arithmetic, and the choice
of the for-each kernels, is the library's. They subclass Optimizer so that torch's
learning-rate schedulers (which check the type, read `param_groups` and `defaults`
and wrap `step`) drive them as they drive torch's own, and so that state_dict,
load_state_dict and the step hooks are Optimizer's own, on torch's state layout
(SGD's `momentum_buffer`; Adam's `step`, `exp_avg`, `exp_avg_sq`): every parameter
group steps, each with its own settings, and a closure is called as torch calls it.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict

import torch
from torch.optim.adam import adam
from torch.optim.sgd import sgd


class FunctionalOptimizer(torch.optim.Optimizer):
    """Parameters (or torch's list of group dicts); `step` hands each group's parameters
    that have a gradient to `update`. state_dict/load_state_dict, the step hooks and
    `closure` are torch.optim.Optimizer's own, on torch's state layout."""

    def __init__(self, params, **defaults):
        # Not Optimizer.__init__ (see the module's docstring): what it would set, by hand.
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks", "_optimizer_state_dict_pre_hooks",
                     "_optimizer_state_dict_post_hooks", "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            setattr(self, name, OrderedDict())
        params = list(params)
        for group in (params if params and isinstance(params[0], dict) else [{"params": params}]):
            self.add_param_group(dict(group))

    def add_param_group(self, param_group: dict) -> None:
        group = {**self.defaults, **param_group}
        group["params"] = [p for p in group["params"] if p.requires_grad] if not isinstance(
            group["params"], torch.Tensor) else [group["params"]]
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():  # torch wraps every subclass's step with the step hooks
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                if params:
                    self.update(group, params, [p.grad for p in params])
        return loss

    def update(self, group: dict, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        raise NotImplementedError


class SGD(FunctionalOptimizer):
    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def update(self, group, params, grads):
        # Read from the group on every step: a one-cycle schedule moves the momentum too.
        buffers = [self.state[p].get("momentum_buffer") for p in params]
        sgd(params, grads, buffers, weight_decay=group["weight_decay"], momentum=group["momentum"],
            lr=group["lr"], dampening=0.0, nesterov=group["nesterov"], maximize=False)
        if group["momentum"] != 0:
            for p, buffer in zip(params, buffers):  # the buffers sgd created on the first step
                self.state[p]["momentum_buffer"] = buffer


class Adam(FunctionalOptimizer):
    """Adam, or AdamW with `decoupled=True` (the weight decay applied to the weights, not the gradient)."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, decoupled: bool = False,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.decoupled = decoupled
        super().__init__(params, lr=lr, weight_decay=weight_decay, betas=betas, eps=eps)

    def update(self, group, params, grads):
        states = []
        for p in params:
            if not self.state[p]:  # as torch.optim.Adam starts a parameter's state
                self.state[p] = {"step": torch.tensor(0.0), "exp_avg": torch.zeros_like(p),
                                 "exp_avg_sq": torch.zeros_like(p)}
            states.append(self.state[p])
        beta1, beta2 = group["betas"]
        adam(params, grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], [],
             [s["step"] for s in states], decoupled_weight_decay=self.decoupled, amsgrad=False,
             beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
             maximize=False)
