"""TinyMetaFed (Ren et al.): TinyReptile plus communication savings —

* partial local reconstruction: the parameters named in ``local_params`` never leave
  the device; it rebuilds them from zero each round (``FederatedClient``);
* top-P% selective upload of the largest changes, int8 on the wire both ways;
* Reptile-style server step on the shared part only: θ ← θ + β · Δ (sparse Δ: the
  untransmitted entries are "no change")."""
from __future__ import annotations

from cloud_sync.fl.reptile import Reptile


class TinyMetaFed(Reptile):
    name = "tinymetafed"
    defaults = {"clients_per_round": 1, "batch_size": 1, "beta": 1.0, "beta_final": 0.0,
                "quantise_download": True, "quantise_upload": True, "top_p": 10.0}

    def adopt_experiment_defaults(self, local_params: tuple[str, ...]) -> None:
        """Use the experiment's device-local layers unless the caller named some."""
        if not self.config.local_params:
            self.config.local_params = tuple(local_params)
