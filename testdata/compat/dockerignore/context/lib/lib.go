package lib

// lib.go is a file of a test build context.
