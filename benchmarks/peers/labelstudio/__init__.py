"""Label Studio, stock, beside Bastion (see run.py and README.md)."""
