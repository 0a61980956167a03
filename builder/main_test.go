package builder

import (
	"os"
	"testing"

	"github.com/ibuild/ibuild/builder/sandbox"
)

// TestMain lets the test binary serve as the sandbox's child process: RUN
// steps re-execute the running binary, which must then do the child's work
// instead of running the tests again.
func TestMain(m *testing.M) {
	sandbox.Main()
	os.Exit(m.Run())
}
