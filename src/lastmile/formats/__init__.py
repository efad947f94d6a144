"""Reading and writing problems and plans: VROOM JSON, Solomon, VRPLIB, GeoJSON.

Import the module of the format you need (``lastmile.formats.vroom`` ...).
"""
