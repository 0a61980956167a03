package internal

// db.go is a file of a test build context.
