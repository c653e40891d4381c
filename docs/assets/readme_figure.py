"""Draw ``docs/assets/curves.png``, the figure of the README and the home page.

Run from the repository root: ``python docs/assets/readme_figure.py``. It simulates the built-in
scenario (16 runs) and predicts it, and draws the two with prefdyn's own plotting helper; the
same inputs give the same file.
"""

from pathlib import Path

import prefdyn as pd

scenario = pd.load_scenario()
figure = pd.plot_curves(pd.simulate(scenario, runs=16, seed=0), pd.predict(scenario),
                        metrics=["accuracy", "margin"])
figure.savefig(Path(__file__).with_name("curves.png"), dpi=130, bbox_inches="tight",
               metadata={"Software": None})
