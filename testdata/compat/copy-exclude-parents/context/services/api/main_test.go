package main

// main_test.go is a file of a test build context.
