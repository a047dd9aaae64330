"""Rolling-bearing faults: slipping impulse trains at the defect frequency (Randall & Antoni 2011).

Impact k happens when the defect phase ``order * revolutions`` reaches ``k + phase0 + eps_k``
(eps_k a random slip of the rolling elements: cyclostationary, not periodic); the inner race
passes the load zone once per revolution and a ball once per cage revolution, which modulates
their impacts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepshrink.data.simulate.config import REFERENCE_SPEED_HZ, BearingFaults, BearingGeometry, level
from deepshrink.data.simulate.kinematics import impact_positions, impact_targets
from deepshrink.data.simulate.structure import Impacts


@dataclass(frozen=True)
class BearingFaultParams:
    """One recording's bearing fault: ``order`` impacts per shaft revolution (with the cage
    slip), ``cage_order`` cage revolutions per shaft revolution, ``amp`` the impact peak (g);
    the rest as in :class:`~deepshrink.data.simulate.config.BearingFaults`."""

    state: str
    order: float
    cage_order: float
    slip: float
    jitter: float
    amp: float
    mod_depth: float
    mod_phase: float
    phase0: float
    inner_contact_amp: float


def draw_bearing_fault(
    faults: BearingFaults, geometry: BearingGeometry, state: str, severity: float,
    speed_hz: float, load: float, rng: np.random.Generator,
) -> BearingFaultParams:
    u = rng.uniform
    v = speed_hz / REFERENCE_SPEED_HZ
    a_b = faults.impact_level * (0.5 + 0.5 * load) * v**1.5  # peak of an impact of strength 1
    orders = geometry.orders()
    slip = u(*faults.cage_slip)
    ftf = orders["ftf"] * (1 - slip)
    order = {
        "bearing_outer_race": geometry.n_elements * ftf,
        "bearing_inner_race": geometry.n_elements * (1 - ftf),
        "bearing_ball": 2 * orders["bsf"] * (1 - slip),
    }[state]
    return BearingFaultParams(
        state=state,
        order=order,
        cage_order=ftf,
        slip=slip,
        jitter=u(*faults.jitter),
        amp=level(faults.impact, severity) * a_b,
        mod_depth=u(*faults.load_zone_depth),
        mod_phase=u(0, 2 * np.pi),
        phase0=u(0.0, 1.0),
        inner_contact_amp=u(*faults.ball_inner_contact),
    )


def bearing_impacts(
    fault: BearingFaultParams, faults: BearingFaults, rev: np.ndarray, rng: np.random.Generator
) -> list[Impacts]:
    """The fault's impacts; a ball strikes the outer and the inner race in turn."""
    cyc = rev * fault.order
    tg = impact_targets(cyc, fault.phase0, fault.jitter, rng)
    idx = impact_positions(cyc, tg)
    amp = fault.amp * rng.uniform(*faults.impact_spread, tg.size)
    if fault.state == "bearing_outer_race":  # fixed in the load zone
        return [Impacts("outer_race", idx, amp)]
    ang = 2 * np.pi * rev[idx]
    if fault.state == "bearing_ball":
        ang = ang * fault.cage_order
    mu = fault.mod_depth
    amp = amp * (1 - mu + mu * 0.5 * (1 + np.cos(ang + fault.mod_phase)))
    if fault.state == "bearing_inner_race":
        return [Impacts("inner_race", idx, amp)]
    return [
        Impacts("outer_race", idx[0::2], amp[0::2]),
        Impacts("inner_race", idx[1::2], amp[1::2] * fault.inner_contact_amp),
    ]
