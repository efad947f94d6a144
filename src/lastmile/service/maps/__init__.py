"""Maps that work offline: the roads of the loaded road network as a base layer
(``GET /map/roads``) and the lines routes drive (``GET /plans/{id}/geometry``,
``GET /routes/{id}/geometry``), as GeoJSON."""
