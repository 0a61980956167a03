#!/bin/sh
# A stand-in for the original install script: it installs nothing and says so.
echo "rethinkdb 0.2 would be installed here"
