"""Digital building blocks per CMOS technology node: energy and area of arithmetic, SRAM, wires.

Reference point (45 nm, 0.9 V): M. Horowitz, "Computing's energy problem (and what we can do
about it)", ISSCC 2014, Fig. 1.1.9 (as reproduced by Sze et al., Proc. IEEE 105(12), 2017):
8-bit add 0.03 pJ, 8-bit multiply 0.2 pJ, 32-bit add 0.1 pJ, 16-bit float add 0.4 pJ and
multiply 1.1 pJ, 64-bit read of an 8 KB SRAM 10 pJ, a general-purpose instruction ~70 pJ of
overhead; areas 8-bit add 36 µm², 8-bit multiply 282 µm², 32-bit add 137 µm².

Other nodes scale with the first-order CMOS rule ``E ∝ C·V²`` with ``C ∝ L`` (the node) and
``A ∝ L²``: ``E(L, V) = E_45 · (L / 45 nm) · (V / 0.9 V)²``. Check against a second primary
point: Dally, Turakhia & Han (CACM 63(7), 2020) give a 14 nm 8-bit add of 10 fJ; the rule gives
7.4 fJ at 0.8 V. The feature size used for cell areas is NeuroSim's wire width per node
(DNN_NeuroSim V1.4 ``Param.cpp``: 14 nm → 32 nm, 45 nm → 80 nm, 130 nm → 175 nm …), with its cell
sizes: SRAM 10 F × 28 F, 1T1R non-volatile cell 4 F × 12 F.

Wires: capacitance ~0.2 fF/µm, nearly independent of the node (NeuroSim ``unitLengthWireCap``;
Dally et al., VLSI 2018: "≈ 200 fF/mm"); a random bit toggles half the time, so moving one bit
over a length ``l`` costs ``¼ · c · l · V²``. DRAM: 20 pJ/bit (Horowitz: 1.3–2.6 nJ per 64 bit),
independent of the logic node. Every value is in SI units (J, m², V). Sources and their
reliability are listed in ``docs/cost-model-sources.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE_NM, REFERENCE_V = 45.0, 0.9

# 45 nm / 0.9 V energies (J) and areas (m²), Horowitz ISSCC 2014
ADD8_J, MUL8_J, ADD32_J = 0.03e-12, 0.2e-12, 0.1e-12
FP16_FMA_J = 0.4e-12 + 1.1e-12  # FP16 add + multiply
SRAM_J_PER_BIT = 10e-12 / 64  # 64-bit read of an 8 KB SRAM
INSTRUCTION_J = 70e-12  # fetch/decode/control overhead of one instruction
ADD8_M2, MUL8_M2, ADD32_M2 = 36e-12, 282e-12, 137e-12

WIRE_F_PER_M = 0.2e-15 / 1e-6  # 0.2 fF/µm
DRAM_J_PER_BIT = 20e-12

# nominal core supply (V) and NeuroSim's feature size (wire width, m) per node (nm)
NODES: dict[int, tuple[float, float]] = {
    130: (1.2, 175e-9), 90: (1.0, 110e-9), 65: (1.0, 105e-9), 45: (0.9, 80e-9),
    40: (0.9, 80e-9), 32: (0.9, 56e-9), 28: (0.9, 56e-9), 22: (0.8, 40e-9),
    16: (0.8, 32e-9), 14: (0.8, 32e-9), 10: (0.75, 22e-9), 7: (0.7, 20e-9),
}
SRAM_CELL_F2 = 10 * 28
NVM_1T1R_F2 = 4 * 12


@dataclass(frozen=True)
class Technology:
    """Energies (J) and areas (m²) of digital blocks at one node and supply voltage.

    Example:
        >>> t = technology(14)
        >>> round(t.add8_j * 1e15, 1)       # fJ
        7.4
    """

    node_nm: float
    vdd: float
    feature_m: float

    @property
    def _e(self) -> float:
        return (self.node_nm / REFERENCE_NM) * (self.vdd / REFERENCE_V) ** 2

    @property
    def _a(self) -> float:
        return (self.node_nm / REFERENCE_NM) ** 2

    @property
    def add8_j(self) -> float:
        return ADD8_J * self._e

    @property
    def add32_j(self) -> float:
        return ADD32_J * self._e

    @property
    def mac8_j(self) -> float:
        """INT8 multiply with 32-bit accumulate."""
        return (MUL8_J + ADD32_J) * self._e

    @property
    def fp16_fma_j(self) -> float:
        return FP16_FMA_J * self._e

    @property
    def sram_j_per_bit(self) -> float:
        return SRAM_J_PER_BIT * self._e

    @property
    def control_j(self) -> float:
        """One controller step (instruction overhead)."""
        return INSTRUCTION_J * self._e

    @property
    def mac8_m2(self) -> float:
        return (MUL8_M2 + ADD32_M2) * self._a

    @property
    def add32_m2(self) -> float:
        return ADD32_M2 * self._a

    @property
    def sram_m2_per_bit(self) -> float:
        return SRAM_CELL_F2 * self.feature_m**2

    def wire_j_per_bit(self, length_m: float) -> float:
        """Moving one random bit over ``length_m`` of on-chip wire."""
        return 0.25 * WIRE_F_PER_M * length_m * self.vdd**2


def technology(node_nm: float | None, vdd: float | None = None) -> Technology:
    """The :class:`Technology` of a node (nearest tabulated node for its supply and feature
    size; 45 nm when ``node_nm`` is None), optionally at another supply ``vdd``."""
    node = REFERENCE_NM if node_nm is None else float(node_nm)
    if node <= 0:
        raise ValueError(f"node_nm must be positive, got {node_nm}")
    nearest = min(NODES, key=lambda n: abs(n - node))
    v, feature = NODES[nearest]
    return Technology(node, v if vdd is None else vdd, feature)
