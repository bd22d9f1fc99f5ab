"""The dispatch catalogue (派单目录) and the five-level territory, as versioned data.

Intake validates against it and dispatch routes with it; both read this one package, and
the catalogue version travels on every event so a case can say which rules it was routed by.
Standard library only.
"""

from .catalogue import Catalogue, Category, Department, load_catalogue
from .territory import GridPath, Territory, load_territory

__all__ = ["Catalogue", "Category", "Department", "GridPath", "Territory", "load_catalogue",
           "load_territory"]
