"""Physics-based drivetrain vibration simulator: the embedded default dataset of deepshrink.

The paper (Zhao et al., 2020) trained on a private drivetrain rig: a motor, a gearbox train and
a magnetic brake, one accelerometer sampled at 12,800 Hz, 8 health states, 3 shaft speeds
(20/30/40 Hz) x 3 loads, 400 observations of 2,048 points per state and condition. This
package builds a stand-in from textbook vibration models (McFadden 1986 for gears; Randall &
Antoni 2011 for rolling bearings) so that the whole study can run without the private data.
docs/simulator.md describes the physics, every parameter and the measured difficulty.

Quick use::

    from deepshrink.data.simulate import simulate_drivetrain
    ds = simulate_drivetrain(seed=0)           # 28,800 windows of 2,048 points, 8 classes

Everything is deterministic from ``seed``; each recording has its own generator
(:func:`recording_rng`). The machine is a :class:`Drivetrain` of frozen dataclasses
(:data:`DRIVETRAIN` by default); pass another as ``machine=``.

Modules, one concern each: ``config`` (the parameters), ``kinematics`` (shaft angle, impact
timing), ``gear``, ``bearing``, ``structure`` (modes and transfer paths), ``background``,
``sensor``, ``recording`` (drawing and assembling one recording), ``dataset`` (windows).
"""

from types import MappingProxyType

from deepshrink.data.simulate.config import (
    DRIVETRAIN,
    HEALTH_STATES,
    Background,
    BearingFaults,
    BearingGeometry,
    Drivetrain,
    Gearbox,
    GearFaults,
    ModeBand,
    Paths,
    Range,
    Sensor,
    Structure,
    ToothFault,
)
from deepshrink.data.simulate.dataset import recording_rng, simulate_drivetrain
from deepshrink.data.simulate.recording import RecordingParams, simulate_recording

__all__ = [
    "BEARING",
    "BEARING_IMPACT_LEVEL",
    "DRIVETRAIN",
    "FAULT_RANGES",
    "GEAR_IMPACT_LEVEL",
    "GEAR_TEETH",
    "HEALTH_STATES",
    "PINION_TEETH",
    "RESONANCE_BANDS_HZ",
    "STAGE2_PINION_TEETH",
    "Background",
    "BearingFaults",
    "BearingGeometry",
    "Drivetrain",
    "GearFaults",
    "Gearbox",
    "ModeBand",
    "Paths",
    "Range",
    "RecordingParams",
    "Sensor",
    "Structure",
    "ToothFault",
    "recording_rng",
    "simulate_drivetrain",
    "simulate_recording",
]

# The default machine's numbers under their earlier names (read from DRIVETRAIN, not declared
# again; a machine passed as ``machine=`` is not reflected here).
BEARING = DRIVETRAIN.bearing
"""ER-16K deep-groove ball bearing on the input shaft (SpectraQuest rigs)."""
PINION_TEETH = DRIVETRAIN.gearbox.pinion_teeth
GEAR_TEETH = DRIVETRAIN.gearbox.gear_teeth
STAGE2_PINION_TEETH = DRIVETRAIN.gearbox.stage2_pinion_teeth
BEARING_IMPACT_LEVEL = DRIVETRAIN.bearing_faults.impact_level
GEAR_IMPACT_LEVEL = DRIVETRAIN.gear_faults.impact_level
RESONANCE_BANDS_HZ = MappingProxyType({m.name: m.freq_hz for m in DRIVETRAIN.structure.modes})
FAULT_RANGES = MappingProxyType({
    "bearing": MappingProxyType({"impact": DRIVETRAIN.bearing_faults.impact}),
    **{
        state: MappingProxyType(vars(DRIVETRAIN.gear_faults.levels(state)))
        for state in HEALTH_STATES
        if state.startswith("gear_")
    },
})
