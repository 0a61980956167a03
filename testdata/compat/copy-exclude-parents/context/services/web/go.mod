m2
