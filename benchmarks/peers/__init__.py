"""Side-by-side runs against other labelling tools, installed apart and never committed."""
