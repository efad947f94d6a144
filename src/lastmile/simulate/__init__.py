"""Digital twins of delivery days, for the demo, the tests and the benchmarks."""

from lastmile.simulate.scenario import CitySpec as CitySpec
from lastmile.simulate.scenario import city_day as city_day
from lastmile.simulate.scenario import random_matrix_problem as random_matrix_problem

__all__ = ["CitySpec", "city_day", "random_matrix_problem"]
