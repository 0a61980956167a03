it
