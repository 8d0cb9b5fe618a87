"""What a stack of M members adds: weights ``[M, ...]``, an optimizer with per-member
hyper-parameters, a memory estimate, and one member's share of a stack's checkpoint."""
