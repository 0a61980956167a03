package main

// main.go is a file of a test build context.
