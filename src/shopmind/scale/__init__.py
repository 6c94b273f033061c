"""Scale-out engines for catalog batch work (Ray) and shared storage helpers."""
