"""Thermal and shot noise of the column currents, from physical constants.

* Johnson-Nyquist noise: every cell conductance ``G`` on a column contributes a current noise of
  power spectral density ``4 k_B T G``; integrated over the read-out bandwidth
  ``Δf = 1 / (2 t_int)`` of an integrate-and-dump read of duration ``t_int``, the column current
  has variance ``4 k_B T Δf sum_i G_ij`` (J. B. Johnson, Phys. Rev. 32, 97 (1928); H. Nyquist,
  Phys. Rev. 32, 110 (1928)). It does not depend on the input.
* Shot noise: a current ``I`` carried by independent discrete charges has PSD ``2 q |I|``
  (W. Schottky, Ann. Phys. 362, 541 (1918)); each cell's current ``|V_i| G_ij`` adds
  ``2 F q Δf |V_i| G_ij`` to the column variance, with ``F`` the Fano factor (``fano``). ``F = 1``
  (the default) is Schottky's Poisson limit, an assumption for every cell: correlated transport
  makes it sub-Poissonian (``F < 1``: about 1/3 in diffusive metallic wires, lower in
  few-channel point contacts such as narrow filaments; Ya. M. Blanter and M. Büttiker, Phys.
  Rep. 336, 1 (2000)), and trap-assisted transport can make it super-Poissonian.

Both add to the read-noise variance of the same column and are sampled with it (one normal number
per partial sum). SI units: K, s, S, A.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

K_B = 1.380649e-23  # J/K, Boltzmann constant (SI 2019, exact)
Q_E = 1.602176634e-19  # C, elementary charge (SI 2019, exact)


class CircuitNoise(BaseModel):
    """Thermal and shot noise switches and the read's integration time.

    Example:
        >>> CircuitNoise(thermal=True, integration_time=100e-9).bandwidth
        5000000.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    thermal: bool = Field(False, description="Johnson-Nyquist noise of the cell conductances")
    shot: bool = Field(False, description="shot noise of the cell currents")
    integration_time: float = Field(100e-9, gt=0, description="read integration time t_int (s)")
    fano: float = Field(1.0, ge=0, description="Fano factor F of the shot noise (1 = Poisson)")

    @property
    def any(self) -> bool:
        return self.thermal or self.shot

    @property
    def bandwidth(self) -> float:
        """Noise bandwidth (Hz) of an integration over ``integration_time``."""
        return 1.0 / (2.0 * self.integration_time)

    def thermal_variance_per_siemens(self, temperature_k: float) -> float:
        """Current variance (A^2) per siemens of conductance on a column."""
        return 4.0 * K_B * temperature_k * self.bandwidth if self.thermal else 0.0

    def shot_variance_per_ampere(self) -> float:
        """Current variance (A^2) per ampere of cell current: ``2 F q Δf``."""
        return 2.0 * self.fano * Q_E * self.bandwidth if self.shot else 0.0
