// Package archtest holds the test that keeps ibuild's package dependencies
// pointing one way: cmd → builder → {sandbox, layers, registry}.
package archtest
