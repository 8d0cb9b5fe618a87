"""torch.optim's six updates, for every member of a stack at once: weights ``[M, ...]``.

Each function updates one parameter ``p`` of all members from its gradient ``g``, its state
``s`` and the members' hyper-parameters ``h`` (each shaped ``[M, 1, ...]``, so member m's
row gets its own), with the shared options ``o``. ``put(dst, new)`` writes ``new`` into
``dst`` for the members that step (all of them, or those still training). The formulas are
those of torch's single-tensor implementations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

SUPPORTED = ("SGD", "Adam", "AdamW", "Adadelta", "Adagrad", "RMSprop")
Put = Callable[[Tensor, Tensor], None]  # put(dst, new): dst <- new for the members that step


def _sgd(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], o: dict[str, Any], put: Put) -> None:
    """b <- g on a member's first step, else momentum·b + (1 - dampening)·g;
    u = g + momentum·b (nesterov), b, or g where momentum = 0;  p <- p - lr·u."""
    if "momentum_buffer" in s:
        b = torch.where(h["first"], g, (s["momentum_buffer"] * h["momentum"]).addcmul_(g, h["1-dampening"]))
        put(s["momentum_buffer"], b)
        u = g.addcmul(b, h["momentum"]) if o["nesterov"] else b
        g = torch.where(h["momentum"] != 0, u, g)
    put(p, p.addcmul(g, h["lr"], value=-1))


def _adam(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], o: dict[str, Any], put: Put) -> None:
    """AdamW first decays p <- p·(1 - lr·weight_decay);  m <- lerp(m, g, 1 - beta1);
    v <- beta2·v + (1 - beta2)·g²;  v <- max(v_max, v) (amsgrad);
    p <- p - lr / (1 - beta1^t) · m / (sqrt(v) / sqrt(1 - beta2^t) + eps)."""
    decayed = p * h["1-lr*weight_decay"] if o["decoupled"] else p
    m = torch.lerp(s["exp_avg"], g, h["1-beta1"])
    v = (s["exp_avg_sq"] * h["beta2"]).addcmul_(g, g * h["1-beta2"])
    put(s["exp_avg"], m)
    put(s["exp_avg_sq"], v)
    if o["amsgrad"]:
        v = torch.maximum(s["max_exp_avg_sq"], v)
        put(s["max_exp_avg_sq"], v)
    denom = (v.sqrt() / h["sqrt(1-beta2^t)"]).add_(h["eps"])
    put(p, decayed.addcmul(m / denom, h["lr/(1-beta1^t)"], value=-1))


def _adadelta(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], o: dict[str, Any], put: Put) -> None:
    """a <- rho·a + (1 - rho)·g²;  d = sqrt(acc + eps) / sqrt(a + eps) · g;  acc <- rho·acc + (1 - rho)·d²;
    p <- p - lr·d."""
    a = (s["square_avg"] * h["rho"]).addcmul_(g, g * h["1-rho"])
    d = (s["acc_delta"] + h["eps"]).sqrt_().div_((a + h["eps"]).sqrt_()).mul_(g)
    put(s["square_avg"], a)
    put(s["acc_delta"], (s["acc_delta"] * h["rho"]).addcmul_(d, d * h["1-rho"]))
    put(p, p.addcmul(d, h["lr"], value=-1))


def _adagrad(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], o: dict[str, Any], put: Put) -> None:
    """sum <- sum + g²;  p <- p - lr / (1 + (t - 1)·lr_decay) · g / (sqrt(sum) + eps)."""
    total = s["sum"].addcmul(g, g)
    put(s["sum"], total)
    put(p, p.addcmul(g / total.sqrt().add_(h["eps"]), h["lr/(1+(t-1)*lr_decay)"], value=-1))


def _rmsprop(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], o: dict[str, Any], put: Put) -> None:
    """a <- alpha·a + (1 - alpha)·g²;  centered: ga <- lerp(ga, g, 1 - alpha), a' = a - ga², else a' = a;
    u = g / (sqrt(a') + eps);  b <- momentum·b + u and u = b (when momentum > 0);  p <- p - lr·u."""
    a = (s["square_avg"] * h["alpha"]).addcmul_(g, g * h["1-alpha"])
    put(s["square_avg"], a)
    if o["centered"]:
        ga = torch.lerp(s["grad_avg"], g, h["1-alpha"])
        put(s["grad_avg"], ga)
        a = a.addcmul(ga, ga, value=-1)
    u = g / a.sqrt().add_(h["eps"])
    if "momentum_buffer" in s:
        u = (s["momentum_buffer"] * h["momentum"]).add_(u)  # = u where momentum = 0
        put(s["momentum_buffer"], u)
    put(p, p.addcmul(u, h["lr"], value=-1))


UPDATES = {"SGD": _sgd, "Adam": _adam, "AdamW": _adam, "Adadelta": _adadelta, "Adagrad": _adagrad, "RMSprop": _rmsprop}
