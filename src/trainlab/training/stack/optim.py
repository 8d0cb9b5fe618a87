"""One optimizer for a stack of M models: torch.optim's update, applied to all members in one set of ops.

Every parameter holds all members, ``[M, ...]``; member m has its own hyper-parameters (a float64 tensor ``[M]``
per name, broadcast as ``h.view(M, 1, ...)``) and its own step count, and gets exactly the update that
``torch.optim.<name>([p[m] for p in params], **settings[m])`` would give it (the formulas of torch's
single-tensor implementations). Options that change the algorithm's shape (nesterov, amsgrad, centered,
maximize, ...) are shared by all members.

A stack that shrinks (``trainlab.training.stack.stack_steps``) gathers the optimizer down to some
of its members (``gather_``: their hyper-parameters, step counts and moments, row for row), and
puts a shrunk optimizer's state back into a full-width one with ``scatter_state``.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor

from trainlab.training.stack.updates import SUPPORTED, UPDATES


class StackedOptimizer:
    """``torch.optim.<name>`` for M members at once; ``settings[m]`` are member m's keyword arguments.

    The numbers (lr, betas, eps, ...) may differ between members and live in :attr:`hyper` (edit those tensors
    in place to change them, e.g. for a schedule, then call :meth:`refresh`); every other option must be the
    same for all members.
    """

    def __init__(self, params: list[Tensor], name: str, settings: list[dict[str, Any]]) -> None:
        if name not in SUPPORTED:
            raise ValueError(f"optimizer {name!r} is not one of {SUPPORTED}")
        self.params, self.name, self.cls = list(params), name, getattr(torch.optim, name)
        self.M = m_count = self.params[0].shape[0]
        if any(not p.is_leaf or not p.requires_grad or p.shape[:1] != (m_count,) for p in self.params):
            raise ValueError(f"params must be leaf tensors with requires_grad, each of shape [{m_count}, ...]")
        if len(settings) != m_count:
            raise ValueError(f"settings: {len(settings)} dicts for {m_count} members")
        signature = inspect.signature(self.cls.__init__).parameters
        defaults = {k: v.default for k, v in signature.items() if k not in ("self", "params")}
        for m, member in enumerate(settings):
            unknown = set(member) - set(defaults)
            if unknown:
                raise ValueError(f"settings[{m}]: {sorted(unknown)} not options of torch.optim.{name}")
            self.cls([torch.zeros(1, requires_grad=True)], **member)  # torch's own checks of the values
        full = [{**defaults, **member} for member in settings]
        numeric = [k for k, v in defaults.items() if k == "betas" or type(v) in (int, float)]
        self.options = {k: full[0][k] for k in defaults if k not in numeric}
        for key in self.options:
            if any(f[key] != self.options[key] for f in full):
                raise ValueError(f"{key!r} must be the same for all members, got {[f[key] for f in full]}")
        self.options["decoupled"] = name == "AdamW" or bool(self.options.get("decoupled_weight_decay"))
        device = self.params[0].device
        columns = {k: [float(f[k]) if k != "betas" else tuple(map(float, f[k])) for f in full] for k in numeric}
        if "betas" in columns:
            betas = columns.pop("betas")
            columns.update(beta1=[b[0] for b in betas], beta2=[b[1] for b in betas])
        self._hyper = {k: torch.tensor(v, dtype=torch.float64, device=device) for k, v in columns.items()}
        self._steps = torch.zeros(m_count, dtype=torch.get_default_dtype(), device=device)
        self._uses = {k: any(v != 0 for v in col) for k, col in columns.items()}  # fixed at construction
        self.state = [self._new_state(p) for p in self.params]
        self.refresh()

    def _new_state(self, p: Tensor) -> dict[str, Tensor]:
        o, uses = self.options, self._uses
        keys = {
            "SGD": ("momentum_buffer",) if uses.get("momentum") else (),
            "Adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if o.get("amsgrad") else ("exp_avg", "exp_avg_sq"),
            "Adadelta": ("square_avg", "acc_delta"),
            "Adagrad": ("sum",),
            "RMSprop": ("square_avg",)
            + (("momentum_buffer",) if uses.get("momentum") else ())
            + (("grad_avg",) if o.get("centered") else ()),
        }[self.name.replace("AdamW", "Adam")]
        state = {k: torch.zeros_like(p) for k in keys}
        if self.name == "Adagrad":
            state["sum"] += self._view(self._hyper["initial_accumulator_value"].to(p.dtype), p)
        return state

    def _view(self, h: Tensor, p: Tensor) -> Tensor:
        return h.view(self.M, *[1] * (p.dim() - 1))

    @property
    def hyper(self) -> dict[str, Tensor]:
        """The per-member hyper-parameters, float64 tensors ``[M]`` (Adam's betas as "beta1" and "beta2")."""
        return self._hyper

    def refresh(self) -> None:
        """Call after editing :attr:`hyper` in place: the numbers derived from it are cached."""
        self._shaped: dict[tuple[torch.dtype, int], dict[str, Tensor]] = {}

    def _constants(self) -> dict[str, Tensor]:
        """The hyper-parameters and the numbers derived from them that do not change with the step."""
        h = dict(self._hyper)
        for k in ("beta1", "beta2", "rho", "alpha", "dampening"):
            if k in h:
                h[f"1-{k}"] = 1 - h[k]
        if "beta1" in h:
            h["1-lr*weight_decay"] = 1 - h["lr"] * h["weight_decay"]
        return h

    def _per_step(self, t: Tensor) -> dict[str, Tensor]:
        """The numbers that change with the step counts ``t`` (after this step)."""
        h = self._hyper
        if "beta1" in h:
            t = t.double()
            return {"lr/(1-beta1^t)": h["lr"] / (1 - h["beta1"] ** t), "sqrt(1-beta2^t)": (1 - h["beta2"] ** t).sqrt()}
        if "lr_decay" in h:
            return {"lr/(1+(t-1)*lr_decay)": h["lr"] / (1 + (t.double() - 1) * h["lr_decay"])}
        if self.name == "SGD":
            return {"first": t == 1}
        return {}

    def _broadcast(self, values: dict[str, Tensor], p: Tensor) -> dict[str, Tensor]:
        return {k: self._view(v if v.dtype == torch.bool else v.to(p.dtype), p) for k, v in values.items()}

    @torch.no_grad()
    def step(self, active: Tensor | None = None) -> None:
        """One update of every member (of those with ``active[m]``, a bool tensor [M], if given) from p.grad."""
        missing = [p.grad is None for p in self.params]
        if all(missing):
            return
        if any(missing):
            raise RuntimeError("StackedOptimizer.step: some params have a grad and some do not")
        t = self._steps + 1
        per_step = self._per_step(t)
        self._steps.copy_(t if active is None else torch.where(active, t, self._steps))
        # Broadcast to each (dtype, rank) of parameter: the constants once, the rest once per step.
        shaped: dict[tuple[torch.dtype, int], tuple[dict[str, Tensor], Tensor | None]] = {}
        for p, s in zip(self.params, self.state, strict=True):
            key = (p.dtype, p.dim())
            if key not in self._shaped:
                self._shaped[key] = self._broadcast(self._constants(), p)
            if key not in shaped:
                views = {**self._shaped[key], **self._broadcast(per_step, p)}
                shaped[key] = views, None if active is None else self._view(active, p)
            hp, act = shaped[key]
            g = -p.grad if self.options.get("maximize") else p.grad
            if self._uses["weight_decay"] and not self.options["decoupled"]:
                g = g.addcmul(p, hp["weight_decay"])

            def put(dst: Tensor, new: Tensor, act: Tensor | None = act) -> None:
                dst.copy_(new if act is None else torch.where(act, new, dst))

            UPDATES[self.name](p, g, s, hp, self.options, put)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def state_dict(self) -> dict[str, Any]:
        """A copy of the whole state: hyper-parameters, step counts, and each param's moments."""
        return {
            "name": self.name,
            "hyper": {k: v.clone() for k, v in self._hyper.items()},
            "steps": self._steps.clone(),
            "state": [{k: v.clone() for k, v in s.items()} for s in self.state],
        }

    @torch.no_grad()
    def gather_(self, rows: Tensor, params: list[Tensor]) -> None:
        """Keep only the members at ``rows`` (positions along the member axis), stepping
        ``params``, whose member axis holds those members in that order: each kept member's
        hyper-parameters, step count and moments are its own as before, so its next updates
        are those it would have had."""
        if any(p.shape[0] != len(rows) for p in params):
            raise ValueError(f"gather_: params must hold the {len(rows)} kept members")
        self.params, self.M = list(params), len(rows)
        self._hyper = {k: v[rows] for k, v in self._hyper.items()}
        self._steps = self._steps[rows]
        self.state = [{k: v[rows] for k, v in s.items()} for s in self.state]
        self.refresh()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        theirs = [sorted(s) for s in state["state"]]
        if state["name"] != self.name or sorted(state["hyper"]) != sorted(self._hyper):
            raise ValueError(f"state of a {state['name']} optimizer, this one is {self.name}")
        if theirs != [sorted(s) for s in self.state]:
            raise ValueError(f"state holds {theirs}, this optimizer {[sorted(s) for s in self.state]}")
        for k, v in self._hyper.items():
            v.copy_(state["hyper"][k])
        self.refresh()
        self._steps.copy_(state["steps"])
        for mine, saved in zip(self.state, state["state"], strict=True):
            for k, v in mine.items():
                v.copy_(saved[k])


def scatter_state(full: dict[str, Any], part: dict[str, Any], members: Tensor) -> dict[str, Any]:
    """A full-width ``state_dict`` (``full``'s, new tensors) whose rows ``members`` are those of
    ``part``, the state of the optimizer gathered down to ``members`` (indices into full's member
    axis): a shrunk optimizer's state in the form of the unshrunk one's."""

    def put(whole: Tensor, rows: Tensor) -> Tensor:
        return whole.index_copy(0, members.to(whole.device), rows.to(whole.device))

    return {
        "name": full["name"],
        "hyper": {k: put(v, part["hyper"][k]) for k, v in full["hyper"].items()},
        "steps": put(full["steps"], part["steps"]),
        "state": [{k: put(v, s[k]) for k, v in f.items()} for f, s in zip(full["state"], part["state"], strict=True)],
    }
